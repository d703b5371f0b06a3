// Reads a journal file without ever writing to it: replay and bug reports use
// it, also next to a running daemon. Nothing here takes the instance lock.
//
// node-sqlite3-wasm holds its `<db>.lock` directory only inside a transaction,
// and every SELECT is one; so reads go page by page (each page is one short
// transaction) and a busy timeout makes a read wait for a commit in progress
// instead of failing. A hot `-journal` left by a crash is never rolled back in
// place: the pair is copied aside and rolled back there (see `stableCopy`).
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import sqlite3 from 'node-sqlite3-wasm';
import type { Database, SQLiteValue } from 'node-sqlite3-wasm';
import type { Json, JournalRecord } from '../../actors/types.js';
import { decodeEvent, EVENT_COLUMNS, rollbackHotJournal, type RunInfo, type Snapshot } from './journal.js';
import { MIGRATIONS, latestVersion } from './migrations.js';
import { RecordingRefusedError } from './recording-refused.js';

export interface EventRange {
  /** First seq (inclusive). */
  fromSeq?: number;
  /** Last seq (inclusive). */
  toSeq?: number;
  run?: string;
  /** Only events stamped at or after this time (ms since epoch). */
  sinceAt?: number;
  /** Rows per query, i.e. per read lock. Default 2000. */
  batch?: number;
}

export interface JournalReader {
  readonly path: string;
  /** What had to be done to read the file consistently (a crash's journal rolled back in a copy). */
  readonly notes: readonly string[];
  runs(): RunInfo[];
  snapshots(): Snapshot[];
  /** Highest seq in the file (0 when empty). */
  lastSeq(): number;
  events(range?: EventRange): Generator<JournalRecord, void, undefined>;
  /** The first event in the range, found by paging over (seq, run, at) only. */
  firstEvent(range?: EventRange): { seq: number; run: string; at: number } | null;
  close(): void;
}

const SQLITE_MAGIC = 'SQLite format 3\0';

// `EVENT_COLUMNS` in order, with the JSON columns embedded as JSON (one parse for all).
const PACKED_COLUMNS = 'seq, run, at, source, actor, type, json(payload), rand, state, ctx, json(cmds)';
type PackedRow = [number, string, number, string, string, string, Json, number, string | null, number | null, string[]];

function unpack(r: PackedRow): JournalRecord {
  return { seq: r[0], run: r[1], at: r[2], source: r[3], actor: r[4], type: r[5], payload: r[6], rand: r[7], state: r[8], ctx: r[9], cmds: r[10] };
}

export function isSqliteFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(16);
    const n = readSync(fd, buf, 0, 16, 0);
    return n === 16 && buf.toString('latin1') === SQLITE_MAGIC;
  } finally {
    closeSync(fd);
  }
}

