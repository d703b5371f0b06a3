// The `app_requests` projection: per app, the latest requested state (from the
// journaled REQUEST events) and the latest reported state (from the app
// statechart's studio.report commands). The journal has the whole history
// but is compacted; this table is what the daemon reads at start to converge
// the apps before any network link is up. It holds no secret: REQUEST
// payloads carry none.
//
// The writes a dispatched event causes (a standing request, a reported
// state) are queued into the journal's commit of that event (link storage),
// so the projection is never ahead of or behind the journal after a crash.
// Until that commit, reads here see them through `written`.

import type { QueryResult } from 'node-sqlite3-wasm';
import type { LinkStorage } from '../adapters/store/link-storage.js';
import type { Json } from '../actors/types.js';
import { isAppState, type AppState } from '../machines/app-states.js';
import { readRequestPayload, type RequestEventFields } from '../machines/app-request.js';
import { parseStage, validateAppKey, validateAppName, type Stage } from '../adapters/docker/naming.js';

export interface AppRequestRow {
  appKey: string;
  stage: Stage;
  appName: string;
  target: AppState;
  version: string | null;
  /** The REQUEST payload, minus what belongs to one delivery (requestId, resync, cancel); checked when read back. */
  payload: RequestEventFields;
  /** The state last reported by the app's statechart, and the version it reported. */
  state: AppState | null;
  stateVersion: string | null;
  updatedSeq: number;
}

/** Keys of a REQUEST payload that describe one delivery, not the standing request. */
const DELIVERY_KEYS = new Set(['requestId', 'resync', 'cancel']);

export class AppRequestsProjection {
  /**
   * Rows as this process last wrote them (null: deleted). Queued writes reach
   * the table only at the next journal commit; the report of a state change
   * made in the turn of a REQUEST must already see that request.
   */
  private readonly written = new Map<string, AppRequestRow | null>();

  constructor(private readonly storage: LinkStorage) {}

  /** Records a REQUEST event (its journal seq) as the app's standing request; written with that event. */
  upsertRequest(appKey: string, stage: Stage, payload: { [key: string]: Json }, seq: number): void {
    const kept: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(payload)) if (!DELIVERY_KEYS.has(k)) kept[k] = v;
    let stored: RequestEventFields;
    try {
      stored = readRequestPayload(kept);
    } catch {
      // a replayed record the app statechart refuses too (it reports the request failed); no standing request
      return;
    }
    const { target } = stored;
    const appName = stored.appName ?? '';
    const version = stored.version ?? null;
    const json = JSON.stringify(stored);
    const before = this.get(appKey, stage);
    this.written.set(rowKey(appKey, stage), {
      appKey,
      stage,
      appName,
      target,
      version,
      payload: stored,
      state: before?.state ?? null,
      stateVersion: before?.stateVersion ?? null,
      updatedSeq: seq,
    });
    this.storage.queue(
      (tx) =>
        tx.run(
          `INSERT INTO app_requests (app_key, stage, app_name, target, version, payload, updated_seq)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (app_key, stage) DO UPDATE SET
             app_name = excluded.app_name, target = excluded.target, version = excluded.version,
             payload = excluded.payload, updated_seq = excluded.updated_seq`,
          [appKey, stage, appName, target, version, json, seq],
        ),
      2 * json.length + 300,
    );
  }

  /** Records the state the app last reported, with the event that reported it; a no-op for apps without a standing request. */
  noteState(appKey: string, stage: Stage, state: AppState, version: string | null): void {
    const before = this.get(appKey, stage);
    if (before) this.written.set(rowKey(appKey, stage), { ...before, state, stateVersion: version });
    this.storage.queue(
      (tx) => tx.run('UPDATE app_requests SET state = ?, state_version = ? WHERE app_key = ? AND stage = ?', [state, version, appKey, stage]),
      200,
    );
  }

  /** Drops the standing request now: it follows a settled request's command, not an event in dispatch. */
  delete(appKey: string, stage: Stage): void {
    this.storage.write((tx) => tx.run('DELETE FROM app_requests WHERE app_key = ? AND stage = ?', [appKey, stage]));
    this.written.set(rowKey(appKey, stage), null);
  }

  get(appKey: string, stage: Stage): AppRequestRow | undefined {
    const mine = this.written.get(rowKey(appKey, stage));
    if (mine !== undefined) return mine ?? undefined;
    const row = this.storage.get('SELECT * FROM app_requests WHERE app_key = ? AND stage = ?', [appKey, stage]);
    return row ? decode(row) : undefined;
  }

  /** Every standing request; rows that no longer validate are skipped and named in `damaged`. */
  all(damaged?: (row: QueryResult, why: string) => void): AppRequestRow[] {
    const out: AppRequestRow[] = [];
    for (const row of this.storage.all('SELECT * FROM app_requests ORDER BY app_key, stage')) {
      // what this process wrote since is newer (and not committed yet, perhaps)
      if (this.written.has(rowKey(String(row['app_key']), String(row['stage'])))) continue;
      try {
        const r = decode(row);
        if (r) out.push(r);
      } catch (err) {
        damaged?.(row, (err as Error).message);
      }
    }
    for (const r of this.written.values()) if (r) out.push(r);
    return out.sort((a, b) => (a.appKey < b.appKey ? -1 : a.appKey > b.appKey ? 1 : a.stage < b.stage ? -1 : a.stage > b.stage ? 1 : 0));
  }
}

function rowKey(appKey: string, stage: string): string {
  return `${stage}:${appKey}`;
}

function decode(row: QueryResult): AppRequestRow | undefined {
  const target = row['target'];
  const state = row['state'];
  if (!isAppState(target)) throw new Error(`target ${JSON.stringify(target)} is not an app state`);
  const appKey = validateAppKey(row['app_key']);
  const stage = parseStage(row['stage']);
  const appName = validateAppName(row['app_name']);
  // The row's target column is the standing one (payloads written before link storage may lack it).
  const raw: unknown = JSON.parse(String(row['payload']));
  const payload = readRequestPayload(typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...raw, target } : raw);
  return {
    appKey,
    stage,
    appName,
    target,
    version: typeof row['version'] === 'string' ? row['version'] : null,
    payload,
    state: isAppState(state) ? state : null,
    stateVersion: typeof row['state_version'] === 'string' ? row['state_version'] : null,
    updatedSeq: Number(row['updated_seq']),
  };
}
