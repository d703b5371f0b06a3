// Which requested app states from the cloud (`get_requested_app_states`) the
// on-connect sync applies. Pure arithmetic over plain data, like backoff.ts.
//
// The Reagent's rules (agent.go OnConnect, app_manager.go):
// - PROD: the cloud's request wins (UpdateLocalRequestedAppStatesWithRemote),
//   except BUILT and PUBLISHED targets, which EnsureRemoteRequestedStates skips:
//   they are DEV workflow steps a PROD app never re-runs on its own.
// - DEV: never overwritten from the cloud; a DEV app's request comes from the
//   developer's own calls (and its build from an upload only they make).
// - The same app listed twice: the later entry wins.
import type { AppState, Stage } from './app-states.js';

export interface CloudRequest {
  appKey: number;
  stage: Stage;
  targetState: AppState;
}

export type SkipReason = 'dev-app' | 'dev-workflow-target' | 'listed-again';

export interface ReconcilePlan<T extends CloudRequest> {
  apply: T[];
  skipped: Array<{ appKey: number; stage: Stage; reason: SkipReason }>;
}

const PROD_SKIPPED_TARGETS: ReadonlySet<AppState> = new Set<AppState>(['BUILT', 'PUBLISHED']);

export function planReconciliation<T extends CloudRequest>(entries: readonly T[]): ReconcilePlan<T> {
  const plan: ReconcilePlan<T> = { apply: [], skipped: [] };
  const last = new Map<string, number>();
  entries.forEach((e, i) => last.set(`${e.stage}:${e.appKey}`, i));
  entries.forEach((e, i) => {
    if (last.get(`${e.stage}:${e.appKey}`) !== i) plan.skipped.push({ appKey: e.appKey, stage: e.stage, reason: 'listed-again' });
    else if (e.stage === 'DEV') plan.skipped.push({ appKey: e.appKey, stage: e.stage, reason: 'dev-app' });
    else if (PROD_SKIPPED_TARGETS.has(e.targetState)) plan.skipped.push({ appKey: e.appKey, stage: e.stage, reason: 'dev-workflow-target' });
    else plan.apply.push(e);
  });
  return plan;
}

/** An app the device keeps a request for (the apps projection). */
export interface KeptApp {
  appKey: string;
  stage: Stage;
}

/**
 * The Reagent's CleanupOrphanedAppsFromDatabase (OnConnect step 1): the kept
 * apps a successful `get_requested_app_states` does not list, in their order.
 * Only ever called with a complete, well-formed answer: a list that failed or
 * could not be read removes nothing.
 */
export function planRemovals<T extends KeptApp>(kept: readonly T[], listed: ReadonlyArray<{ appKey: string; stage: Stage }>): T[] {
  const names = new Set(listed.map((l) => `${l.stage}:${l.appKey}`));
  return kept.filter((k) => !names.has(`${k.stage}:${k.appKey}`));
}
