// A recording to replay: either a journal database (opened read-only, never
// migrated or repaired, so a bug report's file stays as it came) or an NDJSON
// export. Both yield the same records and snapshots.
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sqlite3 from 'node-sqlite3-wasm';
import type { JournalRecord } from '../../actors/types.js';
import { readExport, type ExportHeader, type ExportSnapshot } from './export.js';
import { decodeEvent, EVENT_COLUMNS, rollbackHotJournal } from './journal.js';

export interface Recording {
  kind: 'journal' | 'export';
  header?: ExportHeader;
  snapshots: ExportSnapshot[];
  records(filter?: { run?: string }): Iterable<JournalRecord>;
  close(): void;
}

const SQLITE_MAGIC = 'SQLite format 3\0';

export function openRecording(path: string): Recording {
  return isSqlite(path) ? openJournalFile(path) : openExportFile(path);
}

function isSqlite(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(16);
    const n = readSync(fd, buf, 0, 16, 0);
    return n === 16 && buf.toString('latin1') === SQLITE_MAGIC;
  } finally {
    closeSync(fd);
  }
}

function openExportFile(path: string): Recording {
  const exp = readExport(path);
  return {
    kind: 'export',
    header: exp.header,
    snapshots: exp.header.snapshots,
    *records(filter) {
      for (const r of exp.records()) if (filter?.run === undefined || r.run === filter.run) yield r;
    },
    close() {},
  };
}

/**
 * A journal copied off a device that crashed mid-transaction comes with a hot
 * `-journal`. The recording itself is never touched: the pair is copied aside
 * and rolled back there.
 */
function stableCopy(path: string): { file: string; cleanup: () => void } {
  if (!existsSync(`${path}-journal`)) return { file: path, cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'reagent-replay-'));
  const file = join(dir, basename(path));
  copyFileSync(path, file);
  copyFileSync(`${path}-journal`, `${file}-journal`);
  rollbackHotJournal(file, { info() {}, warn() {}, error() {} });
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function openJournalFile(path: string): Recording {
  const copy = stableCopy(path);
  let db: InstanceType<typeof sqlite3.Database>;
  try {
    db = new sqlite3.Database(copy.file, { readOnly: true });
  } catch (err) {
    copy.cleanup();
    throw err;
  }
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    const snapshots = (db.all('SELECT run, seq, at, data FROM snapshots ORDER BY seq') as Array<Record<string, unknown>>).map(
      (row) => ({ run: String(row['run']), seq: Number(row['seq']), at: Number(row['at']), data: JSON.parse(String(row['data'])) }),
    );
    return {
      kind: 'journal',
      snapshots,
      *records(filter) {
        // Paged by seq so a million events never sit in memory, and each read lock is short.
        const batch = 5000;
        let from = -1;
        for (;;) {
          const rows = db.all(
            `SELECT ${EVENT_COLUMNS} FROM events WHERE seq > ?` + (filter?.run ? ' AND run = ?' : '') + ' ORDER BY seq LIMIT ?',
            filter?.run ? [from, filter.run, batch] : [from, batch],
          ) as Array<Parameters<typeof decodeEvent>[0]>;
          for (const row of rows) yield decodeEvent(row);
          if (rows.length < batch) return;
          from = Number(rows[rows.length - 1]!['seq']);
        }
      },
      close() {
        db.close();
        copy.cleanup();
      },
    };
  } catch (err) {
    db.close();
    copy.cleanup();
    throw new Error(`${path}: not a reagent journal (${(err as Error).message})`, { cause: err });
  }
}
