// Engine facts become app machine events: container start/die/oom/destroy/
// health, and the engine going away and coming back.
//
// dockerd forgets its events across a restart, so after an outage the
// watcher's fresh container list is compared with what each app believes:
// an app RUNNING whose container vanished gets CONTAINER_GONE, one whose
// container is no longer running gets CONTAINER_DIED. An operation that fails
// because the engine is unreachable makes its app wait (ENGINE_DOWN) even when
// the event stream did not notice; a ping loop then says ENGINE_UP.

import type { Json } from '../actors/types.js';
import { appActorId } from '../machines/app.js';
import type { DockerEngine } from '../adapters/docker/engine.js';
import type { EngineEvent, EngineStateChange, EventWatcher, WatchOptions } from '../adapters/docker/engine-events.js';
import type { EngineLogger, OurContainer } from '../adapters/docker/types.js';
import { EngineError } from '../adapters/docker/errors.js';
import { NamingError, containerName, type AppIdentity } from '../adapters/docker/naming.js';
import type { AppLogSink, EngineHealth, EventSink } from './executors/command-handler.js';

export interface AppView {
  app: AppIdentity;
  /** Top-level state of the app statechart, e.g. "RUNNING". */
  state: string;
  /** The container the app's last run created, when the adapter said. */
  containerId: string | null;
}

/** Read-only access to the app actors. */
export interface AppActorView {
  appActors(): string[];
  appView(actorId: string): AppView | undefined;
}

export interface MachineEventOut {
  actor: string;
  type: string;
  payload: { [key: string]: Json };
}

/** The app machine's event for one engine event, or undefined when it has none. */
export function machineEventFor(e: EngineEvent): MachineEventOut | undefined {
  const actor = appActorId(e.stage, e.appKey);
  const id: { [key: string]: Json } = e.id ? { containerId: e.id } : {};
  switch (e.kind) {
    case 'start':
      return { actor, type: 'CONTAINER_STARTED', payload: { ...id } };
    case 'die':
      return { actor, type: 'CONTAINER_DIED', payload: { ...id, ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}) } };
    case 'oom':
      return { actor, type: 'CONTAINER_OOM', payload: { ...id } };
    case 'destroy':
      return { actor, type: 'CONTAINER_GONE', payload: { ...id } };
    case 'health':
      return e.health ? { actor, type: 'HEALTH', payload: { ...id, status: e.health } } : undefined;
    default:
      // 'stop' and 'kill' are followed by 'die', which says more.
      return undefined;
  }
}

/** What apps that think they are RUNNING learn from the container list taken after an outage. */
export function reconcileRunning(apps: ReadonlyArray<{ actor: string } & AppView>, containers: readonly OurContainer[]): MachineEventOut[] {
  const byName = new Map(containers.map((c) => [c.name, c]));
  const out: MachineEventOut[] = [];
  for (const a of apps) {
    if (a.state !== 'RUNNING') continue;
    const c = byName.get(containerName(a.app.stage, a.app.appKey, a.app.appName));
    if (!c) {
      out.push({ actor: a.actor, type: 'CONTAINER_GONE', payload: a.containerId ? { containerId: a.containerId } : {} });
    } else if (c.state !== 'running') {
      out.push({ actor: a.actor, type: 'CONTAINER_DIED', payload: { containerId: c.id, ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}) } });
    }
  }
  return out;
}

export interface EngineMonitorDeps {
  engine: DockerEngine;
  events: EventSink;
  view: AppActorView;
  /** Apps run by the compose CLI (adapters/compose): their containers are not named after the app. */
  isCompose?(actorId: string): boolean;
  logs: Pick<AppLogSink, 'agent'>;
  logger: EngineLogger;
  watch?: WatchOptions;
  /** How often an engine an operation found unreachable is pinged until it answers. Default 1000 ms. */
  recheckMs?: number;
  /** Every event about one of our containers (the log followers start on 'start'). */
  onContainerEvent?(e: EngineEvent): void;
  /** The container list of every (re)attach. */
  onUp?(containers: OurContainer[], resync: boolean): void;
}

const SOURCE = 'docker';
/** Failures that say the engine answered. */
const ANSWERED = new Set(['not-found', 'not-ours', 'conflict', 'unauthorized', 'invalid-archive']);

