import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import sqlite3 from 'node-sqlite3-wasm';
import type { Json, JournalRecord, NewJournalRecord } from '../../actors/types.js';
import {
  Journal,
  JournalLockedError,
  recoverStaleSqliteLock,
  rollbackHotJournal,
  type JournalLogger,
  type JournalOptions,
} from '../../adapters/store/journal.js';
import { MIGRATIONS, type Migration } from '../../adapters/store/migrations.js';

interface LogLine {
  level: 'info' | 'warn' | 'error';
  msg: string;
  obj: Record<string, unknown>;
}

function spyLogger(): JournalLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', msg, obj }),
    warn: (obj, msg) => lines.push({ level: 'warn', msg, obj }),
    error: (obj, msg) => lines.push({ level: 'error', msg, obj }),
  };
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'reagent-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(path: string, extra: Partial<JournalOptions> = {}): Journal {
  return Journal.open({ path, logger: spyLogger(), ...extra });
}

function rec(i: number, over: Partial<NewJournalRecord> = {}): NewJournalRecord {
  return {
    run: 'r1',
    at: 1000 + i,
    source: 'test',
    actor: 'a',
    type: 'ev',
    payload: { i, s: 'x'.repeat(i % 10) },
    rand: 0.5,
    state: null,
    ctx: null,
    cmds: [],
    ...over,
  };
}

