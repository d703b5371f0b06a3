// The event journal on SQLite (node-sqlite3-wasm, one connection per process).
//
// Writes are group-committed: `append()` only buffers and hands out the next
// seq, `commit()` writes the whole buffer in one transaction through one
// prepared INSERT. The runtime commits before it runs the commands an event
// caused, so one fsync covers many events.
//
// node-sqlite3-wasm locks with `mkdir <db>.lock` for the whole of every
// transaction, readers included, so transactions stay short, and reads page
// through the table instead of holding a cursor open. A process killed inside
// a transaction leaves that directory behind and every later open fails with
// "database is locked"; only a caller that holds the single-instance lock may
// remove it (`staleLockRecovery`). The `-journal` such a process leaves is
// rolled back here, not by SQLite: see `rollbackHotJournal`.

import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readSync, renameSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import sqlite3 from 'node-sqlite3-wasm';
import type { Database, SQLiteValue, Statement } from 'node-sqlite3-wasm';
import type { DiscardedRange, Json, JournalPort, JournalRecord, NewJournalRecord } from '../../actors/types.js';
import { MIGRATIONS, applyMigrations, checkMigrationList, latestVersion, readUserVersion, type Migration } from './migrations.js';
import { describeStorageFailure, DiskFullError, isDiskFull, isStorageFailure } from './storage-problem.js';
import { checkJournalPath, quarantineLockFile } from './journal-path.js';
import { openLinkStorage, type LinkMigration, type LinkStorage, type LinkWriter } from './link-storage.js';

/** pino-compatible (and console-compatible): a context object, then the message. */
export interface JournalLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** Something `Journal.open` had to repair; the daemon journals or prints these. */
export interface Recovery {
  kind: 'corrupt' | 'newer-schema' | 'stale-lock' | 'quarantined';
  detail: string;
  /** Where the old file went (corrupt, newer-schema) or the lock dir removed (stale-lock). */
  path?: string;
}

export interface JournalOptions {
  /** The database file. Its directory is created if missing. */
  path: string;
  logger?: JournalLogger;
  /** Default size bound for `compact()`. */
  maxBytes?: number;
  /**
   * Remove a leftover `<db>.lock` dir before opening. Set it only while holding
   * the single-instance lock: otherwise the dir may belong to a live process.
   */
  staleLockRecovery?: boolean;
  /** How long an open or commit waits for another connection's lock. Default 5000. */
  busyTimeoutMs?: number;
  /** Schema steps; defaults to `MIGRATIONS`. Tests pass longer or shorter lists. */
  migrations?: readonly Migration[];
}

export interface RunInfo {
  run: string;
  startedAt: number;
  agentVersion: string;
  machines: Json;
}

export interface Snapshot {
  id: number;
  run: string;
  /** The last event whose effect the snapshot includes; replay resumes at seq + 1. */
  seq: number;
  at: number;
  data: Json;
}

export interface ReadEventsOptions {
  fromSeq?: number;
  toSeq?: number;
  run?: string;
  /** Rows fetched per query (and per read lock). Default 1000. */
  batch?: number;
}

export interface SnapshotInput {
  run: string;
  seq: number;
  at: number;
  data: Json;
}

export interface CompactOptions {
  /** Called only when compaction is needed: returns the snapshot that replaces the history. */
  keepSnapshotData: () => SnapshotInput;
  /** Overrides the `maxBytes` given to `Journal.open`. */
  maxBytes?: number;
}

export interface CompactResult {
  bytesBefore: number;
  bytesAfter: number;
  snapshotSeq: number;
  deletedEvents: number;
  deletedSnapshots: number;
}

/** The open failed on `<db>.lock`: some process is (or was, when killed) inside a transaction. */
export class JournalLockedError extends Error {
  constructor(
    readonly dbPath: string,
    readonly lockDir: string,
    options?: { cause?: unknown },
  ) {
    super(
      `journal ${dbPath} is locked: the SQLite lock dir ${lockDir} exists. Another process is inside a ` +
        `transaction on this file, or one was killed inside one. If no other reagent uses this agent dir, ` +
        `start with stale lock recovery (done automatically while holding the instance lock) or run: rmdir ${lockDir}`,
      options,
    );
    this.name = 'JournalLockedError';
  }
}

const stderrLogger: JournalLogger = {
  info: () => {},
  warn: (obj, msg) => console.warn(`journal: ${msg}`, obj),
  error: (obj, msg) => console.error(`journal: ${msg}`, obj),
};

/**
 * Removes `<db>.lock` (a directory) if present. Only safe when no other process
 * can be using the database: the caller must hold the single-instance lock.
 * The hot `-journal` such a crash leaves needs `rollbackHotJournal` afterwards
 * (`Journal.open` does both).
 */
