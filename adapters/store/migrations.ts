// The journal's schema, as an ordered list of forward-only steps.
//
// The file records how far it got in `PRAGMA user_version`; `applyMigrations`
// runs every step above that number, each in its own transaction together with
// the version bump, so a crash leaves the file at a step boundary. Steps are
// never edited or removed once released: a file written by an older agent must
// be migrated by the exact SQL that a fresh file gets.
//
// These are the journal's own tables. Links keep theirs through their
// storage port, with migrations of their own (link-storage.ts): steps 2 and 3
// made the studio outbox and the apps tables before that existed, and stay
// as released so a fresh file and an old one keep the same version and an
// older agent can still open either; the links' first steps adopt them.

import type { Database } from 'node-sqlite3-wasm';

export interface Migration {
  /** 1 for the first step, then +1 for every step. Stored in `PRAGMA user_version`. */
  version: number;
  /** Short label used in log lines and errors. */
  name: string;
  /** One or more statements; must not contain BEGIN/COMMIT (the runner adds them). */
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'journal: events, runs, snapshots, meta',
    sql: `
      CREATE TABLE events (
        seq     INTEGER PRIMARY KEY,
        run     TEXT    NOT NULL,
        at      INTEGER NOT NULL,
        source  TEXT    NOT NULL,
        actor   TEXT    NOT NULL,
        type    TEXT    NOT NULL,
        payload TEXT    NOT NULL,
        rand    REAL    NOT NULL,
        state   TEXT    NULL,
        ctx     INTEGER NULL,
        cmds    TEXT    NOT NULL
      );
      -- replay reads one run's events in seq order
      CREATE INDEX events_run_seq ON events (run, seq);
      CREATE TABLE runs (
        run           TEXT PRIMARY KEY,
        started_at    INTEGER NOT NULL,
        agent_version TEXT    NOT NULL,
        machines      TEXT    NOT NULL
      );
      CREATE TABLE snapshots (
        id   INTEGER PRIMARY KEY,
        run  TEXT    NOT NULL,
        seq  INTEGER NOT NULL,
        at   INTEGER NOT NULL,
        data TEXT    NOT NULL
      );
      CREATE INDEX snapshots_run_seq ON snapshots (run, seq);
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'studio link: durable outbox of app state reports',
    sql: `
      -- one row per update_app_on_device report not yet acknowledged by the backend;
      -- seq is the delivery order, id travels with the report so the backend can drop a redelivery
      CREATE TABLE studio_outbox (
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
      CREATE INDEX studio_outbox_app ON studio_outbox (stage, app_key);
    `,
  },
  {
    version: 3,
    name: 'apps link: standing app requests (projection of REQUEST events) and app log history',
    sql: `
      -- one row per app: its latest REQUEST payload (no secrets) and the state it last reported;
      -- read at start, before any network link, to converge the apps
      CREATE TABLE app_requests (
        app_key       TEXT    NOT NULL,
        stage         TEXT    NOT NULL CHECK (stage IN ('DEV', 'PROD')),
        app_name      TEXT    NOT NULL,
        target        TEXT    NOT NULL,
        version       TEXT    NULL,
        payload       TEXT    NOT NULL,
        state         TEXT    NULL,
        state_version TEXT    NULL,
        updated_seq   INTEGER NOT NULL,
        PRIMARY KEY (app_key, stage)
      );
      -- the last lines of each app container, written when a log stream ends (never per line)
      CREATE TABLE app_log_history (
        container  TEXT    PRIMARY KEY,
        lines      TEXT    NOT NULL,
        app_lines  TEXT    NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
];

/** The version a file has once every step of `migrations` ran. */
export function latestVersion(migrations: readonly Migration[]): number {
  return migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
}

/** Throws if the list is not 1, 2, 3, …: a gap or a duplicate would skip or repeat a step. */
export function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(
        `migrations: step ${i} ("${m.name}") has version ${m.version}, expected ${i + 1} (versions must be 1, 2, 3, … in order)`,
      );
    }
  });
}

export function readUserVersion(db: Database): number {
  const row = db.get('PRAGMA user_version');
  const v = row?.['user_version'];
  if (typeof v !== 'number') throw new Error(`PRAGMA user_version returned ${JSON.stringify(row)}, expected a number`);
  return v;
}

/**
 * Runs the steps above the file's `user_version`, all in one transaction: a
 * fresh file gets its whole schema with one commit (each commit is three
 * fsyncs, which dominated a first start), and a failing step leaves the file
 * exactly as it was before this start. The caller has already refused files
 * whose version is newer than the list knows.
 * Returns the versions before and after.
 */
export function applyMigrations(db: Database, migrations: readonly Migration[]): { from: number; to: number } {
  checkMigrationList(migrations);
  const from = readUserVersion(db);
  const pending = migrations.filter((m) => m.version > from);
  if (pending.length === 0) return { from, to: from };
  db.exec('BEGIN IMMEDIATE');
  let step = pending[0]!;
  try {
    for (const m of pending) {
      step = m;
      db.exec(m.sql);
    }
    // user_version lives in the file header, so it commits or rolls back with the steps
    db.exec(`PRAGMA user_version = ${pending[pending.length - 1]!.version}`);
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw new Error(`migration ${step.version} ("${step.name}") failed: ${(err as Error).message}`, { cause: err });
  }
  return { from, to: Math.max(from, latestVersion(migrations)) };
}