export class EngineMonitor implements EngineHealth {
  private watcher: EventWatcher | undefined;
  private state: 'unknown' | 'up' | 'down' = 'unknown';
  private containers: OurContainer[] = [];
  private readonly upWaiters = new Set<() => void>();
  private readonly downWaiters = new Set<() => void>();
  private readonly toldDown = new Set<string>();
  private recheck: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: EngineMonitorDeps) {}

  start(): void {
    this.watcher = this.deps.engine.watchEvents(
      (e) => this.onEvent(e),
      (s) => this.onState(s),
      this.deps.watch,
    );
  }

  get isDown(): boolean {
    return this.state === 'down';
  }

  /**
   * The container list of the first attach, once the engine answered;
   * undefined after `timeoutMs` without it, or (`giveUpWhenDown`) as soon as
   * the engine is reported down.
   */
  waitUp(timeoutMs: number, giveUpWhenDown = false): Promise<OurContainer[] | undefined> {
    if (this.state === 'up') return Promise.resolve(this.containers);
    if (giveUpWhenDown && this.state === 'down') return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.upWaiters.delete(done);
        this.downWaiters.delete(done);
        resolve(this.state === 'up' ? this.containers : undefined);
      };
      const timer = setTimeout(done, timeoutMs);
      this.upWaiters.add(done);
      if (giveUpWhenDown) this.downWaiters.add(done);
    });
  }

  async confirmDown(actorId: string, err: unknown): Promise<boolean> {
    if (err instanceof NamingError) return false;
    if (err instanceof EngineError && ANSWERED.has(err.code)) return false;
    if (!(err instanceof EngineError && err.code === 'unreachable')) {
      try {
        await this.deps.engine.ping(2000);
        return false;
      } catch {
        // no answer: the failure was the engine's absence
      }
    }
    this.tellDown(actorId, err instanceof Error ? err.message : String(err));
    return true;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.recheck);
    for (const w of [...this.upWaiters]) w();
  }

  private onEvent(e: EngineEvent): void {
    if (this.closed) return;
    this.deps.onContainerEvent?.(e);
    const out = machineEventFor(e);
    if (out && this.deps.view.appView(out.actor)) this.deps.events.send(out.actor, SOURCE, out.type, out.payload);
  }

  private onState(s: EngineStateChange): void {
    if (this.closed) return;
    if (s.state === 'down') {
      this.state = 'down';
      for (const w of [...this.downWaiters]) w();
      for (const actor of this.deps.view.appActors()) {
        const v = this.deps.view.appView(actor);
        if (!v) continue;
        this.deps.events.send(actor, SOURCE, 'ENGINE_DOWN', { reason: s.reason });
        this.deps.logs.agent(containerName(v.app.stage, v.app.appKey, v.app.appName), `Docker engine unreachable (${s.reason}); waiting for it to come back`);
      }
      return;
    }
    const wasDown = this.state === 'down' || this.toldDown.size > 0;
    this.state = 'up';
    this.containers = s.containers;
    if (s.resync || wasDown) {
      const apps: Array<{ actor: string } & AppView> = [];
      for (const actor of this.deps.view.appActors()) {
        const v = this.deps.view.appView(actor);
        if (!v) continue;
        apps.push({ actor, ...v });
        this.deps.events.send(actor, SOURCE, 'ENGINE_UP', {});
        if (s.resync) this.deps.logs.agent(containerName(v.app.stage, v.app.appKey, v.app.appName), 'Docker engine is back');
      }
      this.stopRecheck();
      // Compose apps have no container of ours by their name: the compose observer judges them.
      const single = apps.filter((a) => !this.deps.isCompose?.(a.actor));
      for (const m of reconcileRunning(single, s.containers)) this.deps.events.send(m.actor, SOURCE, m.type, m.payload);
    }
    this.deps.onUp?.(s.containers, s.resync);
    for (const w of [...this.upWaiters]) w();
  }

  /** Makes the app wait for the engine (ENGINE_DOWN) until a ping or the watcher says it is back (ENGINE_UP). */
  tellDown(actor: string, reason: string): void {
    if (this.toldDown.has(actor)) return;
    this.toldDown.add(actor);
    this.deps.logger.warn({ actor, reason }, 'Docker engine unreachable; the app waits for it');
    this.deps.events.send(actor, SOURCE, 'ENGINE_DOWN', { reason });
    if (this.recheck) return;
    this.recheck = setInterval(() => {
      this.deps.engine.ping(1000).then(
        () => {
          if (this.closed || this.toldDown.size === 0) return;
          for (const a of this.toldDown) this.deps.events.send(a, SOURCE, 'ENGINE_UP', {});
          this.stopRecheck();
        },
        () => undefined,
      );
    }, this.deps.recheckMs ?? 1000);
    this.recheck.unref?.();
  }

  private stopRecheck(): void {
    clearInterval(this.recheck);
    this.recheck = undefined;
    this.toldDown.clear();
  }
}