export function recoverStaleSqliteLock(dbPath: string, logger: JournalLogger = stderrLogger): boolean {
  const full = resolve(dbPath);
  const lockDir = `${full}.lock`;
  try {
    rmdirSync(lockDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new Error(`cannot remove stale SQLite lock dir ${lockDir}: ${(err as Error).message}`, { cause: err });
  }
  logger.warn(
    { lockDir, hotJournal: existsSync(`${full}-journal`) },
    'removed a stale SQLite lock dir left by a process killed inside a transaction',
  );
  return true;
}

const JOURNAL_MAGIC = Buffer.from('d9d505f920a163d7', 'hex');
const JOURNAL_HEADER_FIELDS = 28;

export interface RollbackResult {
  /** Pages copied back from the journal into the database file. */
  pages: number;
  /** The database size the transaction started from, in pages. */
  restoredSize: number;
}

/**
 * Rolls back a hot `<db>-journal` left by a process killed inside a write.
 *
 * node-sqlite3-wasm cannot do it itself: its xCheckReservedLock reports the
 * `.lock` dir that the checking connection has just created for its own
 * SHARED lock, so SQLite always concludes another connection owns the journal
 * and reads the half-written file ("database disk image is malformed", or
 * worse, rows that silently vanish or reappear). This replays the journal the
 * way SQLite's pager_playback does (format: sqlite.org/fileformat.html, "The
 * Rollback Journal"), holding the VFS's lock dir meanwhile so no connection of
 * this driver can start a transaction halfway. Returns null when there is no
 * journal, or when the lock dir exists (a live writer owns the journal, or a
 * stale lock the caller may not remove: the open then fails as locked), or
 * when the file has no valid journal header (nothing reached the database).
 */
export function rollbackHotJournal(dbPath: string, logger: JournalLogger = stderrLogger): RollbackResult | null {
  const db = resolve(dbPath);
  const journalPath = `${db}-journal`;
  const lockDir = `${db}.lock`;
  if (!existsSync(journalPath)) return null;
  try {
    mkdirSync(lockDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw new Error(`cannot take SQLite lock dir ${lockDir} to roll back ${journalPath}: ${(err as Error).message}`, { cause: err });
  }
  try {
    if (!existsSync(journalPath)) return null; // its writer committed between our two looks
    if (!existsSync(db)) {
      unlinkSync(journalPath); // nothing to restore into; SQLite deletes such a journal too
      return null;
    }
    const jfd = openSync(journalPath, 'r');
    const dfd = openSync(db, 'r+');
    let result: RollbackResult | null;
    try {
      result = playback(jfd, fstatSync(jfd).size, dfd);
      // the restored pages must be on disk before the journal, their only other copy, goes
      if (result !== null) fsyncSync(dfd);
    } finally {
      closeSync(dfd);
      closeSync(jfd);
    }
    // no valid header: not a journal of an interrupted write; the next write overwrites it
    if (result === null) return null;
    unlinkSync(journalPath);
    logger.warn({ journal: journalPath, ...result }, 'rolled back a transaction interrupted by a crash');
    return result;
  } finally {
    rmdirSync(lockDir);
  }
}

/** null when the first header is missing or invalid: then nothing was written to the database. */
function playback(jfd: number, size: number, dfd: number): RollbackResult | null {
  const result: RollbackResult = { pages: 0, restoredSize: 0 };
  let off = 0;
  let sector = 0;
  let pageSize = 0;
  let dbPages = 0;
  for (let first = true; ; first = false) {
    // every header after the first starts on a sector boundary
    if (!first) off = Math.ceil(off / sector) * sector;
    if (off + JOURNAL_HEADER_FIELDS > size) return first ? null : result;
    const hdr = readAt(jfd, off, JOURNAL_HEADER_FIELDS);
    if (!hdr.subarray(0, 8).equals(JOURNAL_MAGIC)) return first ? null : result;
    let nRec = hdr.readUInt32BE(8);
    const nonce = hdr.readUInt32BE(12);
    const origPages = hdr.readUInt32BE(16);
    if (first) {
      sector = hdr.readUInt32BE(20);
      pageSize = hdr.readUInt32BE(24);
      // an implausible header means the journal never got past its first write
      if (!isPow2(pageSize) || pageSize < 512 || pageSize > 65536 || !isPow2(sector) || sector < 32 || sector > 65536) return null;
    }
    if (off + sector > size) return first ? null : result;
    off += sector;
    const recSize = pageSize + 8;
    if (nRec === 0xffffffff) nRec = Math.floor((size - sector) / recSize);
    if (first) {
      // pages the transaction appended go; the header of page 1 comes back from the journal
      ftruncateSync(dfd, origPages * pageSize);
      dbPages = origPages;
      result.restoredSize = origPages;
    }
    const pendingBytePage = Math.floor(0x40000000 / pageSize) + 1;
    for (let u = 0; u < nRec; u++) {
      if (off + recSize > size) return result; // torn tail: nothing after it was written to the db
      const rec = readAt(jfd, off, recSize);
      off += recSize;
      const pgno = rec.readUInt32BE(0);
      if (pgno === 0 || pgno === pendingBytePage) return result;
      if (pgno > dbPages) continue;
      const data = rec.subarray(4, 4 + pageSize);
      if (pageChecksum(data, nonce) !== rec.readUInt32BE(4 + pageSize)) return result;
      writeSync(dfd, data, 0, pageSize, (pgno - 1) * pageSize);
      result.pages++;
    }
  }
}

/** SQLite's pager_cksum: the nonce plus every 200th byte, from the end of the page down. */
function pageChecksum(page: Uint8Array, nonce: number): number {
  let sum = nonce;
  for (let i = page.length - 200; i > 0; i -= 200) sum = (sum + page[i]!) >>> 0;
  return sum;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, position);
  if (n !== length) throw new Error(`short read of SQLite journal: ${n} of ${length} bytes at ${position}`);
  return buf;
}

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

type Row = [
  seq: number,
  run: string,
  at: number,
  source: string,
  actor: string,
  type: string,
  payload: string,
  rand: number,
  state: string | null,
  ctx: number | null,
  cmds: string,
];

const STATE = 8;
const CTX = 9;
const CMDS = 10;

type Problem = { kind: 'corrupt'; detail: string } | { kind: 'newer-schema'; detail: string; version: number };

/** The `events` columns in `JournalRecord` order, for readers of the file (see `decodeEvent`). */
export const EVENT_COLUMNS = 'seq, run, at, source, actor, type, payload, rand, state, ctx, cmds';

const INSERT_EVENT = `INSERT INTO events (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export class Journal implements JournalPort {
  readonly path: string;
  /** Repairs done while opening, oldest first. Empty on a clean start. */
  readonly recovered: readonly Recovery[];
  private readonly db: Database;
  private readonly logger: JournalLogger;
  private readonly maxBytes: number | undefined;
  /** The prepared INSERT; null after a failed commit, until the next one prepares it again. */
  private insert: Statement | null;
  private next: number;
  private buffer: Row[] = [];
  private readonly pendingOutcomes = new Map<number, [state: string | null, ctx: number | null, cmds: string]>();
  /** Links' writes caused by the buffered events: they commit in the same transaction (see link-storage.ts). */
  private linkWrites: Array<{ link: string; write: (tx: LinkWriter) => void; bytes: number }> = [];
  /** A run row whose write failed (disk full at start): it goes with the next commit. */
  private pendingRun: [run: string, startedAt: number, agentVersion: string, machines: string] | null = null;
  /** About how much memory the buffer and pending outcomes hold. */
  private pendingSize = 0;
  private closed = false;

  private constructor(path: string, db: Database, logger: JournalLogger, maxBytes: number | undefined, recovered: Recovery[]) {
    this.path = path;
    this.db = db;
    this.logger = logger;
    this.maxBytes = maxBytes;
    this.recovered = recovered;
    this.insert = db.prepare(INSERT_EVENT);
    this.next = highestSeq(db) + 1;
  }

  static open(opts: JournalOptions): Journal {
    const path = resolve(opts.path);
    const logger = opts.logger ?? stderrLogger;
    const migrations = opts.migrations ?? MIGRATIONS;
    checkMigrationList(migrations);
    if (opts.maxBytes !== undefined && !(opts.maxBytes > 0)) {
      throw new RangeError(`Journal.open: maxBytes must be a positive number of bytes, got ${opts.maxBytes}`);
    }
    mkdirSync(dirname(path), { recursive: true });
    // A directory or a dangling symlink at the path: JournalPathError, one line, before SQLite says something vaguer.
    checkJournalPath(path);

    const recovered: Recovery[] = [];
    if (opts.staleLockRecovery === true) {
      const movedTo = quarantineLockFile(path, new Date());
      if (movedTo !== null) {
        // logged by whoever reads `recovered` (the daemon logs and journals each recovery)
        const detail = `${path}.lock was not SQLite's lock directory (a file); moved it to ${movedTo}`;
        recovered.push({ kind: 'quarantined', detail, path: movedTo });
      }
    }
    const staleLock = opts.staleLockRecovery === true && recoverStaleSqliteLock(path, logger);
    const rollback = rollbackHotJournal(path, logger);
    if (staleLock || rollback !== null) {
      const done = [
        ...(staleLock ? [`removed stale SQLite lock dir ${path}.lock`] : []),
        ...(rollback === null ? [] : [`rolled back the interrupted transaction in ${path}-journal (${rollback.pages} pages restored)`]),
      ];
      recovered.push({ kind: 'stale-lock', detail: done.join('; '), path: `${path}.lock` });
    }

    try {
      const db = openChecked(path, opts.busyTimeoutMs ?? 5000, latestVersion(migrations), logger, recovered);
      try {
        prepareSchema(db, migrations, logger, path);
        return new Journal(path, db, logger, opts.maxBytes, recovered);
      } catch (err) {
        try {
          db.close();
        } catch {
          // closed all the same; the first error is the one to report
        }
        throw err;
      }
    } catch (err) {
      // Creating or migrating the file on a full disk: say so, not "disk I/O error".
      const message = (err as Error).message;
      if (!isStorageFailure(message)) throw err;
      const cause = describeStorageFailure(path, message);
      if (isDiskFull(cause)) throw new DiskFullError(`the journal ${path} cannot be written: ${cause}`, { cause: err });
      throw err;
    }
  }

  /** The seq the next `append()` returns. */
  get nextSeq(): number {
    return this.next;
  }

  /** Records appended but not yet committed. */
  get pending(): number {
    return this.buffer.length;
  }

  /** About how many bytes of memory the records and outcomes not yet committed hold. */
  pendingBytes(): number {
    return this.pendingSize;
  }

  /**
   * Forgets every record and outcome not yet committed: the runtime's memory
   * bound was reached while commits fail. A pending run row is kept, and so
   * are the links' queued writes: they are the current picture (an app's
   * standing request, its last report) that the gap snapshot stands for,
   * and losing one would make the next boot remove an app as an orphan.
   */
  discardPending(): DiscardedRange | null {
    this.assertOpen('discardPending');
    if (this.buffer.length === 0 && this.pendingOutcomes.size === 0) return null;
    const first = this.buffer[0];
    const range: DiscardedRange = { from: first ? first[0] : this.next - 1, to: this.next - 1, count: this.buffer.length };
    this.buffer = [];
    this.pendingOutcomes.clear();
    this.pendingSize = this.linkWrites.reduce((sum, w) => sum + w.bytes, 0);
    return range;
  }

  /**
   * A link's storage in this file: runs its migrations (`link_schema` keeps
   * each link's version) and queues its event-caused writes into `commit()`.
   */
  storage(link: string, migrations: readonly LinkMigration[]): LinkStorage {
    this.assertOpen('storage');
    return openLinkStorage(
      {
        db: this.db,
        queue: (name, write, bytes) => {
          this.assertOpen('storage queue');
          this.linkWrites.push({ link: name, write, bytes });
          this.pendingSize += bytes;
        },
      },
      link,
      migrations,
    );
  }

  /** Link writes waiting for the next commit. */
  get pendingLinkWrites(): number {
    return this.linkWrites.length;
  }

  /**
   * The process's only connection, for the journal's readers and tests. Links
   * keep their tables through `storage()` instead. Keep transactions short; never close it.
   */
  get connection(): Database {
    this.assertOpen('connection');
    return this.db;
  }

  append(record: NewJournalRecord): number {
    this.assertOpen('append');
    const payload = JSON.stringify(record.payload);
    // JSON.stringify returns undefined for undefined/functions; SQLite would store NULL and replay would break
    if (payload === undefined) throw new TypeError(`journal append: payload of ${record.type} is not JSON`);
    assertNoNul('append', record.type, 'run', record.run);
    assertNoNul('append', record.type, 'source', record.source);
    assertNoNul('append', record.type, 'actor', record.actor);
    assertNoNul('append', record.type, 'type', record.type);
    assertNoNul('append', record.type, 'state', record.state);
    const seq = this.next++;
    // Strings are UTF-16 in memory; the row array and numbers cost about 120 bytes more.
    this.pendingSize += 2 * (payload.length + record.run.length + record.source.length + record.actor.length + record.type.length + (record.state?.length ?? 0)) + 120;
    this.buffer.push([
      seq,
      record.run,
      record.at,
      record.source,
      record.actor,
      record.type,
      payload,
      record.rand,
      record.state,
      record.ctx,
      JSON.stringify(record.cmds),
    ]);
    return seq;
  }

  setOutcome(seq: number, outcome: Pick<JournalRecord, 'state' | 'ctx' | 'cmds'>): void {
    this.assertOpen('setOutcome');
    if (!Number.isInteger(seq) || seq < 1 || seq >= this.next) {
      throw new RangeError(`journal setOutcome: seq ${seq} was never appended (next seq is ${this.next})`);
    }
    assertNoNul('setOutcome', `seq ${seq}`, 'state', outcome.state);
    const cmds = JSON.stringify(outcome.cmds);
    const first = this.buffer[0];
    if (first !== undefined && seq >= first[0]) {
      const row = this.buffer[seq - first[0]]!;
      row[STATE] = outcome.state;
      row[CTX] = outcome.ctx;
      row[CMDS] = cmds;
      return;
    }
    // Already written: the UPDATE rides along with the next commit, so it costs no extra fsync.
    if (this.db.get('SELECT 1 AS x FROM events WHERE seq = ?', seq) === null) {
      throw new RangeError(`journal setOutcome: seq ${seq} is no longer in ${this.path} (compacted away?)`);
    }
    this.pendingSize += 2 * (cmds.length + (outcome.state?.length ?? 0)) + 80;
    this.pendingOutcomes.set(seq, [outcome.state, outcome.ctx, cmds]);
  }

  commit(): void {
    this.assertOpen('commit');
    if (this.buffer.length === 0 && this.pendingOutcomes.size === 0 && this.pendingRun === null && this.linkWrites.length === 0) return;
    const db = this.db;
    let dropped: Array<{ link: string; err: unknown }> = [];
    try {
      rollbackQuietly(db); // a ROLLBACK that failed last time (disk full) left the transaction open
      db.exec('BEGIN IMMEDIATE');
      if (this.pendingRun) db.run('INSERT INTO runs (run, started_at, agent_version, machines) VALUES (?, ?, ?, ?)', this.pendingRun);
      const insert = (this.insert ??= db.prepare(INSERT_EVENT));
      for (const row of this.buffer) insert.run(row);
      if (this.pendingOutcomes.size > 0) {
        const update = db.prepare('UPDATE events SET state = ?, ctx = ?, cmds = ? WHERE seq = ?');
        try {
          for (const [seq, [state, ctx, cmds]] of this.pendingOutcomes) update.run([state, ctx, cmds, seq]);
        } finally {
          finalizeQuietly(update);
        }
      }
      dropped = runLinkWrites(db, this.linkWrites);
      db.exec('COMMIT');
    } catch (err) {
      // the buffer stays, so a later commit() retries the same records; the statement
      // keeps the failed step's error and would report it again, so it is made afresh
      this.dropInsert();
      rollbackQuietly(db);
      const what = this.buffer.length === 0 && this.pendingRun ? 'the run record' : `${this.buffer.length} records`;
      throw new Error(`journal ${this.path}: commit of ${what} failed: ${this.describe(err)}`, {
        cause: err,
      });
    }
    this.buffer = [];
    this.pendingOutcomes.clear();
    this.linkWrites = [];
    this.pendingRun = null;
    this.pendingSize = 0;
    for (const d of dropped) {
      this.logger.error({ link: d.link, err: d.err instanceof Error ? d.err.message : String(d.err) }, 'a link write failed and was left out of the commit');
    }
  }

  /**
   * Records a daemon start, at once: events of the run refer to it. When the
   * disk cannot take it (full, failing), the row waits for the next commit
   * instead of stopping the start, and the reason is returned; null when written.
   */
  appendRun(run: string, startedAt: number, agentVersion: string, machines: Json): string | null {
    this.assertOpen('appendRun');
    assertNoNul('appendRun', run, 'run', run);
    assertNoNul('appendRun', run, 'agentVersion', agentVersion);
    const row: [string, number, string, string] = [run, startedAt, agentVersion, JSON.stringify(machines)];
    try {
      this.db.run('INSERT INTO runs (run, started_at, agent_version, machines) VALUES (?, ?, ?, ?)', row);
      return null;
    } catch (err) {
      if (!isStorageFailure((err as Error).message)) throw err;
      rollbackQuietly(this.db);
      this.pendingRun = row;
      return this.describe(err);
    }
  }

  private dropInsert(): void {
    const insert = this.insert;
    this.insert = null;
    if (insert) finalizeQuietly(insert);
  }

  /** A storage error in words: "disk full (…)" rather than SQLite's "disk I/O error". */
  private describe(err: unknown): string {
    return describeStorageFailure(this.path, err instanceof Error ? err.message : String(err));
  }

  runs(): RunInfo[] {
    this.assertOpen('runs');
    return this.db.all('SELECT run, started_at, agent_version, machines FROM runs ORDER BY started_at, rowid').map((r) => {
      const row = r as Record<string, SQLiteValue>;
      return {
        run: row['run'] as string,
        startedAt: row['started_at'] as number,
        agentVersion: row['agent_version'] as string,
        machines: JSON.parse(row['machines'] as string) as Json,
      };
    });
  }

  /**
   * Committed events in seq order (buffered ones are not visible). Each page is
   * its own short query, so a slow consumer never holds the file lock and
   * commits may run between pages.
   */
  *readEvents(opts: ReadEventsOptions = {}): Generator<JournalRecord, void, undefined> {
    this.assertOpen('readEvents');
    const batch = opts.batch ?? 1000;
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`journal readEvents: batch must be an integer >= 1, got ${batch}`);
    const to = opts.toSeq ?? Number.MAX_SAFE_INTEGER;
    const sql =
      `SELECT ${EVENT_COLUMNS} FROM events WHERE seq >= ? AND seq <= ?` +
      (opts.run === undefined ? '' : ' AND run = ?') +
      ' ORDER BY seq LIMIT ?';
    let from = opts.fromSeq ?? Number.MIN_SAFE_INTEGER;
    for (;;) {
      const params: (string | number)[] = opts.run === undefined ? [from, to, batch] : [from, to, opts.run, batch];
      const rows = this.db.all(sql, params) as Record<string, SQLiteValue>[];
      for (const row of rows) yield decodeEvent(row);
      if (rows.length < batch) return;
      from = (rows[rows.length - 1]!['seq'] as number) + 1;
    }
  }

  /** Commits the buffer first, so a snapshot is never ahead of the events it summarises. Returns its id. */
  writeSnapshot(run: string, seq: number, at: number, data: Json): number {
    this.assertOpen('writeSnapshot');
    if (!Number.isInteger(seq) || seq < 1 || seq >= this.next) {
      throw new RangeError(`journal writeSnapshot: seq ${seq} was never appended (next seq is ${this.next})`);
    }
    const json = JSON.stringify(data);
    if (json === undefined) throw new TypeError(`journal writeSnapshot: data for run ${run} is not JSON`);
    assertNoNul('writeSnapshot', run, 'run', run);
    this.commit();
    const info = this.db.run('INSERT INTO snapshots (run, seq, at, data) VALUES (?, ?, ?, ?)', [run, seq, at, json]);
    return Number(info.lastInsertRowid);
  }

  /** The newest snapshot of `run`, or of those with seq < `beforeSeq` when given. */
  latestSnapshot(run: string, beforeSeq?: number): Snapshot | undefined {
    this.assertOpen('latestSnapshot');
    const row = (
      beforeSeq === undefined
        ? this.db.get('SELECT id, run, seq, at, data FROM snapshots WHERE run = ? ORDER BY seq DESC, id DESC LIMIT 1', [run])
        : this.db.get('SELECT id, run, seq, at, data FROM snapshots WHERE run = ? AND seq < ? ORDER BY seq DESC, id DESC LIMIT 1', [
            run,
            beforeSeq,
          ])
    ) as Record<string, SQLiteValue> | null;
    if (row === null) return undefined;
    return {
      id: row['id'] as number,
      run: row['run'] as string,
      seq: row['seq'] as number,
      at: row['at'] as number,
      data: JSON.parse(row['data'] as string) as Json,
    };
  }

  /** page_count × page_size: the file size once free pages are vacuumed away. */
  sizeBytes(): number {
    this.assertOpen('sizeBytes');
    return pragmaNumber(this.db, 'page_count') * pragmaNumber(this.db, 'page_size');
  }

  /**
   * Drops the history before the snapshot at `seq`: every event with a smaller
   * seq (seqs are global, so that is the older part of the snapshot's run and
   * all of older runs) and every other snapshot up to it, then returns the
   * freed pages to the file system. Refuses when no snapshot at `seq` exists,
   * because the deleted events would then be lost without a summary.
   * `runs` rows stay: they are small and tell when the agent started.
   */
  compactBefore(seq: number): { deletedEvents: number; deletedSnapshots: number } {
    this.assertOpen('compactBefore');
    this.commit();
    const keep = this.db.get('SELECT id FROM snapshots WHERE seq = ? ORDER BY id DESC LIMIT 1', [seq]);
    if (keep === null) {
      throw new Error(`journal compactBefore(${seq}): no snapshot at seq ${seq} in ${this.path}; write one with writeSnapshot() first`);
    }
    const db = this.db;
    let deletedEvents = 0;
    let deletedSnapshots = 0;
    db.exec('BEGIN IMMEDIATE');
    try {
      deletedEvents = db.run('DELETE FROM events WHERE seq < ?', [seq]).changes;
      deletedSnapshots = db.run('DELETE FROM snapshots WHERE seq <= ? AND id <> ?', [seq, keep['id'] as number]).changes;
      // keeps nextSeq from falling back below deleted seqs should the snapshot go too
      db.run(
        "INSERT INTO meta (key, value) VALUES ('compacted_before', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [String(seq)],
      );
      db.exec('COMMIT');
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw new Error(`journal ${this.path}: compactBefore(${seq}) failed: ${(err as Error).message}`, { cause: err });
    }
    db.exec('PRAGMA incremental_vacuum');
    return { deletedEvents, deletedSnapshots };
  }

  /**
   * Keeps the file under `maxBytes`: when it is larger, asks for a snapshot,
   * writes it and compacts everything before it. Returns null when nothing was needed.
   */
  compact(opts: CompactOptions): CompactResult | null {
    this.assertOpen('compact');
    const limit = opts.maxBytes ?? this.maxBytes;
    if (limit === undefined || !(limit > 0)) {
      throw new RangeError(`journal compact: maxBytes must be a positive number (pass it to compact() or Journal.open()), got ${limit}`);
    }
    this.commit();
    const bytesBefore = this.sizeBytes();
    if (bytesBefore <= limit) return null;
    const snap = opts.keepSnapshotData();
    this.writeSnapshot(snap.run, snap.seq, snap.at, snap.data);
    const { deletedEvents, deletedSnapshots } = this.compactBefore(snap.seq);
    const bytesAfter = this.sizeBytes();
    if (bytesAfter > limit) {
      this.logger.warn(
        { path: this.path, bytesAfter, maxBytes: limit, snapshotSeq: snap.seq },
        'journal is still above maxBytes after compaction: the snapshot and the events after it alone are larger',
      );
    }
    return { bytesBefore, bytesAfter, snapshotSeq: snap.seq, deletedEvents, deletedSnapshots };
  }

  /**
   * Commits what is buffered, then closes, always: a commit that fails (disk
   * full) is thrown after the file is closed, so the caller can say what was
   * lost. Closing twice is a no-op.
   */
  close(): void {
    if (this.closed) return;
    let failure: unknown = null;
    try {
      this.commit();
    } catch (err) {
      failure = err;
    }
    this.closed = true;
    this.dropInsert();
    try {
      this.db.close();
    } catch (err) {
      failure ??= err;
    }
    if (failure !== null) throw failure;
  }

  private assertOpen(op: string): void {
    if (this.closed) throw new Error(`journal ${op}: ${this.path} is closed`);
  }
}

