// The app domain's part of the report path: an app statechart says its state
// changed (a `studio.report` command, a fact); here that fact becomes the full
// `update_app_on_device` report, with the fields of the app's standing request.
// Whoever delivers reports (the studio link's outbox) subscribes
// `appStateReports` to the actor system: its sink is called in the dispatch
// turn of the state change, so the report commits with that event.

import type { Json } from '../actors/types.js';
import type { Transition } from '../actors/system.js';
import { isAppState, isStage, type AppState, type Stage } from '../machines/app-states.js';
import type { ReportFields } from './service.js';

/** The per-app part of `update_app_on_device`; the device part is added when it is sent. */
export interface StateReport extends ReportFields {
  [key: string]: Json;
  app_key: number | string;
  stage: Stage;
  state: AppState;
}

/**
 * Takes a report in the dispatch turn of its cause; `at` is the cause's time.
 * The report is made when the sink calls it (when its row is written, in the
 * journal's commit), so it carries the app's standing request as of then,
 * a REQUEST dispatched in the same turn included.
 */
export type StateReportSink = (report: () => StateReport, at: number) => void;

/** `fields` is undefined for an app with no standing request (its report says only where it is). */
export function stateReport(appKey: string, stage: Stage, state: AppState, fields: ReportFields | undefined): StateReport {
  return {
    // the backend keys apps by number; a key that is not one travels as it is
    app_key: /^\d{1,15}$/.test(appKey) ? Number(appKey) : appKey,
    stage,
    state,
    device_to_app_key: fields?.device_to_app_key ?? null,
    requestor_account_key: fields?.requestor_account_key ?? null,
    release_key: fields?.release_key ?? null,
    request_update: fields?.request_update ?? false,
    release_build: fields?.release_build ?? false,
    updateStatus: fields?.updateStatus ?? '',
  };
}

/**
 * For `system.subscribe`: every `studio.report` fact an app statechart emits
 * becomes a full report, handed to `sink` within the same dispatch turn.
 * A malformed fact is named through `malformed` and dropped.
 */
export function appStateReports(
  fields: (stage: Stage, appKey: string) => ReportFields | undefined,
  sink: StateReportSink,
  malformed: (actor: string) => void,
): (t: Transition) => void {
  return (t) => {
    if (t.machine !== 'app') return;
    for (const c of t.commands) {
      if (c.type !== 'studio.report') continue;
      const { appKey, stage, state } = c;
      if (typeof appKey !== 'string' || !isStage(stage) || !isAppState(state)) {
        malformed(t.actor);
        continue;
      }
      sink(() => stateReport(appKey, stage, state, fields(stage, appKey)), t.at);
    }
  };
}
