// Keeps the `app_requests` projection in step with the journal: every REQUEST
// an app actor receives becomes its standing request, every state it reports
// is noted, both queued into the commit of the event itself (so a full disk
// holds them back and retries them with that event, nothing to catch up). It also turns what the app statecharts say into lines of the
// app's log history (failures, crash-loop notices, refusals), and handles the
// `apps.*` commands (request outcomes).

import type { Command } from '../actors/types.js';
import type { Transition } from '../actors/system.js';
import { isAppState, isStage } from '../machines/app-states.js';
import type { AppContext } from '../machines/app.js';
import { containerName, type AppIdentity } from '../adapters/docker/naming.js';
import type { EngineLogger } from '../adapters/docker/types.js';
import type { AppRequestsProjection } from './projection.js';
import type { AppLogSink } from './executors/command-handler.js';

export interface JournalListenerDeps {
  projection: AppRequestsProjection;
  logs: Pick<AppLogSink, 'agent'>;
  identity(actorId: string): AppIdentity | undefined;
  context(actorId: string): AppContext | undefined;
  /** An app's standing request is gone (it was removed as asked): forget what was kept for it. */
  onForgotten(actorId: string): void;
  logger: EngineLogger;
}

/** `app:<STAGE>:<appKey>` → its parts. */
export function parseAppActorId(id: string): { stage: 'DEV' | 'PROD'; appKey: string } | undefined {
  const parts = id.split(':');
  if (parts.length !== 3 || parts[0] !== 'app' || !isStage(parts[1]) || !parts[2]) return undefined;
  return { stage: parts[1], appKey: parts[2] };
}

function seconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

export class AppsJournalListener {
  /** The last health each app's container reported, so only changes are said. */
  private readonly health = new Map<string, string>();

  constructor(private readonly deps: JournalListenerDeps) {}

  /** For `system.subscribe`: runs in the dispatch of every event. */
  readonly onTransition = (t: Transition): void => {
    if (t.machine !== 'app') return;
    const id = parseAppActorId(t.actor);
    if (!id) return;
    try {
      const payload = t.payload;
      if (t.type === 'REQUEST' && typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
        this.deps.projection.upsertRequest(id.appKey, id.stage, payload, t.seq);
      }
      if (t.type === 'HEALTH') this.onHealth(t);
      for (const c of t.commands) if (c.type === 'studio.report') this.onReport(t, id, c);
    } catch (err) {
      this.deps.logger.error({ actor: t.actor, seq: t.seq, err: (err as Error).message }, 'apps projection update failed');
    }
  };

  /**
   * Docker's HEALTHCHECK verdict on a running app (the statechart's RUNNING
   * substates follow it): a change is logged and written to the app's log, so
   * the studio sees it in the live log and in get_app_log_history.
   */
  private onHealth(t: Transition): void {
    const p = t.payload;
    const status = typeof p === 'object' && p !== null && !Array.isArray(p) ? p['status'] : undefined;
    if (status !== 'healthy' && status !== 'unhealthy') return;
    const before = this.health.get(t.actor);
    if (before === status) return;
    this.health.set(t.actor, status);
    const app = this.deps.identity(t.actor);
    const container = app ? containerName(app.stage, app.appKey, app.appName) : undefined;
    if (status === 'unhealthy') {
      this.deps.logger.warn({ actor: t.actor, container }, 'app container is unhealthy: its HEALTHCHECK fails');
      if (container) this.deps.logs.agent(container, 'Health check failing: the container is unhealthy');
    } else if (before === 'unhealthy') {
      this.deps.logger.info({ actor: t.actor, container }, 'app container is healthy again');
      if (container) this.deps.logs.agent(container, 'Health check passing again: the container is healthy');
    }
  }

  /** For `system.handle('apps', …)`. */
  readonly handle = (c: Command, actorId: string): void => {
    const id = parseAppActorId(actorId);
    if (c.type === 'apps.request-settled') {
      this.deps.logger.info(
        { actor: actorId, requestId: c['requestId'], target: c['target'], state: c['state'], outcome: c['outcome'], reason: c['reason'] },
        'app request settled',
      );
      const gone = c['outcome'] === 'reached' && (c['state'] === 'REMOVED' || c['state'] === 'UNINSTALLED');
      if (gone && id) {
        // Only when the standing request is still the teardown: a newer request may already be recorded.
        const row = this.deps.projection.get(id.appKey, id.stage);
        if (row && (row.target === 'REMOVED' || row.target === 'UNINSTALLED')) {
          this.deps.projection.delete(id.appKey, id.stage);
          this.deps.onForgotten(actorId);
        }
      }
      return;
    }
    if (c.type === 'apps.request-refused') {
      this.deps.logger.warn({ actor: actorId, requestId: c['requestId'], target: c['target'], reason: c['reason'] }, 'app request refused');
      const app = this.deps.identity(actorId);
      if (app) this.deps.logs.agent(containerName(app.stage, app.appKey, app.appName), `Request for ${String(c['target'])} refused: ${String(c['reason'])}`);
      return;
    }
    this.deps.logger.debug({ actor: actorId, command: c.type }, 'unknown apps command ignored');
  };

  private onReport(t: Transition, id: { stage: 'DEV' | 'PROD'; appKey: string }, c: Command): void {
    const state = c['state'];
    if (!isAppState(state)) return;
    const version = typeof c['version'] === 'string' ? c['version'] : null;
    this.deps.projection.noteState(id.appKey, id.stage, state, version);
    const app = this.deps.identity(t.actor);
    if (!app) return;
    const container = containerName(app.stage, app.appKey, app.appName);
    const reason = typeof c['reason'] === 'string' ? c['reason'] : undefined;
    if (state === 'FAILED') {
      const ctx = this.deps.context(t.actor);
      let next = '';
      if (ctx && t.state?.includes('backoff')) {
        next = `; restarting in ${seconds(ctx.retryDelayMs)} (failure ${ctx.failures} of at most ${ctx.policy.maxFailures})`;
      } else if (ctx && t.state?.includes('halted')) {
        next = `; not retried any more (${ctx.failures} failure(s)): waiting for a new request`;
      }
      this.deps.logs.agent(container, `App failed: ${reason ?? 'unknown reason'}${next}`);
    } else if (reason !== undefined) {
      this.deps.logs.agent(container, `${state}: ${reason}`);
    }
  }
}