/**
 * The links' queued writes, inside the commit's transaction. Each runs in a
 * savepoint: a write that fails for its own reason (a bug, a constraint) is
 * undone and left out, so it never holds the events back; a storage failure
 * (disk full) fails the whole commit, and everything is retried together.
 */
function runLinkWrites(db: Database, writes: ReadonlyArray<{ link: string; write: (tx: LinkWriter) => void }>): Array<{ link: string; err: unknown }> {
  const dropped: Array<{ link: string; err: unknown }> = [];
  for (const w of writes) {
    db.exec('SAVEPOINT link_write');
    try {
      w.write(db);
      db.exec('RELEASE link_write');
    } catch (err) {
      if (isStorageFailure((err as Error).message)) throw err;
      db.exec('ROLLBACK TO link_write');
      db.exec('RELEASE link_write');
      dropped.push({ link: w.link, err });
    }
  }
  return dropped;
}

/** finalize() repeats the statement's last error (a failed write); the statement is gone all the same. */
function finalizeQuietly(statement: Statement): void {
  try {
    statement.finalize();
  } catch {
    // already reported by the step that failed
  }
}

/** Ends a failed transaction; if even that fails, the connection ends it when it is closed or the next write begins. */
function rollbackQuietly(db: Database): void {
  try {
    if (db.inTransaction) db.exec('ROLLBACK');
  } catch {
    // still in a transaction: the next commit() tries again, and a restart rolls the hot journal back (rollbackHotJournal)
  }
}

