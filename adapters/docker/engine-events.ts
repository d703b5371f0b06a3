// Watching the engine: container events of our apps, and whether the engine is up.
//
// dockerd keeps its event log in memory only, so events that happen while the stream
// is broken, and all events before a daemon restart, are gone for good. On every
// (re)attach the watcher therefore reports the current list of our containers
// together with 'up'; consumers reconcile from that list instead of trusting that
// they saw every event. The stream is opened before the list is taken, so a change
// lands in the list, in a later event, or in both, never in neither.

import type { Readable } from 'node:stream';
import type { EngineDeps, OurContainer } from './types.js';
import { MANAGED_FILTER, parseAppLabels, type Stage } from './naming.js';
import { engineMessage } from './errors.js';
import { jsonItems, perItem, type JsonItem } from './json-stream.js';
import { listOurContainers } from './containers.js';
import { pingEngine } from './ping.js';

export type EngineEventKind = 'start' | 'die' | 'stop' | 'kill' | 'destroy' | 'oom' | 'health';

export interface EngineEvent {
  kind: EngineEventKind;
  /** Container name without the leading "/". */
  container: string;
  id: string;
  appKey: string;
  stage: Stage;
  appName: string;
  /** 'die' only. */
  exitCode?: number;
  /** 'kill' only: the signal number or name Docker reports. */
  signal?: string;
  /** 'health' only. */
  health?: 'healthy' | 'unhealthy';
  /** Unix ms, from the engine's clock. */
  at: number;
}

export type EngineStateChange =
  | { state: 'down'; reason: string }
  /** `resync` is false on the first attach, true after an outage. */
  | { state: 'up'; containers: OurContainer[]; resync: boolean };

export interface WatchOptions {
  /** First retry delay after the engine went away (ms). Default 250. */
  initialBackoffMs?: number;
  /** Retry delay cap (ms). Default 5000. */
  maxBackoffMs?: number;
  /** How often to ping while attached, to notice an engine that hangs without closing the socket. 0 disables. Default 15000. */
  pingIntervalMs?: number;
  random?: () => number;
}

export interface EventWatcher {
  /** Stops watching; no callback fires after this returns. */
  close(): void;
}

const KINDS: Record<string, EngineEventKind> = {
  start: 'start',
  die: 'die',
  stop: 'stop',
  kill: 'kill',
  destroy: 'destroy',
  oom: 'oom',
};

