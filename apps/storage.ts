// The apps link's tables in the journal file (its link storage, see
// adapters/store/link-storage.ts). Version 1 adopts the tables that the
// journal's own migration 3 created in files of older agents, rows and all.

import type { LinkMigration } from '../adapters/store/link-storage.js';

export const APPS_STORAGE: readonly LinkMigration[] = [
  {
    version: 1,
    name: 'standing app requests (projection of REQUEST events) and app log history',
    sql: `
      -- one row per app: its latest REQUEST payload (no secrets) and the state it last reported;
      -- read at start, before any network link, to converge the apps
      CREATE TABLE IF NOT EXISTS app_requests (
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
      CREATE TABLE IF NOT EXISTS app_log_history (
        container  TEXT    PRIMARY KEY,
        lines      TEXT    NOT NULL,
        app_lines  TEXT    NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
];