/**
 * node-sqlite3-wasm passes text to SQLite as a C string, so everything after a
 * NUL would silently vanish. JSON columns are safe (JSON escapes it as \u0000);
 * plain text columns refuse it instead of storing something else.
 */
function assertNoNul(op: string, what: string, field: string, value: string | null): void {
  if (value !== null && value.includes('\0')) {
    throw new TypeError(`journal ${op} (${what}): field ${field} contains a NUL character, which SQLite text cannot hold here`);
  }
}

/** One `SELECT ${EVENT_COLUMNS}` row as a record. */
export function decodeEvent(row: Record<string, SQLiteValue>): JournalRecord {
  return {
    seq: row['seq'] as number,
    run: row['run'] as string,
    at: row['at'] as number,
    source: row['source'] as string,
    actor: row['actor'] as string,
    type: row['type'] as string,
    payload: JSON.parse(row['payload'] as string) as Json,
    rand: row['rand'] as number,
    state: row['state'] as string | null,
    ctx: row['ctx'] as number | null,
    cmds: JSON.parse(row['cmds'] as string) as string[],
  };
}

function pragmaNumber(db: Database, name: string): number {
  const row = db.get(`PRAGMA ${name}`);
  const v = row?.[name];
  if (typeof v !== 'number') throw new Error(`PRAGMA ${name} returned ${JSON.stringify(row)}, expected a number`);
  return v;
}