/** An engine event about one of our containers, normalized; undefined for anything else. */
export function normalizeEvent(raw: JsonItem): EngineEvent | undefined {
  if ((raw['Type'] ?? 'container') !== 'container') return undefined;
  const action = typeof raw['Action'] === 'string' ? raw['Action'] : typeof raw['status'] === 'string' ? raw['status'] : '';
  let kind: EngineEventKind | undefined = KINDS[action];
  let health: 'healthy' | 'unhealthy' | undefined;
  if (!kind && action.startsWith('health_status:')) {
    const h = action.slice('health_status:'.length).trim();
    if (h === 'healthy' || h === 'unhealthy') {
      kind = 'health';
      health = h;
    }
  }
  if (!kind) return undefined;
  const actor = typeof raw['Actor'] === 'object' && raw['Actor'] !== null ? (raw['Actor'] as { ID?: unknown; Attributes?: unknown }) : {};
  const attrs: Record<string, string> = {};
  if (typeof actor.Attributes === 'object' && actor.Attributes !== null) {
    for (const [k, v] of Object.entries(actor.Attributes)) if (typeof v === 'string') attrs[k] = v;
  }
  const ident = parseAppLabels(attrs);
  if (!ident) return undefined;
  const id = typeof actor.ID === 'string' ? actor.ID : typeof raw['id'] === 'string' ? raw['id'] : '';
  const timeNano = raw['timeNano'];
  const time = raw['time'];
  const at = typeof timeNano === 'number' ? Math.floor(timeNano / 1e6) : typeof time === 'number' ? time * 1000 : Date.now();
  const ev: EngineEvent = { kind, container: (attrs['name'] ?? '').replace(/^\//, ''), id, ...ident, at };
  if (kind === 'die' && attrs['exitCode'] !== undefined && /^-?\d+$/.test(attrs['exitCode'])) ev.exitCode = Number(attrs['exitCode']);
  if (kind === 'kill' && attrs['signal'] !== undefined) ev.signal = attrs['signal'];
  if (health) ev.health = health;
  return ev;
}

export function watchEvents(
  ctx: Pick<EngineDeps, 'docker' | 'logger'>,
  onEvent: (e: EngineEvent) => void,
  onState: (s: EngineStateChange) => void,
  opts: WatchOptions = {},
): EventWatcher {
  const initial = opts.initialBackoffMs ?? 250;
  const cap = opts.maxBackoffMs ?? 5000;
  const pingEvery = opts.pingIntervalMs ?? 15_000;
  const random = opts.random ?? Math.random;

  let closed = false;
  let stream: Readable | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let delay = initial;
  let everUp = false;
  let down = false; // 'down' is reported once per outage, not once per failed retry
  const abort = new AbortController();

  // A throwing consumer must not look like a broken stream (and trigger a reconnect).
  const emitState = (s: EngineStateChange): void => {
    try {
      onState(s);
    } catch (err) {
      ctx.logger.error({ err, state: s.state }, 'engine state handler threw');
    }
  };
  const emitEvent = (e: EngineEvent): void => {
    try {
      onEvent(e);
    } catch (err) {
      ctx.logger.error({ err, event: e.kind, container: e.container }, 'engine event handler threw');
    }
  };

  const reportDown = (reason: string): void => {
    if (closed || down) return;
    down = true;
    ctx.logger.warn({ reason }, 'Docker engine unreachable; watching for it to come back');
    emitState({ state: 'down', reason });
  };

  const scheduleRetry = (): void => {
    if (closed) return;
    const wait = Math.round(delay * (0.8 + 0.4 * random()));
    delay = Math.min(cap, delay * 2);
    retryTimer = setTimeout(() => void attach(), wait);
  };

  const detach = (): void => {
    clearInterval(pingTimer);
    pingTimer = undefined;
    if (stream && !stream.destroyed) stream.destroy();
    stream = undefined;
  };

  const attach = async (): Promise<void> => {
    if (closed) return;
    let s: Readable;
    let containers: OurContainer[];
    try {
      s = (await ctx.docker.getEvents({
        filters: { type: ['container'], label: [MANAGED_FILTER] },
        abortSignal: abort.signal,
      } as Parameters<typeof ctx.docker.getEvents>[0])) as Readable;
      if (closed) {
        s.destroy();
        return;
      }
      stream = s;
      containers = await listOurContainers(ctx);
    } catch (err) {
      detach();
      if (closed) return;
      reportDown(engineMessage(err));
      scheduleRetry();
      return;
    }
    if (closed) return detach();
    const resync = everUp;
    everUp = true;
    down = false;
    delay = initial;
    ctx.logger.info({ containers: containers.length, resync }, 'watching Docker engine events');
    emitState({ state: 'up', containers, resync });
    if (pingEvery > 0) {
      pingTimer = setInterval(() => {
        pingEngine(ctx.docker, Math.max(1000, pingEvery / 2)).catch(() => {
          // A hung engine keeps the socket open; dropping the stream turns that into 'down'.
          if (stream === s) s.destroy(new Error('engine did not answer ping'));
        });
      }, pingEvery);
      pingTimer.unref();
    }
    let reason = 'event stream ended';
    const handle = perItem(ctx.logger, 'engine events', (item: JsonItem) => {
      const ev = normalizeEvent(item);
      if (ev) emitEvent(ev);
    });
    try {
      for await (const item of jsonItems(s)) {
        if (closed) return;
        handle(item);
      }
    } catch (err) {
      reason = `event stream failed: ${engineMessage(err)}`;
    }
    if (closed) return;
    detach();
    reportDown(reason);
    scheduleRetry();
  };

  void attach();
  return {
    close(): void {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      abort.abort();
      detach();
    },
  };
}
