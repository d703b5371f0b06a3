// The on-connect reconciliation (the Reagent's §3 OnConnect) on the app
// domain's side: the studio link reads `get_requested_app_states` and checks
// each entry's wire shape; what the device then does with the list is decided
// here. Apps the list no longer names go, but only when every entry could be
// read (a list read in part says nothing about the apps it would have named);
// then the rules of machines/studio-reconcile.ts pick what is applied, each
// as a resync request.
import { planReconciliation } from '../machines/studio-reconcile.js';
import type { AppsService, AppStateRequest } from './service.js';

export interface ReconcileOutcome {
  applied: number;
  skipped: number;
  removed: number;
}

/** Where the reconciliation says what it could not do; texts may hold payload excerpts, so the caller scrubs them. */
export type ReconcileWarn = (fields: { [key: string]: unknown } | undefined, message: string, err?: unknown) => void;

export async function reconcileRequested(
  apps: AppsService,
  listed: readonly AppStateRequest[],
  unreadable: number,
  warn: ReconcileWarn,
): Promise<ReconcileOutcome> {
  let removed = 0;
  if (unreadable > 0) {
    warn({ invalid: unreadable }, 'get_requested_app_states had entries that could not be read: no app is removed for not being listed');
  } else {
    try {
      const gone = await apps.removeUnlisted(listed.map((r) => ({ appKey: r.appKey, stage: r.stage })));
      removed = gone.length;
    } catch (err) {
      warn(undefined, 'apps not listed by the studio could not be removed: ', err);
    }
  }
  const plan = planReconciliation(listed);
  let applied = 0;
  for (const request of plan.apply) {
    try {
      await apps.requestAppState(request, 'reconcile');
      applied++;
    } catch (err) {
      warn({ app: request.appKey, stage: request.stage }, 'requested app state from the cloud not applied: ', err);
    }
  }
  return { applied, skipped: plan.skipped.length, removed };
}
