// App state reports for `reswarm.containers.update_app_on_device`, through a
// durable outbox in the journal's SQLite file (table `studio_outbox`, the
// studio link's storage). The Reagent pushed reports fire-and-forget and lost
// every one sent while the link was down; here:
// - a report is a row before anything is sent, so a restart (SIGKILL
//   included) loses nothing that was accepted; a report caused by an event
//   (`queue`) is written in the same commit as that event's record, so a
//   crash leaves both or neither;
// - rows go out one at a time in `seq` order, so each app's reports arrive in
//   the order they happened; a row is deleted only once the backend answered;
// - each carries its id (`kwargs.report_id`): a report whose answer was lost
//   with the link is sent again, and the backend can recognise the repeat;
// - while the link is down, a new report of an app replaces the app's
//   undelivered ones: the studio needs where the app is, not every step it took;
// - a report the backend keeps refusing (an application error, not a lost
//   link) is retried with backoff and set aside as dead after `maxAttempts`.
import { randomUUID } from 'node:crypto';
import type { SQLiteValue } from 'node-sqlite3-wasm';
import type { Clock, TimerHandle } from '../../actors/clock.js';
import type { Json } from '../../actors/types.js';
import { backoffDelay, type BackoffPolicy } from '../../machines/backoff.js';
import { WampCallError } from './errors.js';
import type { LinkMigration, LinkStorage, LinkWriter } from '../store/link-storage.js';

/** The studio link's tables. Version 1 adopts the table the journal's migration 2 made in older files. */
export const STUDIO_STORAGE: readonly LinkMigration[] = [
  {
    version: 1,
    name: 'durable outbox of app state reports',
    sql: `
      -- one row per update_app_on_device report not yet acknowledged by the backend;
      -- seq is the delivery order, id travels with the report so the backend can drop a redelivery
      CREATE TABLE IF NOT EXISTS studio_outbox (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT    NOT NULL UNIQUE,
        app_key    TEXT    NOT NULL,
        stage      TEXT    NOT NULL,
        report     TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        last_error TEXT    NULL,
        dead       INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS studio_outbox_app ON studio_outbox (stage, app_key);
    `,
  },
];

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
  /** The studio link's storage (`journal.storage('studio', STUDIO_STORAGE)`). */
  storage: LinkStorage;
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

/** About the memory a queued report holds until its commit (a closure and a report of a dozen keys). */
const REPORT_BYTES = 600;

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

  /** Accepts a report no journaled event caused (a port report); it is durable when this returns. Returns its id. */
  enqueue(report: OutboxReport, at: number): string {
    const id = this.newId();
    this.opts.storage.write((tx) => this.insert(tx, id, report, at));
    this.kick();
    return id;
  }

  /**
   * Accepts a report caused by the event being dispatched: it is written in
   * the journal's next commit, with that event's record, and goes out after
   * `wake()` (the report's command runs once its cause is durable). Returns its id.
   */
  queue(report: OutboxReport | (() => OutboxReport), at: number): string {
    const id = this.newId();
    // A report given as a function is made when its row is written: it reads the app's standing request
    // as of the commit, which includes a REQUEST dispatched in the same turn whatever the subscriber order.
    this.opts.storage.queue((tx) => this.insert(tx, id, typeof report === 'function' ? report() : report, at), REPORT_BYTES);
    return id;
  }

  /** Reports were committed: deliver them if a session is online. */
  wake(): void {
    this.kick();
  }

  /** Reports waiting for delivery, in delivery order. */
  pending(): OutboxRow[] {
    return (this.opts.storage.all(`SELECT ${COLUMNS} FROM studio_outbox WHERE dead = 0 ORDER BY seq`) as Record<string, SQLiteValue>[]).map(decode);
  }

  dead(): OutboxRow[] {
    return (this.opts.storage.all(`SELECT ${COLUMNS} FROM studio_outbox WHERE dead = 1 ORDER BY seq`) as Record<string, SQLiteValue>[]).map(decode);
  }

  private insert(tx: LinkWriter, id: string, report: OutboxReport, at: number): void {
    const json = JSON.stringify(report);
    const appKey = String(report.app_key);
    // Decided when the row is written: whether the link is online then, not when the report was made.
    if (this.sender === null) {
      // Only reports of the same kind replace each other: a port report never drops a state report.
      tx.run(
        "DELETE FROM studio_outbox WHERE stage = ? AND app_key = ? AND dead = 0 AND (json_extract(report, '$.state') IS NULL) = ?",
        [report.stage, appKey, isPortReport(report) ? 1 : 0],
      );
    }
    tx.run('INSERT INTO studio_outbox (id, app_key, stage, report, created_at) VALUES (?, ?, ?, ?, ?)', [id, appKey, report.stage, json, at]);
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
      const r = this.opts.storage.get(`SELECT ${COLUMNS} FROM studio_outbox WHERE dead = 0 ORDER BY seq LIMIT 1`) as Record<string, SQLiteValue> | null;
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
      this.opts.storage.write((tx) => tx.run('DELETE FROM studio_outbox WHERE seq = ?', [row.seq]));
      this.opts.logger.debug({ report: row.id, app: row.appKey, stage: row.stage, state: row.report.state }, 'app state report delivered');
    }
  }

  private failed(row: OutboxRow, err: unknown): void {
    const transient = err instanceof WampCallError && err.transient;
    const attempts = row.attempts + 1;
    const message = err instanceof Error ? err.message : String(err);
    if (!transient && attempts >= this.maxAttempts) {
      this.opts.storage.write((tx) => {
        tx.run('UPDATE studio_outbox SET attempts = ?, last_error = ?, dead = 1 WHERE seq = ?', [attempts, message, row.seq]);
        tx.run(`DELETE FROM studio_outbox WHERE dead = 1 AND seq NOT IN (SELECT seq FROM studio_outbox WHERE dead = 1 ORDER BY seq DESC LIMIT ${this.keepDead})`);
      });
      this.opts.logger.error({ report: row.id, app: row.appKey, stage: row.stage, attempts, err: message }, 'the backend keeps refusing an app state report; set aside');
      return;
    }
    this.opts.storage.write((tx) => tx.run('UPDATE studio_outbox SET attempts = ?, last_error = ? WHERE seq = ?', [attempts, message, row.seq]));
    const delay = backoffDelay(this.retry, attempts, this.opts.random());
    this.opts.logger.warn({ report: row.id, app: row.appKey, stage: row.stage, attempts, retryInMs: delay, err: message }, 'app state report not delivered; retrying');
    this.retryTimer = this.opts.clock.setTimer(() => {
      this.retryTimer = null;
      this.kick();
    }, delay);
  }
}