/** Seqs must never be reused, even after compaction deleted the newest events' predecessors. */
function highestSeq(db: Database): number {
  const ev = db.get('SELECT MAX(seq) AS m FROM events')?.['m'];
  const snap = db.get('SELECT MAX(seq) AS m FROM snapshots')?.['m'];
  const floor = db.get("SELECT value FROM meta WHERE key = 'compacted_before'")?.['value'];
  return Math.max(typeof ev === 'number' ? ev : 0, typeof snap === 'number' ? snap : 0, typeof floor === 'string' ? Number(floor) : 0);
}

const CORRUPT = /SQLITE_CORRUPT|SQLITE_NOTADB|file is not a database|malformed|database corruption/i;
const LOCKED = /database is locked|SQLITE_BUSY/i;

/**
 * Opens the file and checks it. A corrupt file or one from a newer agent is
 * moved aside (never deleted) and a fresh one created in its place; a locked
 * one is an error, since only the caller can know whether the lock is stale.
 */
function openChecked(path: string, busyTimeoutMs: number, latest: number, logger: JournalLogger, recovered: Recovery[]): Database {
  for (let attempt = 0; ; attempt++) {
    const result = tryOpen(path, busyTimeoutMs, latest);
    if ('db' in result) return result.db;
    if (attempt > 0) {
      throw new Error(`journal ${path}: a freshly created file failed its start-up check (${result.problem.detail})`);
    }
    const problem = result.problem;
    const target =
      problem.kind === 'corrupt'
        ? `${path}.corrupt-${new Date().toISOString().replace(/[-:]/g, '')}`
        : `${path}.from-v${problem.version}`;
    const movedTo = moveAside(path, target);
    const detail =
      problem.kind === 'corrupt'
        ? `journal ${path} is corrupt (${problem.detail}); moved it to ${movedTo} and started a fresh journal`
        : `journal ${path} ${problem.detail}; moved it to ${movedTo} and started a fresh journal`;
    logger.error({ path, movedTo, reason: problem.detail }, detail);
    recovered.push({ kind: problem.kind, detail, path: movedTo });
  }
}

