// App state reports for `reswarm.containers.update_app_on_device`, through a
// durable outbox in the journal's SQLite file (table `studio_outbox`,
// migration 2). The Reagent pushed reports fire-and-forget and lost every one
// sent while the link was down; here:
// - a report is a row before anything is sent, so a restart (SIGKILL
//   included) loses nothing that was accepted;
// - rows go out one at a time in `seq` order, so each app's reports arrive in
//   the order they happened; a row is deleted only once the backend answered;
// - each carries its id (`kwargs.report_id`): a report whose answer was lost
//   with the link is sent again, and the backend can recognise the repeat;
// - while the link is down, a new report of an app replaces the app's
//   undelivered ones: the studio needs where the app is, not every step it took;
// - a report the backend keeps refusing (an application error, not a lost
//   link) is retried with backoff and set aside as dead after `maxAttempts`.
import { randomUUID } from 'node:crypto';
import type { Database, SQLiteValue } from 'node-sqlite3-wasm';
import type { Clock, TimerHandle } from '../../actors/clock.js';
import type { Json } from '../../actors/types.js';
import { backoffDelay, type BackoffPolicy } from '../../machines/backoff.js';
import { WampCallError } from './errors.js';

/** The per-app part of a report; the device part is added when it is sent. */
export interface AppReport {
  [key: string]: Json;
  app_key: number | string;
  stage: string;
  state: string;
}

/** A port report (§7.2): the app's `ports`, no state. */
export interface AppPortReport {
  [key: string]: Json;
  app_key: number | string;
  stage: string;
  ports: Json[];
}

export type OutboxReport = AppReport | AppPortReport;

export function isPortReport(r: OutboxReport): r is AppPortReport {
  return !('state' in r) && Array.isArray(r['ports']);
}

export interface OutboxRow {
  seq: number;
  id: string;
  appKey: string;
  stage: string;
  report: OutboxReport;
  createdAt: number;
  attempts: number;
  lastError: string | null;
  dead: boolean;
}

/** Delivers one report; throws WampCallError when it was not acknowledged. */
export type ReportSender = (row: OutboxRow) => Promise<void>;

export interface OutboxLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface OutboxOptions {
  db: Database;
  clock: Clock;
  logger: OutboxLogger;
  random: () => number;
  /** Refusals by the backend before a report is set aside. */
  maxAttempts?: number;
  retry?: BackoffPolicy;
  /** Dead reports kept for bug reports. */
  keepDead?: number;
  newId?: () => string;
}

export const DEFAULT_OUTBOX_RETRY: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0.2 };

const COLUMNS = 'seq, id, app_key, stage, report, created_at, attempts, last_error, dead';

function decode(r: Record<string, SQLiteValue>): OutboxRow {
  return {
    seq: r['seq'] as number,
    id: r['id'] as string,
    appKey: r['app_key'] as string,
    stage: r['stage'] as string,
    report: JSON.parse(r['report'] as string) as OutboxReport,
    createdAt: r['created_at'] as number,
    attempts: r['attempts'] as number,
    lastError: (r['last_error'] as string | null) ?? null,
    dead: (r['dead'] as number) === 1,
  };
}

