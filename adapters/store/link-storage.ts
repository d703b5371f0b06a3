// The storage port a link gets from the journal (`Journal.storage`): its own
// tables in the journal's file, its own forward-only migrations, and writes
// that join the journal's group commit.
//
// A write caused by an event (an app's standing request, its state report)
// is queued during the dispatch turn and executed inside the journal's next
// commit transaction, with the event records that caused it: a crash leaves
// both or neither, and a commit the disk refuses keeps them pending together
// and retries them together. Writes nothing journaled caused (a delivered
// report deleted, log history saved) run now, in a transaction of their own.
//
// Each link's schema version is kept per link in `link_schema`, apart from
// the journal's `PRAGMA user_version`, so a link can add a table without
// moving the journal's version (which an older agent would refuse).

import type { BindValues, Database, QueryResult } from 'node-sqlite3-wasm';

/** One forward-only step of a link's schema. Released steps are never edited. */
export interface LinkMigration {
  /** 1 for the first step of this link, then +1. */
  version: number;
  name: string;
  /**
   * Statements without BEGIN/COMMIT. A step that takes over a table an older
   * agent created through the journal's migrations uses `IF NOT EXISTS`, so
   * an existing file keeps its rows.
   */
  sql: string;
}

/** What a write may do: statements on the one connection, inside the caller's transaction. */
export interface LinkWriter {
  run(sql: string, values?: BindValues): { changes: number };
  get(sql: string, values?: BindValues): QueryResult | null;
}

export interface LinkStorage {
  readonly link: string;
  /** Committed rows (writes still queued for the next commit are not visible). */
  get(sql: string, values?: BindValues): QueryResult | null;
  all(sql: string, values?: BindValues): QueryResult[];
  /**
   * A write caused by the event being dispatched: it runs inside the
   * journal's next commit, in the same transaction as that event's record.
   * `bytes` is about the memory it holds until then (counted in the
   * journal's pending bound).
   */
  queue(write: (tx: LinkWriter) => void, bytes: number): void;
  /** A write no event caused, now, in one transaction of its own. */
  write<T>(fn: (tx: LinkWriter) => T): T;
}

/** What the journal lends a link's storage. */
export interface LinkStorageHost {
  readonly db: Database;
  queue(link: string, write: (tx: LinkWriter) => void, bytes: number): void;
}

const SCHEMA_TABLE = `CREATE TABLE IF NOT EXISTS link_schema (
  name    TEXT    PRIMARY KEY,
  version INTEGER NOT NULL
)`;

/** Runs the link's pending migrations (one transaction) and returns its storage. */
export function openLinkStorage(host: LinkStorageHost, link: string, migrations: readonly LinkMigration[]): LinkStorage {
  migrateLink(host.db, link, migrations);
  const db = host.db;
  return {
    link,
    get: (sql, values) => db.get(sql, values),
    all: (sql, values) => db.all(sql, values),
    queue: (write, bytes) => host.queue(link, write, bytes),
    write: (fn) => inTransaction(db, fn),
  };
}

export function linkSchemaVersion(db: Database, link: string): number {
  db.exec(SCHEMA_TABLE);
  const v = db.get('SELECT version FROM link_schema WHERE name = ?', [link])?.['version'];
  return typeof v === 'number' ? v : 0;
}

function migrateLink(db: Database, link: string, migrations: readonly LinkMigration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`link ${link}: migration ${i} ("${m.name}") has version ${m.version}, expected ${i + 1}`);
  });
  const from = linkSchemaVersion(db, link);
  const latest = migrations.length;
  if (from > latest) {
    // a newer agent's tables: this one cannot know what they mean, and must not write them
    throw new Error(`link ${link}: its tables are at schema version ${from}, newer than this agent's ${latest} (written by a newer agent?)`);
  }
  const pending = migrations.slice(from);
  if (pending.length === 0) return;
  let step = pending[0]!;
  try {
    inTransaction(db, () => {
      for (const m of pending) {
        step = m;
        db.exec(m.sql);
      }
      db.run('INSERT INTO link_schema (name, version) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version', [link, latest]);
    });
  } catch (err) {
    throw new Error(`link ${link}: migration ${step.version} ("${step.name}") failed: ${(err as Error).message}`, { cause: err });
  }
}

function inTransaction<T>(db: Database, fn: (tx: LinkWriter) => T): T {
  // a journal commit whose ROLLBACK failed (disk full) left its transaction open; it is void anyway
  if (db.inTransaction) db.exec('ROLLBACK');
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn(db);
    db.exec('COMMIT');
    return result;
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
