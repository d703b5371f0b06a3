// Read-only views of the app actors for the adapters: which exist, what
// state each is in, the container it knows, and whether they are all at
// rest (no Docker operation in flight).

import type { ActorSystem } from '../actors/system.js';
import type { AppContext } from '../machines/app.js';
import { OPERATION_STATES, isAppState, type AppState } from '../machines/app-states.js';
import type { AppActorView, AppView } from './engine-monitor.js';

export function topState(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) return Object.keys(value)[0];
  return undefined;
}

export class AppActors implements AppActorView {
  constructor(private readonly system: Pick<ActorSystem, 'actorIds' | 'machineOf' | 'snapshot'>) {}

  appActors(): string[] {
    return this.system.actorIds().filter((id) => this.system.machineOf(id)?.name === 'app');
  }

  appView(actorId: string): AppView | undefined {
    if (this.system.machineOf(actorId)?.name !== 'app') return undefined;
    const snap = this.system.snapshot(actorId) as { value: unknown; context: AppContext } | undefined;
    if (!snap) return undefined;
    const c = snap.context;
    return { app: { appKey: c.appKey, stage: c.stage, appName: c.appName }, state: topState(snap.value) ?? 'boot', containerId: c.containerId };
  }

  context(actorId: string): AppContext | undefined {
    if (this.system.machineOf(actorId)?.name !== 'app') return undefined;
    return (this.system.snapshot(actorId) as { context: AppContext } | undefined)?.context;
  }

  stateOf(actorId: string): AppState | undefined {
    const s = this.appView(actorId)?.state;
    return isAppState(s) ? s : undefined;
  }

  /** No app is in an operation state (its Docker work is done, failed, or waiting for a retry). */
  allAtRest(): boolean {
    return this.appActors().every((id) => {
      const s = this.stateOf(id);
      return s !== undefined && !OPERATION_STATES.has(s) && s !== 'TRANSFERING';
    });
  }
}
