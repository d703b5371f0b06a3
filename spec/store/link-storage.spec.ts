// The links' storage port: per-link migrations that adopt the tables older
// files already have, and writes that join the journal's group commit, so an
// event and what it caused (a projection row, a queued report) are on disk
// together or not at all.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import type { NewJournalRecord } from '../../actors/types.js';
import { Journal, type JournalLogger } from '../../adapters/store/journal.js';
import { linkSchemaVersion, type LinkMigration } from '../../adapters/store/link-storage.js';
import { STUDIO_STORAGE, StudioOutbox } from '../../adapters/wamp/outbox.js';
import { ManualClock } from '../../actors/clock.js';

const quiet: JournalLogger & { debug(): void } = { info() {}, warn() {}, error() {}, debug() {} };
const CRASH = fileURLToPath(new URL('./fixtures/link-crash.ts', import.meta.url));

function dbPath(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'reagent-link-storage-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'reagent.db');
}

function rec(i: number): NewJournalRecord {
  return { run: 'r', at: i, source: 'test', actor: 'app:PROD:7', type: 'ev', payload: { i }, rand: 0.5, state: null, ctx: null, cmds: [] };
}

const NOTES: readonly LinkMigration[] = [{ version: 1, name: 'notes', sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)' }];
const count = (j: Journal, table: string) => j.connection.get(`SELECT count(*) AS n FROM ${table}`)?.['n'];

describe('link storage: migrations', () => {
  test('the studio link adopts the outbox table an existing journal file has, rows and all', (t) => {
    const path = dbPath(t);
    // a file as the agent before link storage left it: the table made by the journal's own migration 2
    let j = Journal.open({ path, logger: quiet });
    j.connection.run("INSERT INTO studio_outbox (id, app_key, stage, report, created_at) VALUES ('old', '7', 'PROD', '{\"app_key\":7,\"stage\":\"PROD\",\"state\":\"RUNNING\"}', 3)");
    assert.equal(linkSchemaVersion(j.connection, 'studio'), 0);
    j.close();

    j = Journal.open({ path, logger: quiet });
    const outbox = new StudioOutbox({ storage: j.storage('studio', STUDIO_STORAGE), clock: new ManualClock(0), logger: quiet, random: () => 0 });
    assert.deepEqual(outbox.pending().map((r) => [r.id, r.report.state, r.createdAt]), [['old', 'RUNNING', 3]]);
    assert.equal(linkSchemaVersion(j.connection, 'studio'), STUDIO_STORAGE.length);
    j.close();
  });

  test('each link has its own version: a step runs once, and the journal\'s user_version does not move', (t) => {
    const path = dbPath(t);
    let j = Journal.open({ path, logger: quiet });
    const before = j.connection.get('PRAGMA user_version')?.['user_version'];
    j.storage('notes', NOTES).write((tx) => tx.run("INSERT INTO notes (text) VALUES ('a')"));
    j.close();
    j = Journal.open({ path, logger: quiet });
    const more: LinkMigration[] = [...NOTES, { version: 2, name: 'tags', sql: 'ALTER TABLE notes ADD COLUMN tag TEXT' }];
    const s = j.storage('notes', more); // a second CREATE TABLE notes would throw
    assert.equal(s.get('SELECT text, tag FROM notes')?.['text'], 'a');
    assert.equal(linkSchemaVersion(j.connection, 'notes'), 2);
    assert.equal(linkSchemaVersion(j.connection, 'studio'), 0, 'other links untouched');
    assert.equal(j.connection.get('PRAGMA user_version')?.['user_version'], before);
    j.close();
  });

  test('tables of a newer agent are refused, and a failing step leaves the link where it was', (t) => {
    const path = dbPath(t);
    const j = Journal.open({ path, logger: quiet });
    j.storage('notes', [...NOTES, { version: 2, name: 'x', sql: 'CREATE TABLE x (y)' }]);
    assert.throws(() => j.storage('notes', NOTES), /link notes: its tables are at schema version 2, newer than this agent's 1/);
    const broken: LinkMigration[] = [{ version: 1, name: 'a', sql: 'CREATE TABLE a (b)' }, { version: 2, name: 'broken', sql: 'NOT SQL' }];
    assert.throws(() => j.storage('other', broken), /link other: migration 2 \("broken"\) failed/);
    assert.equal(linkSchemaVersion(j.connection, 'other'), 0);
    assert.equal(j.connection.get("SELECT 1 AS x FROM sqlite_master WHERE name = 'a'"), null, 'step 1 rolled back with step 2');
    j.close();
  });
});

describe('link storage: writes join the group commit', () => {
  test('a queued write is invisible until commit(), then lands in the same transaction as the events', (t) => {
    const j = Journal.open({ path: dbPath(t), logger: quiet });
    const s = j.storage('notes', NOTES);
    j.append(rec(1));
    s.queue((tx) => tx.run("INSERT INTO notes (text) VALUES ('caused by 1')"), 50);
    assert.equal(j.pendingLinkWrites, 1);
    assert.ok(j.pendingBytes() >= 50, 'counted in the pending bound');
    assert.equal(count(j, 'notes'), 0);
    j.commit();
    assert.equal(count(j, 'notes'), 1);
    assert.equal(count(j, 'events'), 1);
    assert.equal(j.pendingLinkWrites, 0);
    j.close();
  });

  test('a commit that fails midway keeps nothing, neither events nor link writes; the retry writes each once', (t) => {
    const j = Journal.open({ path: dbPath(t), logger: quiet });
    const s = j.storage('notes', NOTES);
    let refuse = true;
    j.append(rec(1));
    j.append(rec(2));
    s.queue((tx) => tx.run("INSERT INTO notes (text) VALUES ('first')"), 10);
    s.queue(() => {
      // what SQLite says when the disk fills under a write
      if (refuse) throw new Error('disk I/O error');
    }, 10);
    assert.throws(() => j.commit(), /commit of 2 records failed/);
    assert.equal(count(j, 'events'), 0);
    assert.equal(count(j, 'notes'), 0, "the first write was rolled back with the events");
    assert.equal(j.pendingLinkWrites, 2, 'kept for the retry');
    refuse = false;
    j.commit();
    assert.equal(count(j, 'events'), 2);
    assert.deepEqual(j.connection.all('SELECT text FROM notes').map((r) => r['text']), ['first'], 'written once');
    j.close();
  });

  test('a write that fails for its own reason is left out; the events commit', (t) => {
    const lines: string[] = [];
    const j = Journal.open({ path: dbPath(t), logger: { ...quiet, error: (_o, m) => void lines.push(m) } });
    const s = j.storage('notes', NOTES);
    j.append(rec(1));
    s.queue((tx) => tx.run("INSERT INTO notes (text) VALUES ('kept')"), 10);
    s.queue((tx) => tx.run('INSERT INTO notes (text) VALUES (NULL)'), 10);
    j.commit();
    assert.equal(count(j, 'events'), 1);
    assert.deepEqual(j.connection.all('SELECT text FROM notes').map((r) => r['text']), ['kept']);
    assert.ok(lines.includes('a link write failed and was left out of the commit'));
    j.close();
  });

  test('records dropped at the memory bound leave the link writes pending: they are the current picture', (t) => {
    const j = Journal.open({ path: dbPath(t), logger: quiet });
    const s = j.storage('notes', NOTES);
    j.append(rec(1));
    s.queue((tx) => tx.run("INSERT INTO notes (text) VALUES ('standing request')"), 40);
    assert.equal(j.discardPending()?.count, 1);
    assert.equal(j.pendingBytes(), 40);
    j.commit();
    assert.equal(count(j, 'events'), 0);
    assert.equal(count(j, 'notes'), 1);
    j.close();
  });
});

function runChild(path: string, point: string): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CRASH, path, point], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => (signal === 'SIGKILL' ? resolve(signal) : reject(new Error(`child ended with ${code}: ${stderr}`))));
  });
}

describe('link storage: SIGKILL around the commit', () => {
  for (const [point, both] of [
    ['before-commit', false],
    ['mid-commit', false],
    ['after-commit', true],
  ] as const) {
    test(`killed ${point}: after the restart the event and its report are ${both ? 'both' : 'neither'} there, never one alone`, async (t) => {
      const path = dbPath(t);
      assert.equal(await runChild(path, point), 'SIGKILL');
      const j = Journal.open({ path, logger: quiet, staleLockRecovery: true });
      const outbox = new StudioOutbox({ storage: j.storage('studio', STUDIO_STORAGE), clock: new ManualClock(0), logger: quiet, random: () => 0 });
      const events = [...j.readEvents()].map((e) => e.type);
      const reports = outbox.pending().map((r) => `${r.id}:${r.report.state}`);
      assert.deepEqual({ events, reports }, both ? { events: ['STARTED'], reports: ['report-1:RUNNING'] } : { events: [], reports: [] });
      j.close();
    });
  }
});