function tryOpen(path: string, busyTimeoutMs: number, latest: number): { db: Database } | { problem: Problem } {
  let db: Database | undefined;
  try {
    db = new sqlite3.Database(path);
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    // WAL needs shared memory, which this VFS lacks (the pragma silently stays 'delete')
    db.exec('PRAGMA journal_mode = DELETE');
    db.exec('PRAGMA synchronous = FULL');
    const check = db.all('PRAGMA quick_check').map((r) => String(Object.values(r)[0]));
    if (check.length !== 1 || check[0] !== 'ok') {
      db.close();
      return { problem: { kind: 'corrupt', detail: `quick_check: ${check.slice(0, 3).join('; ')}` } };
    }
    const version = readUserVersion(db);
    if (version > latest) {
      db.close();
      return {
        problem: {
          kind: 'newer-schema',
          detail: `has schema version ${version}, newer than this agent's newest migration ${latest} (written by a newer agent?)`,
          version,
        },
      };
    }
    return { db };
  } catch (err) {
    if (db?.isOpen) db.close();
    const msg = (err as Error).message;
    if (LOCKED.test(msg)) throw new JournalLockedError(path, `${path}.lock`, { cause: err });
    if (CORRUPT.test(msg)) return { problem: { kind: 'corrupt', detail: msg } };
    throw new Error(`journal ${path}: cannot open: ${msg}`, { cause: err });
  }
}

