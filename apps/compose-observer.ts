// Watches the compose apps that are RUNNING, once a second as the Reagent's
// compose observer does: the containers labelled with the app's project are
// listed and judged (machines/compose-state.ts). When the project is no longer
// running as a whole, the app statechart hears it as its single container's
// death: CONTAINER_DIED with the failed service's exit code (0 when every
// service ended cleanly), or CONTAINER_GONE when no container is left. The
// engine's event stream is not used: compose containers carry compose's
// labels, not ours, and a poll also sees what happened while nobody watched.

import type Dockerode from 'dockerode';
import type { Json } from '../actors/types.js';
import { composeState, failedExitCode, type ComposeContainer } from '../machines/compose-state.js';
import type { AppActorView } from './engine-monitor.js';
import type { EventSink } from './executors/command-handler.js';
import type { EngineLogger } from '../adapters/docker/types.js';
import type { AppIdentity } from '../adapters/docker/naming.js';
import { composeProjectName } from '../adapters/compose/project.js';

export const PROJECT_LABEL = 'com.docker.compose.project';
export const SERVICE_LABEL = 'com.docker.compose.service';

export interface ComposeObserverDeps {
  docker: Dockerode;
  events: EventSink;
  view: AppActorView;
  /** Whether the actor's app is a compose app (its spec has a compose file). */
  isCompose(actorId: string): boolean;
  logger: EngineLogger;
  intervalMs?: number;
}

/** A container of a project, as `docker ps -a` shows it. */
export function projectContainer(c: Dockerode.ContainerInfo): ComposeContainer & { name: string; service: string } {
  const exit = /^Exited \((-?\d+)\)/.exec(c.Status ?? '');
  return {
    name: (c.Names?.[0] ?? '').replace(/^\//, ''),
    service: c.Labels?.[SERVICE_LABEL] ?? '',
    state: c.State,
    ...(exit?.[1] !== undefined ? { exitCode: Number(exit[1]) } : {}),
  };
}

export async function listProject(docker: Dockerode, project: string): Promise<Array<ReturnType<typeof projectContainer>>> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${PROJECT_LABEL}=${project}`] } });
  return list.map(projectContainer);
}

export class ComposeObserver {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  /** Apps told already during this RUNNING spell. */
  private readonly told = new Set<string>();

  constructor(private readonly deps: ComposeObserverDeps) {}

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.deps.intervalMs ?? 1000);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass over the compose apps; exported for tests. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const actor of this.deps.view.appActors()) {
        const view = this.deps.view.appView(actor);
        if (!view || view.state !== 'RUNNING' || !this.deps.isCompose(actor)) {
          this.told.delete(actor);
          continue;
        }
        if (this.told.has(actor)) continue;
        await this.check(actor, view.app);
      }
    } finally {
      this.busy = false;
    }
  }

  private async check(actor: string, app: AppIdentity): Promise<void> {
    let containers: Array<ReturnType<typeof projectContainer>>;
    try {
      containers = await listProject(this.deps.docker, composeProjectName(app));
    } catch (err) {
      // The engine monitor tells the apps when Docker is away; a failed poll says nothing.
      this.deps.logger.debug({ actor, err: (err as Error).message }, 'could not list a compose project');
      return;
    }
    const state = composeState(containers);
    if (state === 'RUNNING') return;
    this.told.add(actor);
    const failed = containers.filter((c) => c.state !== 'running').map((c) => `${c.service || c.name} ${c.state}${c.exitCode !== undefined ? ` (${c.exitCode})` : ''}`);
    this.deps.logger.warn({ actor, project: composeProjectName(app), state, services: failed }, 'compose app is no longer running');
    if (state === null) {
      this.deps.events.send(actor, 'compose', 'CONTAINER_GONE', {});
      return;
    }
    const payload: { [key: string]: Json } = { exitCode: state === 'FAILED' ? (failedExitCode(containers) ?? -1) : 0 };
    this.deps.events.send(actor, 'compose', 'CONTAINER_DIED', payload);
  }
}