export class StudioOutbox {
  private sender: ReportSender | null = null;
  private draining = false;
  /** A kick arrived while a pass was running: run another pass after it. */
  private kickedWhileDraining = false;
  private retryTimer: TimerHandle | null = null;
  private readonly maxAttempts: number;
  private readonly retry: BackoffPolicy;
  private readonly keepDead: number;
  private readonly newId: () => string;
  /** Resolves waiters of `idle()` whenever a drain pass ends. */
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: OutboxOptions) {
    this.maxAttempts = opts.maxAttempts ?? 10;
    this.retry = opts.retry ?? DEFAULT_OUTBOX_RETRY;
    this.keepDead = opts.keepDead ?? 100;
    this.newId = opts.newId ?? randomUUID;
  }

  /** Accepts a report; it is durable when this returns. Returns its id. */
  enqueue(report: OutboxReport, at: number): string {
    const appKey = String(report.app_key);
    const db = this.opts.db;
    const id = this.newId();
    db.exec('BEGIN IMMEDIATE');
    try {
      if (this.sender === null) {
        // Only reports of the same kind replace each other: a port report never drops a state report.
        db.run(
          "DELETE FROM studio_outbox WHERE stage = ? AND app_key = ? AND dead = 0 AND (json_extract(report, '$.state') IS NULL) = ?",
          [report.stage, appKey, isPortReport(report) ? 1 : 0],
        );
      }
      db.run('INSERT INTO studio_outbox (id, app_key, stage, report, created_at) VALUES (?, ?, ?, ?, ?)', [id, appKey, report.stage, JSON.stringify(report), at]);
      db.exec('COMMIT');
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
    this.kick();
    return id;
  }

  /** Reports waiting for delivery, in delivery order. */
  pending(): OutboxRow[] {
    return (this.opts.db.all(`SELECT ${COLUMNS} FROM studio_outbox WHERE dead = 0 ORDER BY seq`) as Record<string, SQLiteValue>[]).map(decode);
  }

  dead(): OutboxRow[] {
    return (this.opts.db.all(`SELECT ${COLUMNS} FROM studio_outbox WHERE dead = 1 ORDER BY seq`) as Record<string, SQLiteValue>[]).map(decode);
  }

  /** Online with a way to send (starts draining), or offline (null). */
  setSender(sender: ReportSender | null): void {
    this.sender = sender;
    if (this.retryTimer) this.opts.clock.clearTimer(this.retryTimer);
    this.retryTimer = null;
    this.kick();
  }

  /** Resolves when no drain pass is running (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.draining) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.sender = null;
    if (this.retryTimer) this.opts.clock.clearTimer(this.retryTimer);
    this.retryTimer = null;
  }

  private kick(): void {
    if (this.draining) {
      this.kickedWhileDraining = true;
      return;
    }
    if (this.sender === null || this.retryTimer !== null) return;
    this.draining = true;
    this.kickedWhileDraining = false;
    void this.drain().finally(() => {
      this.draining = false;
      if (this.kickedWhileDraining) {
        this.kick();
        if (this.draining) return;
      }
      for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const sender = this.sender;
      if (sender === null) return;
      const r = this.opts.db.get(`SELECT ${COLUMNS} FROM studio_outbox WHERE dead = 0 ORDER BY seq LIMIT 1`) as Record<string, SQLiteValue> | null;
      if (r === null) return;
      const row = decode(r);
      try {
        await sender(row);
      } catch (err) {
        if (this.sender !== sender) return; // the link went; the row waits for the next one
        this.failed(row, err);
        if (this.retryTimer !== null) return;
        continue;
      }
      this.opts.db.run('DELETE FROM studio_outbox WHERE seq = ?', [row.seq]);
      this.opts.logger.debug({ report: row.id, app: row.appKey, stage: row.stage, state: row.report.state }, 'app state report delivered');
    }
  }

  private failed(row: OutboxRow, err: unknown): void {
    const transient = err instanceof WampCallError && err.transient;
    const attempts = row.attempts + 1;
    const message = err instanceof Error ? err.message : String(err);
    if (!transient && attempts >= this.maxAttempts) {
      this.opts.db.run('UPDATE studio_outbox SET attempts = ?, last_error = ?, dead = 1 WHERE seq = ?', [attempts, message, row.seq]);
      this.opts.db.run(
        `DELETE FROM studio_outbox WHERE dead = 1 AND seq NOT IN (SELECT seq FROM studio_outbox WHERE dead = 1 ORDER BY seq DESC LIMIT ${this.keepDead})`,
      );
      this.opts.logger.error({ report: row.id, app: row.appKey, stage: row.stage, attempts, err: message }, 'the backend keeps refusing an app state report; set aside');
      return;
    }
    this.opts.db.run('UPDATE studio_outbox SET attempts = ?, last_error = ? WHERE seq = ?', [attempts, message, row.seq]);
    const delay = backoffDelay(this.retry, attempts, this.opts.random());
    this.opts.logger.warn({ report: row.id, app: row.appKey, stage: row.stage, attempts, retryInMs: delay, err: message }, 'app state report not delivered; retrying');
    this.retryTimer = this.opts.clock.setTimer(() => {
      this.retryTimer = null;
      this.kick();
    }, delay);
  }
}