/** A raw connection for building files by hand and peeking at them. */
function raw<T>(path: string, fn: (db: sqlite3.Database) => T): T {
  const db = new sqlite3.Database(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function pragma(path: string, name: string): unknown {
  return raw(path, (db) => db.get(`PRAGMA ${name}`)?.[name]);
}

function tableNames(path: string): string[] {
  return raw(path, (db) => db.all("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map((r) => String(r['name'])));
}

// Plain text columns refuse NUL (see the test below); JSON columns take anything.
const unicode = fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replaceAll('\0', '␀'));
// JSON has no -0 and the journal stores JSON text: normalise the way JSON.parse would.
const jsonPayload = fc.jsonValue({ stringUnit: 'binary', maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as Json);
const recordArb: fc.Arbitrary<NewJournalRecord> = fc.record({
  run: fc.constantFrom('run-a', 'run-b', 'rün-ç'),
  at: fc.integer({ min: 0, max: 2 ** 47 }),
  source: unicode,
  actor: unicode,
  type: unicode,
  payload: jsonPayload,
  rand: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }).map((x) => x + 0),
  state: fc.option(unicode, { nil: null }),
  ctx: fc.option(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), { nil: null }),
  cmds: fc.array(unicode, { maxLength: 4 }),
});

describe('journal: append, commit, read back', () => {
  test('property: what was appended comes back after reopen, exactly and in order', (t) => {
    const dir = tempDir(t);
    let n = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(recordArb, fc.boolean()), { maxLength: 40 }),
        fc.array(recordArb, { maxLength: 5 }),
        fc.integer({ min: 1, max: 7 }),
        (first, second, batch) => {
          const path = join(dir, `p${n++}.db`);
          const expected: JournalRecord[] = [];
          let j = open(path);
          for (const [r, commitNow] of first) {
            expected.push({ seq: j.append(r), ...r });
            if (commitNow) j.commit();
          }
          j.close(); // commits the rest
          j = open(path);
          assert.equal(j.nextSeq, expected.length + 1, 'seq continues after reopen');
          for (const r of second) expected.push({ seq: j.append(r), ...r });
          j.commit();
          const got = [...j.readEvents({ batch })];
          j.close();
          assert.deepStrictEqual(got, expected);
          assert.deepStrictEqual(
            got.map((r) => r.seq),
            expected.map((_, i) => i + 1),
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  test('property: readEvents filters by seq range and run, paging at any batch size', (t) => {
    const dir = tempDir(t);
    let n = 0;
    fc.assert(
      fc.property(
        fc.array(recordArb, { minLength: 1, maxLength: 40 }),
        fc.nat(45),
        fc.nat(45),
        fc.option(fc.constantFrom('run-a', 'run-b', 'rün-ç'), { nil: undefined }),
        fc.integer({ min: 1, max: 5 }),
        (records, a, b, run, batch) => {
          const j = open(join(dir, `f${n++}.db`));
          const all = records.map((r) => ({ seq: j.append(r), ...r }));
          j.commit();
          const [fromSeq, toSeq] = [Math.min(a, b), Math.max(a, b)];
          const got = [...j.readEvents({ fromSeq, toSeq, run, batch })];
          j.close();
          assert.deepStrictEqual(
            got,
            all.filter((r) => r.seq >= fromSeq && r.seq <= toSeq && (run === undefined || r.run === run)),
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  test('buffered records are invisible until commit, and lost only if never committed or closed', (t) => {
    const path = join(tempDir(t), 'j.db');
    const j = open(path);
    assert.equal(j.append(rec(1)), 1);
    assert.equal(j.append(rec(2)), 2);
    assert.equal(j.pending, 2);
    assert.equal([...j.readEvents()].length, 0);
    j.commit();
    assert.equal(j.pending, 0);
    assert.deepStrictEqual(
      [...j.readEvents()].map((r) => r.seq),
      [1, 2],
    );
    j.append(rec(3));
    j.close();
    j.close(); // idempotent
    assert.throws(() => j.append(rec(4)), /closed/);
    const again = open(path);
    assert.equal(again.nextSeq, 4);
    assert.deepStrictEqual(
      [...again.readEvents()].map((r) => r.payload),
      [rec(1).payload, rec(2).payload, rec(3).payload],
    );
    again.close();
  });

  test('append copies the payload: later mutation by the caller does not change the record', (t) => {
    const j = open(join(tempDir(t), 'j.db'));
    const payload = { n: 1 };
    j.append(rec(1, { payload }));
    payload.n = 2;
    j.commit();
    assert.deepStrictEqual([...j.readEvents()][0]?.payload, { n: 1 });
    assert.throws(() => j.append(rec(2, { payload: undefined as unknown as Json })), /payload of ev is not JSON/);
    j.close();
  });

  test('NUL in a plain text column is refused (the driver would cut the string there); in JSON it is kept', (t) => {
    const j = open(join(tempDir(t), 'j.db'));
    assert.throws(() => j.append(rec(1, { actor: 'a\0b' })), /field actor contains a NUL/);
    assert.throws(() => j.append(rec(1, { state: '\0' })), /field state contains a NUL/);
    assert.equal(j.nextSeq, 1, 'a refused record takes no seq');
    const seq = j.append(rec(1, { payload: { s: 'a\0b' }, cmds: ['x\0y'] }));
    assert.throws(() => j.setOutcome(seq, { state: 'x\0', ctx: null, cmds: [] }), /field state contains a NUL/);
    j.commit();
    const [got] = [...j.readEvents()];
    assert.deepStrictEqual(got?.payload, { s: 'a\0b' });
    assert.deepStrictEqual(got?.cmds, ['x\0y']);
    j.close();
  });

  test('setOutcome on a buffered record, on a written one, and after reopen', (t) => {
    const path = join(tempDir(t), 'j.db');
    let j = open(path);
    const s1 = j.append(rec(1));
    const s2 = j.append(rec(2));
    j.setOutcome(s1, { state: '"idle"', ctx: 42, cmds: ['wamp.connect'] }); // still buffered
    j.commit();
    j.setOutcome(s2, { state: '{"a":"b"}', ctx: -7, cmds: ['x.y', 'z.w'] }); // already written: rides on the next commit
    const s3 = j.append(rec(3));
    j.setOutcome(s3, { state: null, ctx: null, cmds: [] });
    j.commit();
    j.close();
    j = open(path);
    j.setOutcome(s1, { state: '"done"', ctx: 1, cmds: [] });
    j.close(); // close commits the pending UPDATE
    j = open(path);
    const got = [...j.readEvents()].map(({ seq, state, ctx, cmds }) => ({ seq, state, ctx, cmds }));
    assert.deepStrictEqual(got, [
      { seq: 1, state: '"done"', ctx: 1, cmds: [] },
      { seq: 2, state: '{"a":"b"}', ctx: -7, cmds: ['x.y', 'z.w'] },
      { seq: 3, state: null, ctx: null, cmds: [] },
    ]);
    assert.throws(() => j.setOutcome(4, { state: null, ctx: null, cmds: [] }), /seq 4 was never appended \(next seq is 4\)/);
    assert.throws(() => j.setOutcome(0, { state: null, ctx: null, cmds: [] }), RangeError);
    j.close();
  });

  test('runs and snapshots', (t) => {
    const j = open(join(tempDir(t), 'j.db'));
    j.appendRun('r1', 100, '0.1.0', { studio: 3 });
    j.appendRun('r2', 200, '0.1.1', ['a', 'b']);
    assert.deepStrictEqual(j.runs(), [
      { run: 'r1', startedAt: 100, agentVersion: '0.1.0', machines: { studio: 3 } },
      { run: 'r2', startedAt: 200, agentVersion: '0.1.1', machines: ['a', 'b'] },
    ]);
    assert.throws(() => j.appendRun('r1', 300, 'x', {}), /UNIQUE|constraint/i);
    for (let i = 1; i <= 10; i++) j.append(rec(i, { run: i <= 5 ? 'r1' : 'r2' }));
    assert.throws(() => j.writeSnapshot('r2', 11, 0, {}), /seq 11 was never appended/);
    j.writeSnapshot('r1', 3, 30, { s: 3 });
    assert.equal(j.pending, 0, 'writeSnapshot commits the events it summarises first');
    j.writeSnapshot('r1', 5, 50, { s: 5 });
    j.writeSnapshot('r2', 8, 80, { s: 8 });
    assert.equal(j.latestSnapshot('r1')?.seq, 5);
    assert.deepStrictEqual(j.latestSnapshot('r1', 5)?.data, { s: 3 });
    assert.equal(j.latestSnapshot('r1', 3), undefined);
    assert.equal(j.latestSnapshot('r2')?.at, 80);
    assert.equal(j.latestSnapshot('nope'), undefined);
    j.close();
  });
});

describe('journal: schema migrations', () => {
  test('a v0 file (user_version 0, no journal tables) is migrated and switched to incremental vacuum', (t) => {
    const path = join(tempDir(t), 'j.db');
    raw(path, (db) => db.exec('CREATE TABLE legacy (x TEXT); INSERT INTO legacy VALUES (\'kept\')'));
    assert.equal(pragma(path, 'user_version'), 0);
    assert.equal(pragma(path, 'auto_vacuum'), 0);
    const logger = spyLogger();
    const j = Journal.open({ path, logger });
    j.append(rec(1));
    j.close();
    assert.equal(pragma(path, 'user_version'), MIGRATIONS.length);
    assert.equal(pragma(path, 'auto_vacuum'), 2);
    // later steps add tables of other modules (outboxes, projections); the journal's own are these
    assert.deepStrictEqual(
      tableNames(path).filter((n) => ['events', 'legacy', 'meta', 'runs', 'snapshots'].includes(n)),
      ['events', 'legacy', 'meta', 'runs', 'snapshots'],
    );
    assert.equal(
      raw(path, (db) => db.get('SELECT x FROM legacy')?.['x']),
      'kept',
    );
    assert.ok(logger.lines.some((l) => l.msg === 'journal schema migrated' && l.obj['from'] === 0));
  });

  test('a v1 file made by hand keeps its rows when a later step adds a table', (t) => {
    const path = join(tempDir(t), 'j.db');
    raw(path, (db) => {
      db.exec(MIGRATIONS[0]!.sql);
      db.exec('PRAGMA user_version = 1');
      db.run(
        "INSERT INTO events VALUES (1, 'old', 5, 'src', 'act', 'typ', '{\"k\":\"ü\"}', 0.25, NULL, NULL, '[]')",
      );
    });
    const apps: Migration = { version: 2, name: 'apps projection', sql: 'CREATE TABLE apps (name TEXT PRIMARY KEY, state TEXT)' };
    const j = open(path, { migrations: [MIGRATIONS[0]!, apps] });
    assert.equal(j.nextSeq, 2);
    assert.deepStrictEqual(
      [...j.readEvents()],
      [{ seq: 1, run: 'old', at: 5, source: 'src', actor: 'act', type: 'typ', payload: { k: 'ü' }, rand: 0.25, state: null, ctx: null, cmds: [] }],
    );
    j.connection.run("INSERT INTO apps VALUES ('web', 'running')");
    j.close();
    assert.equal(pragma(path, 'user_version'), 2);
    assert.ok(tableNames(path).includes('apps'));
  });

  test('a failing step rolls back and leaves the file at the previous version', (t) => {
    const path = join(tempDir(t), 'j.db');
    const bad: Migration = { version: 2, name: 'broken', sql: 'CREATE TABLE ok (x); THIS IS NOT SQL' };
    open(path, { migrations: [MIGRATIONS[0]!] }).close();
    assert.throws(() => open(path, { migrations: [MIGRATIONS[0]!, bad] }), /migration 2 \("broken"\) failed/);
    assert.equal(pragma(path, 'user_version'), 1);
    assert.ok(!tableNames(path).includes('ok'));
    // Several pending steps are one transaction: a later failing step takes the earlier ones back too.
    const good: Migration = { version: 2, name: 'good', sql: 'CREATE TABLE good (x)' };
    assert.throws(() => open(path, { migrations: [MIGRATIONS[0]!, good, { ...bad, version: 3 }] }), /migration 3 \("broken"\) failed/);
    assert.equal(pragma(path, 'user_version'), 1);
    assert.ok(!tableNames(path).includes('good'));
    assert.throws(
      () => open(path, { migrations: [{ ...bad, version: 3 }] }),
      /step 0 \("broken"\) has version 3, expected 1/,
    );
  });

  test('a file from a newer agent is moved aside as .from-v<N>, never deleted, and a fresh journal starts', (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'j.db');
    const j0 = open(path);
    j0.append(rec(1));
    j0.close();
    raw(path, (db) => db.exec('PRAGMA user_version = 7'));
    const logger = spyLogger();
    const j = Journal.open({ path, logger });
    assert.equal(j.recovered.length, 1);
    assert.equal(j.recovered[0]?.kind, 'newer-schema');
    assert.equal(j.recovered[0]?.path, `${path}.from-v7`);
    assert.match(j.recovered[0]!.detail, new RegExp(`schema version 7, newer than this agent's newest migration ${MIGRATIONS.length}`));
    assert.equal(j.nextSeq, 1);
    j.append(rec(1));
    j.close();
    assert.equal(pragma(`${path}.from-v7`, 'user_version'), 7);
    assert.equal(
      raw(`${path}.from-v7`, (db) => db.get('SELECT count(*) AS n FROM events')?.['n']),
      1,
    );
    const err = logger.lines.find((l) => l.level === 'error');
    assert.equal(err?.obj['movedTo'], `${path}.from-v7`);
    // a second newer file does not overwrite the first one moved aside
    raw(path, (db) => db.exec('PRAGMA user_version = 7'));
    const j2 = open(path);
    assert.equal(j2.recovered[0]?.path, `${path}.from-v7-1`);
    j2.close();
  });
});

describe('journal: start-up recovery', () => {
  function filledJournal(path: string, n: number): void {
    const j = open(path);
    for (let i = 1; i <= n; i++) j.append(rec(i, { payload: { i, pad: 'p'.repeat(200) } }));
    j.close();
  }

  function assertQuarantined(j: Journal, logger: ReturnType<typeof spyLogger>, path: string): string {
    assert.equal(j.recovered.length, 1);
    const r = j.recovered[0]!;
    assert.equal(r.kind, 'corrupt');
    assert.match(r.path ?? '', /\.corrupt-\d{8}T\d{6}\.\d{3}Z$/);
    assert.ok(r.path?.startsWith(`${path}.corrupt-`));
    assert.ok(existsSync(r.path!), 'the corrupt file is kept');
    const err = logger.lines.find((l) => l.level === 'error');
    assert.ok(err, 'logged at error level');
    assert.equal(err.obj['movedTo'], r.path);
    assert.ok(err.msg.includes(r.path!), 'the message names the quarantine path');
    // the fresh journal works
    assert.equal(j.nextSeq, 1);
    j.append(rec(1));
    j.close();
    const again = open(path);
    assert.equal([...again.readEvents()].length, 1);
    assert.equal(again.recovered.length, 0);
    again.close();
    return r.path!;
  }

  test('garbage over the header: quarantined, fresh journal works', (t) => {
    const path = join(tempDir(t), 'j.db');
    filledJournal(path, 300);
    const bytes = readFileSync(path);
    const size = bytes.length;
    bytes.fill(0x5a, 0, 100);
    writeFileSync(path, bytes);
    const logger = spyLogger();
    const j = Journal.open({ path, logger });
    const moved = assertQuarantined(j, logger, path);
    assert.equal(statSync(moved).size, size);
  });

  test('garbage over interior pages: quick_check fails, quarantined', (t) => {
    const path = join(tempDir(t), 'j.db');
    filledJournal(path, 2000);
    const bytes = readFileSync(path);
    bytes.fill(0x42, 4096 * 4, 4096 * 9);
    writeFileSync(path, bytes);
    const logger = spyLogger();
    const j = Journal.open({ path, logger });
    assert.match(j.recovered[0]?.detail ?? '', /corrupt/);
    assertQuarantined(j, logger, path);
  });

  test('a file that never was a database is quarantined together with its journal', (t) => {
    const path = join(tempDir(t), 'j.db');
    writeFileSync(path, Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 256)));
    writeFileSync(`${path}-journal`, 'not ours');
    const logger = spyLogger();
    const j = Journal.open({ path, logger });
    const moved = assertQuarantined(j, logger, path);
    assert.equal(readFileSync(`${moved}-journal`, 'utf8'), 'not ours');
  });

  test('a leftover <db>.lock dir blocks open without recovery, naming the dir', (t) => {
    const path = join(tempDir(t), 'j.db');
    filledJournal(path, 5);
    mkdirSync(`${path}.lock`);
    const started = Date.now();
    assert.throws(
      () => open(path, { busyTimeoutMs: 100 }),
      (err: unknown) => {
        assert.ok(err instanceof JournalLockedError);
        assert.equal(err.lockDir, `${path}.lock`);
        assert.ok(err.message.includes(`${path}.lock`), err.message);
        return true;
      },
    );
    assert.ok(Date.now() - started < 3000, 'fails after the busy timeout, not forever');
    assert.ok(existsSync(`${path}.lock`), 'without recovery the dir is left alone');

    const logger = spyLogger();
    const j = Journal.open({ path, logger, staleLockRecovery: true });
    assert.deepStrictEqual(
      j.recovered.map((r) => r.kind),
      ['stale-lock'],
    );
    assert.equal(j.recovered[0]?.path, `${path}.lock`);
    assert.ok(logger.lines.some((l) => l.level === 'warn' && l.obj['lockDir'] === `${path}.lock`));
    assert.equal([...j.readEvents()].length, 5);
    j.close();
    assert.ok(!existsSync(`${path}.lock`));
  });

  // A writer killed while its transaction has already spilled pages into the
  // file: the lock dir, a multi-segment hot journal and a half-written file stay behind.
  async function killedMidTransaction(path: string): Promise<void> {
    const child = `
      import sqlite from 'node-sqlite3-wasm';
      const db = new sqlite.Database(process.argv[1]);
      db.exec('PRAGMA cache_size = 10'); // a small cache spills dirty pages to the file before commit
      db.exec('BEGIN IMMEDIATE');
      db.exec("UPDATE t SET v = 'uncommitted ' || id");
      db.exec('INSERT INTO t (v) SELECT v FROM t');
      console.log('IN TRANSACTION');
      setInterval(() => {}, 1000);
    `;
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const proc = spawn(process.execPath, ['--input-type=module', '-e', child, path], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    const closed = new Promise((res) => proc.on('close', res));
    await new Promise((res) => createInterface({ input: proc.stdout }).once('line', res));
    proc.kill('SIGKILL');
    await closed;
  }

  /** What a plain node-sqlite3-wasm connection sees. */
  function tableState(path: string): string {
    return raw(path, (db) => {
      try {
        const check = db.get('PRAGMA quick_check')?.['quick_check'];
        const row = db.get('SELECT count(*) AS n, count(DISTINCT v) AS d, min(v) AS v FROM t');
        return `check=${String(check)} rows=${String(row?.['n'])} distinct=${String(row?.['d'])} first=${String(row?.['v'])}`;
      } catch (err) {
        return `error: ${(err as Error).message}`;
      }
    });
  }

  test('a hot journal left by a writer killed mid-transaction is rolled back (the driver alone does not)', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 't.db');
    raw(path, (db) => {
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
      db.exec('BEGIN');
      for (let i = 0; i < 2000; i++) db.run('INSERT INTO t (v) VALUES (?)', [`committed ${'x'.repeat(100)}`]);
      db.exec('COMMIT');
    });
    const committed = tableState(path);
    assert.match(committed, /^check=ok rows=2000 distinct=1 first=committed/);
    const sizeBefore = statSync(path).size;
    await killedMidTransaction(path);
    assert.ok(existsSync(`${path}.lock`) && existsSync(`${path}-journal`), 'the kill left a lock dir and a hot journal');
    assert.notEqual(statSync(path).size, sizeBefore, 'uncommitted pages reached the file');

    // the driver by itself, once the lock dir is gone, reads the half-written file
    const copy = join(dir, 'copy.db');
    copyFileSync(path, copy);
    copyFileSync(`${path}-journal`, `${copy}-journal`);
    assert.notEqual(tableState(copy), committed, 'node-sqlite3-wasm rolled back by itself: rollbackHotJournal may be unnecessary now');

    const logger = spyLogger();
    assert.equal(rollbackHotJournal(path, logger), null, 'a held lock dir means hands off');
    assert.ok(existsSync(`${path}-journal`));
    assert.equal(recoverStaleSqliteLock(path, logger), true);
    const result = rollbackHotJournal(path, logger);
    assert.ok(result !== null && result.pages > 0, JSON.stringify(result));
    assert.equal(result.restoredSize * 4096, sizeBefore);
    assert.ok(!existsSync(`${path}-journal`) && !existsSync(`${path}.lock`));
    assert.equal(statSync(path).size, sizeBefore);
    assert.equal(tableState(path), committed);
    assert.equal(
      raw(path, (db) => db.get('PRAGMA integrity_check')?.['integrity_check']),
      'ok',
    );
  });

  test('Journal.open rolls back the hot journal as part of stale lock recovery', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'j.db');
    filledJournal(path, 10);
    raw(path, (db) => {
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
      db.exec('BEGIN');
      for (let i = 0; i < 2000; i++) db.run('INSERT INTO t (v) VALUES (?)', [`committed ${'x'.repeat(100)}`]);
      db.exec('COMMIT');
    });
    await killedMidTransaction(path);
    assert.throws(() => open(path, { busyTimeoutMs: 50 }), JournalLockedError);
    assert.ok(existsSync(`${path}-journal`), 'a failed open leaves the journal alone');
    const j = open(path, { staleLockRecovery: true });
    assert.equal(j.recovered.length, 1);
    assert.equal(j.recovered[0]?.kind, 'stale-lock');
    assert.match(j.recovered[0]!.detail, /removed stale SQLite lock dir .*; rolled back the interrupted transaction in .*j\.db-journal \(\d+ pages restored\)/);
    assert.equal([...j.readEvents()].length, 10);
    j.close();
    assert.match(tableState(path), /^check=ok rows=2000 distinct=1 first=committed/);
  });

  test('recoverStaleSqliteLock: false when there is nothing to remove, error when the lock is not a dir', (t) => {
    const path = join(tempDir(t), 'j.db');
    assert.equal(recoverStaleSqliteLock(path, spyLogger()), false);
    writeFileSync(`${path}.lock`, '');
    assert.throws(() => recoverStaleSqliteLock(path, spyLogger()), /cannot remove stale SQLite lock dir .*j\.db\.lock/);
  });

  test('a clean start reports nothing', (t) => {
    const path = join(tempDir(t), 'j.db');
    const j = open(path, { staleLockRecovery: true });
    assert.deepStrictEqual(j.recovered, []);
    j.close();
    assert.deepStrictEqual(
      readdirSync(join(path, '..')).sort(),
      ['j.db'],
    );
  });
});

describe('journal: bounded size', () => {
  test('compactBefore refuses without a snapshot at that seq', (t) => {
    const j = open(join(tempDir(t), 'j.db'));
    for (let i = 1; i <= 5; i++) j.append(rec(i));
    assert.throws(() => j.compactBefore(3), /no snapshot at seq 3/);
    j.writeSnapshot('r1', 3, 0, { at: 3 });
    assert.deepStrictEqual(j.compactBefore(3), { deletedEvents: 2, deletedSnapshots: 0 });
    assert.deepStrictEqual(
      [...j.readEvents()].map((r) => r.seq),
      [3, 4, 5],
    );
    j.setOutcome(4, { state: 'x', ctx: 1, cmds: [] });
    assert.throws(() => j.setOutcome(2, { state: 'x', ctx: 1, cmds: [] }), /no longer in/);
    j.close();
  });

  test('seqs are never reused after compaction, even across reopen', (t) => {
    const path = join(tempDir(t), 'j.db');
    const j = open(path);
    for (let i = 1; i <= 10; i++) j.append(rec(i));
    j.writeSnapshot('r1', 10, 0, {});
    j.compactBefore(10);
    j.connection.run('DELETE FROM events'); // even if the newest event and snapshot vanished
    j.connection.run('DELETE FROM snapshots');
    j.close();
    const again = open(path);
    assert.equal(again.nextSeq, 11);
    again.close();
  });

  test('compaction drops older runs and older snapshots, keeping the newest snapshot', (t) => {
    const j = open(join(tempDir(t), 'j.db'));
    for (let i = 1; i <= 20; i++) j.append(rec(i, { run: i <= 10 ? 'old' : 'new' }));
    j.writeSnapshot('old', 10, 0, { s: 'old' });
    j.writeSnapshot('new', 15, 0, { s: 15 });
    const r = j.compact({ maxBytes: 1, keepSnapshotData: () => ({ run: 'new', seq: 18, at: 0, data: { s: 18 } }) });
    assert.equal(r?.snapshotSeq, 18);
    assert.equal(r?.deletedEvents, 17);
    assert.equal(r?.deletedSnapshots, 2);
    assert.deepStrictEqual(
      [...j.readEvents()].map((e) => e.seq),
      [18, 19, 20],
    );
    assert.equal(j.latestSnapshot('old'), undefined);
    assert.deepStrictEqual(j.latestSnapshot('new')?.data, { s: 18 });
    j.close();
  });

  test('the file stays under maxBytes while far more than that is appended', (t) => {
    const path = join(tempDir(t), 'j.db');
    const maxBytes = 256 * 1024;
    const j = open(path, { maxBytes });
    assert.equal(j.compact({ keepSnapshotData: () => assert.fail('not needed yet') }), null);
    let appendedBytes = 0;
    let compactions = 0;
    let largest = 0;
    const batch = 100;
    for (let b = 0; b < 120; b++) {
      for (let i = 0; i < batch; i++) {
        const payload = { b, i, text: 'ünïcödé '.repeat(30) };
        appendedBytes += JSON.stringify(payload).length;
        j.append(rec(i, { payload }));
      }
      const r = j.compact({
        keepSnapshotData: () => ({ run: 'r1', seq: j.nextSeq - 1, at: b, data: { b } }),
      });
      if (r !== null) {
        compactions++;
        assert.ok(r.bytesAfter < r.bytesBefore);
      }
      const onDisk = statSync(path).size;
      assert.equal(onDisk, j.sizeBytes(), 'free pages are returned to the file system');
      largest = Math.max(largest, onDisk);
    }
    const finalSize = j.sizeBytes();
    const last = j.nextSeq - 1;
    j.close();
    assert.ok(appendedBytes > 10 * maxBytes, `appended ${appendedBytes} bytes, want > 10 x maxBytes`);
    assert.ok(compactions >= 5, `compacted ${compactions} times`);
    // one batch (~30 KB of events) may land on top of maxBytes before the next compact()
    assert.ok(largest <= maxBytes + 64 * 1024, `largest file ${largest} bytes, bound ${maxBytes}`);
    assert.ok(finalSize <= maxBytes + 64 * 1024);
    const again = open(path);
    const snap = again.latestSnapshot('r1');
    assert.ok(snap);
    const seqs = [...again.readEvents()].map((e) => e.seq);
    assert.deepStrictEqual(
      seqs,
      Array.from({ length: last - snap.seq + 1 }, (_, i) => snap.seq + i),
      'the events from the newest snapshot on are all there',
    );
    again.close();
  });
});