/** Renames the file (and its hot journal, which belongs to it) to a name not yet taken. */
function moveAside(path: string, target: string): string {
  let dest = target;
  for (let i = 1; existsSync(dest) || existsSync(`${dest}-journal`); i++) dest = `${target}-${i}`;
  renameSync(path, dest);
  // a leftover journal next to a fresh file would be "rolled back" into it
  if (existsSync(`${path}-journal`)) renameSync(`${path}-journal`, `${dest}-journal`);
  return dest;
}

/** Creates or upgrades the schema; a fresh file gets incremental auto-vacuum before its first table. */
function prepareSchema(db: Database, migrations: readonly Migration[], logger: JournalLogger, path: string): void {
  if (pragmaNumber(db, 'page_count') === 0) db.exec('PRAGMA auto_vacuum = INCREMENTAL');
  const { from, to } = applyMigrations(db, migrations);
  if (from !== to) logger.info({ path, from, to }, 'journal schema migrated');
  if (pragmaNumber(db, 'auto_vacuum') !== 2) {
    // files created before auto_vacuum was set need one full VACUUM to switch mode
    db.exec('PRAGMA auto_vacuum = INCREMENTAL');
    db.exec('VACUUM');
    logger.info({ path }, 'journal switched to incremental auto-vacuum');
  }
}