export function openJournalReader(path: string, opts: { busyTimeoutMs?: number } = {}): JournalReader {
  const full = resolve(path);
  if (!existsSync(full)) throw new Error(`${path}: no such file`);
  const copy = stableCopy(full);
  let db: Database;
  try {
    db = new sqlite3.Database(copy.file, { readOnly: true, fileMustExist: true });
  } catch (err) {
    copy.cleanup();
    throw new Error(`${path}: cannot open read-only: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    const version = Number(db.get('PRAGMA user_version')?.['user_version'] ?? 0);
    if (version > latestVersion(MIGRATIONS)) {
      throw new RecordingRefusedError(
        `${path}: journal schema v${version} is newer than this agent understands (v${latestVersion(MIGRATIONS)}); read it with the agent version that wrote it, or a newer one`,
      );
    }
    const tables = new Set(db.all("SELECT name FROM sqlite_master WHERE type = 'table'").map((r) => String(r['name'])));
    for (const t of ['events', 'runs', 'snapshots']) {
      if (!tables.has(t)) throw new Error(`table "${t}" is missing`);
    }
  } catch (err) {
    db.close();
    copy.cleanup();
    if (err instanceof RecordingRefusedError) throw err;
    throw new Error(`${path}: not a reagent journal (${(err as Error).message})`, { cause: err });
  }
  return new Reader(path, db, copy);
}

class Reader implements JournalReader {
  constructor(
    readonly path: string,
    private readonly db: Database,
    private readonly copy: { notes: string[]; cleanup: () => void },
  ) {}

  get notes(): readonly string[] {
    return this.copy.notes;
  }

  runs(): RunInfo[] {
    return this.db.all('SELECT run, started_at, agent_version, machines FROM runs ORDER BY started_at, rowid').map((row) => ({
      run: String(row['run']),
      startedAt: Number(row['started_at']),
      agentVersion: String(row['agent_version']),
      machines: JSON.parse(String(row['machines'])) as Json,
    }));
  }

  snapshots(): Snapshot[] {
    return this.db.all('SELECT id, run, seq, at, data FROM snapshots ORDER BY seq, id').map((row) => ({
      id: Number(row['id']),
      run: String(row['run']),
      seq: Number(row['seq']),
      at: Number(row['at']),
      data: JSON.parse(String(row['data'])) as Json,
    }));
  }

  lastSeq(): number {
    const m = this.db.get('SELECT MAX(seq) AS m FROM events')?.['m'];
    return typeof m === 'number' ? m : 0;
  }

  *events(range: EventRange = {}): Generator<JournalRecord, void, undefined> {
    const batch = range.batch ?? 2000;
    const where = ['seq > ?', 'seq <= ?'];
    if (range.run !== undefined) where.push('run = ?');
    if (range.sinceAt !== undefined) where.push('at >= ?');
    const page = `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`;
    // One JSON text per page: crossing into WebAssembly once per page instead
    // of once per column of every row makes reading 3-4x faster.
    const packed = `SELECT '[' || group_concat(json_array(${PACKED_COLUMNS}), ',') || ']' AS page FROM (${page})`;
    let after = (range.fromSeq ?? Number.MIN_SAFE_INTEGER + 1) - 1;
    const to = range.toSeq ?? Number.MAX_SAFE_INTEGER;
    for (;;) {
      const params: (string | number)[] = [after, to];
      if (range.run !== undefined) params.push(range.run);
      if (range.sinceAt !== undefined) params.push(range.sinceAt);
      params.push(batch);
      let records: JournalRecord[];
      try {
        const text = this.db.get(packed, params)?.['page'];
        records = typeof text === 'string' ? (JSON.parse(text) as PackedRow[]).map(unpack) : [];
      } catch {
        // A payload that is not valid JSON fails the whole packed page: read it row by row, which names the row.
        records = (this.db.all(page, params) as Record<string, SQLiteValue>[]).map(decodeEvent);
      }
      for (const r of records) yield r;
      if (records.length < batch) return;
      after = records[records.length - 1]!.seq;
    }
  }

  firstEvent(range: EventRange = {}): { seq: number; run: string; at: number } | null {
    const batch = range.batch ?? 20_000;
    const where = ['seq > ?', 'seq <= ?'];
    if (range.run !== undefined) where.push('run = ?');
    const sql = `SELECT seq, run, at FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`;
    let after = (range.fromSeq ?? Number.MIN_SAFE_INTEGER + 1) - 1;
    const to = range.toSeq ?? Number.MAX_SAFE_INTEGER;
    for (;;) {
      const params: (string | number)[] = range.run === undefined ? [after, to, batch] : [after, to, range.run, batch];
      const rows = this.db.all(sql, params) as Record<string, SQLiteValue>[];
      for (const row of rows) {
        const at = row['at'] as number;
        if (range.sinceAt === undefined || at >= range.sinceAt) return { seq: row['seq'] as number, run: row['run'] as string, at };
      }
      if (rows.length < batch) return null;
      after = rows[rows.length - 1]!['seq'] as number;
    }
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
    this.copy.cleanup();
  }
}

/**
 * A `-journal` next to the file while no `.lock` dir exists is what a process
 * killed inside a write leaves (a live writer always holds the lock dir while
 * its journal exists). SQLite would read the half-written pages through this
 * driver, so the pair is copied aside, under the lock dir so no writer can
 * start meanwhile, and rolled back in the copy. With the lock dir present a
 * writer is at work: read the file itself and let the busy timeout wait.
 */
function stableCopy(path: string): { file: string; notes: string[]; cleanup: () => void } {
  const none = { file: path, notes: [], cleanup: () => {} };
  if (!existsSync(`${path}-journal`)) return none;
  const lockDir = `${path}.lock`;
  try {
    mkdirSync(lockDir);
  } catch {
    return none;
  }
  let dir: string | undefined;
  try {
    if (!existsSync(`${path}-journal`)) return none;
    dir = mkdtempSync(join(tmpdir(), 'reagent-read-'));
    const file = join(dir, basename(path));
    copyFileSync(path, file);
    copyFileSync(`${path}-journal`, `${file}-journal`);
    const done = rollbackHotJournal(file, { info() {}, warn() {}, error() {} });
    const tmp = dir;
    dir = undefined;
    return {
      file,
      notes: done ? [`${path} had a hot journal from an interrupted write; read a copy rolled back by ${done.pages} page(s)`] : [],
      cleanup: () => rmSync(tmp, { recursive: true, force: true }),
    };
  } finally {
    rmdirSync(lockDir);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
