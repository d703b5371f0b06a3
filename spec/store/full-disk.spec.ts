// The store and the log on a disk that fills up (a small tmpfs): the journal
// says "disk full" and keeps its records for a later commit, a run row waits
// for the next commit instead of stopping the start, closing never throws
// past what it could not write; the instance lock leaves no temp file; the
// log file holds only whole lines.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { Journal } from '../../adapters/store/journal.js';
import { acquireInstanceLock } from '../../adapters/store/instance-lock.js';
import { DiskFullError, describeStorageFailure } from '../../adapters/store/storage-problem.js';
import { JournalPathError } from '../../adapters/store/journal-path.js';
import { RotatingFile } from '../../adapters/log/rotating-file.js';
import { mountTmpfs, tmpfsOrSkip, type Tmpfs } from '../helpers/tmpfs.js';
import { ActorSystem } from '../../actors/system.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import { appActorId, DEFAULT_APP_POLICY } from '../../machines/app.js';
import { AppRequestsProjection } from '../../apps/projection.js';
import { APPS_STORAGE } from '../../apps/storage.js';
import { AppsJournalListener } from '../../apps/journal-listener.js';
import type { Json } from '../../actors/types.js';
import { tempDir } from '../helpers/cli.js';
import { removeDirs } from '../helpers/gateway-peer.js';

const quiet = { info() {}, warn() {}, error() {} };

function record(i: number) {
  return { run: 'r', at: i, source: 'test', actor: 'a', type: 'E', payload: { i, pad: 'x'.repeat(200) }, rand: 0, state: null, ctx: null, cmds: [] };
}

const skipped = tmpfsOrSkip('full disk, store and log', (name, reason) => test(name, { skip: reason }, () => {}));

describe('the store on a full disk', { skip: skipped ?? false }, () => {
  let disk: Tmpfs;
  before(() => {
    disk = mountTmpfs(1024);
  });
  after(() => disk.unmount());

  it('a commit on a full disk fails as "disk full", keeps its records, and succeeds once space returns', () => {
    const dir = join(disk.dir, 'journal');
    const journal = Journal.open({ path: join(dir, 'reagent.db'), logger: quiet });
    journal.appendRun('r', 0, 'test', {});
    journal.append(record(0));
    journal.commit();
    disk.fill();
    for (let i = 1; i <= 50; i++) journal.append(record(i));
    assert.throws(
      () => journal.commit(),
      (err: Error) => /commit of 50 records failed: disk full \(\d+ KiB free on /.test(err.message) && !/disk I\/O error/.test(err.message),
    );
    assert.equal(journal.pending, 50, 'the records wait for the next commit');
    assert.ok(journal.pendingBytes() > 50 * 200, 'and their memory is counted');
    assert.throws(() => journal.commit(), /disk full/, 'a second failure says the same, not a stale statement error');
    disk.release();
    journal.commit();
    assert.equal(journal.pending, 0);
    assert.deepEqual([...journal.readEvents()].map((r) => (r.payload as { i: number }).i), Array.from({ length: 51 }, (_, i) => i));
    journal.close();
  });

  it('a run row that cannot be written waits for the next commit; close on a full disk closes anyway', () => {
    const dir = join(disk.dir, 'runs');
    const path = join(dir, 'reagent.db');
    Journal.open({ path, logger: quiet }).close();
    disk.fill();
    const journal = Journal.open({ path, logger: quiet });
    const deferred = journal.appendRun('late', 5, 'test', {});
    assert.match(deferred ?? '', /^disk full/);
    journal.append(record(1));
    assert.throws(() => journal.close(), /disk full/, 'what could not be written is said');
    assert.throws(() => journal.commit(), /is closed/, 'and the journal is closed all the same');
    disk.release();
    const again = Journal.open({ path, logger: quiet });
    assert.equal(again.appendRun('later', 6, 'test', {}), null);
    again.close();
  });

  it('a journal that cannot even be created is a DiskFullError naming the disk', () => {
    disk.fill(8 * 1024);
    try {
      assert.throws(
        () => Journal.open({ path: join(disk.dir, 'fresh', 'reagent.db'), logger: quiet }),
        (err: Error) => err instanceof DiskFullError && /cannot be written: disk full \(\d+ KiB free on /.test(err.message),
      );
    } finally {
      disk.release();
    }
  });

  it('the instance lock on a full disk: a DiskFullError, and no reagent.pid.*.tmp left', () => {
    const dir = join(disk.dir, 'lock');
    mkdirSync(dir);
    disk.fill();
    try {
      assert.throws(() => acquireInstanceLock(dir), (err: Error) => err instanceof DiskFullError && /disk full/.test(err.message));
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      disk.release();
    }
    const lock = acquireInstanceLock(dir);
    lock.release();
    assert.deepEqual(readdirSync(dir), []);
  });

  it('an app request the disk refused waits with its event and reaches the projection in the same commit as it, once the disk has room', async () => {
    const journal = Journal.open({ path: join(disk.dir, 'apps', 'reagent.db'), logger: quiet });
    const system = new ActorSystem({ journal, clock: new ManualClock(1000), registry: builtinMachines(), random: () => 0.5, run: 'r', logger: { warn() {}, error() {} } });
    const projection = new AppRequestsProjection(journal.storage('apps', APPS_STORAGE));
    const errors: string[] = [];
    const listener = new AppsJournalListener({
      projection,
      logs: { agent: () => {} },
      identity: () => ({ appKey: '7', stage: 'PROD', appName: 'web' }),
      context: () => undefined,
      onForgotten: () => {},
      logger: { debug() {}, info() {}, warn() {}, error: (_o: object, m?: string) => void errors.push(m ?? '') },
    });
    system.subscribe(listener.onTransition);
    const id = appActorId('PROD', '7');
    system.spawn(id, 'app', { appKey: '7', appName: 'web', stage: 'PROD', version: '1.0.0', initial: 'PRESENT', policy: DEFAULT_APP_POLICY } as unknown as Json);
    await system.flush();
    const stored = () => journal.connection.get("SELECT target, state, updated_seq FROM app_requests WHERE app_key = '7'");
    const requests = () => journal.connection.get("SELECT seq FROM events WHERE type = 'REQUEST'");
    disk.fill();
    try {
      system.send(id, 'apps', 'REQUEST', { target: 'RUNNING', appName: 'web', version: '1.0.0', requestId: 'q1' });
      await system.flush();
      assert.ok(system.journalFailing, 'the disk refused the commit');
      assert.equal(stored(), null, 'the standing request is not written ahead of its event');
      assert.equal(requests(), null);
      assert.equal(projection.get('7', 'PROD')?.target, 'RUNNING', 'but this process already knows it');
      assert.ok(journal.pendingLinkWrites >= 2, 'the request and the state reported meanwhile wait with the event');
    } finally {
      disk.release();
    }
    await system.flush();
    assert.equal(journal.pendingLinkWrites, 0);
    assert.deepEqual(stored(), { target: 'RUNNING', state: 'STARTING', updated_seq: requests()?.['seq'] }, 'request and state, committed with the event, in order');
    assert.deepEqual(errors, [], 'nothing to catch up on, nothing lost');
    system.close();
    journal.close();
  });

  it('the log file holds whole lines only, also when the disk fills halfway through one', () => {
    const path = join(disk.dir, 'log', 'reagent.log');
    const errors: string[] = [];
    const file = new RotatingFile({ path, onError: (e) => errors.push(e.message) });
    // 1000-byte lines; the file's first page (4 KiB on tmpfs) is all the room left once the disk is
    // full, so the fourth line runs out of space after its first 96 bytes.
    const line = (i: number) => `${JSON.stringify({ i, msg: 'y'.repeat(1000 - 17) })}\n`;
    assert.equal(line(0).length, 1000);
    file.write(line(0));
    disk.fill();
    for (let i = 1; i <= 6; i++) file.write(line(i));
    assert.match(errors.join('\n'), /ENOSPC/);
    disk.release();
    file.write(line(7));
    file.close();
    const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
    const seen = lines.map((l) => (JSON.parse(l) as { i: number }).i);
    assert.equal(seen[0], 0);
    assert.equal(seen.at(-1), 7);
    assert.deepEqual(seen, [0, 1, 2, 3, 7], 'the lines that fitted, none torn, then the one after space returned');
  });
});

describe('journal paths', () => {
  const dirs: string[] = [];
  after(() => removeDirs(...dirs));
  const dir = () => {
    const d = tempDir('reagent-path-');
    dirs.push(d);
    return d;
  };

  it('refuses a directory, a dangling symlink and a fifo-like non-file, with what to do', () => {
    const a = dir();
    mkdirSync(join(a, 'reagent.db'));
    assert.throws(() => Journal.open({ path: join(a, 'reagent.db'), logger: quiet }), (e: Error) => e instanceof JournalPathError && e.problem === 'directory');
    const b = dir();
    symlinkSync(join(b, 'gone', 'x.db'), join(b, 'reagent.db'));
    assert.throws(() => Journal.open({ path: join(b, 'reagent.db'), logger: quiet }), (e: Error) => e instanceof JournalPathError && e.problem === 'dangling-symlink');
    const c = dir();
    mkdirSync(join(c, 'real'));
    symlinkSync(join(c, 'real'), join(c, 'reagent.db'));
    assert.throws(() => Journal.open({ path: join(c, 'reagent.db'), logger: quiet }), /a symbolic link to .*real\) is a directory|is a directory/);
  });

  it('a symlink to an existing file is a journal like any other', () => {
    const d = dir();
    Journal.open({ path: join(d, 'elsewhere.db'), logger: quiet }).close();
    symlinkSync(join(d, 'elsewhere.db'), join(d, 'reagent.db'));
    Journal.open({ path: join(d, 'reagent.db'), logger: quiet }).close();
  });

  it('moves a file at <db>.lock aside only with stale lock recovery (the instance lock held)', () => {
    const d = dir();
    const path = join(d, 'reagent.db');
    Journal.open({ path, logger: quiet }).close();
    writeFileSync(`${path}.lock`, 'junk');
    const j = Journal.open({ path, logger: quiet, staleLockRecovery: true });
    assert.deepEqual(j.recovered.map((r) => r.kind), ['quarantined']);
    assert.match(j.recovered[0]!.path ?? '', /reagent\.db\.lock\.quarantine-\d{8}T\d{6}\.\d{3}Z$/);
    j.close();
  });
});

test('describeStorageFailure names a full disk and leaves other errors alone', () => {
  assert.match(describeStorageFailure('/definitely/not/here/x.db', 'database or disk is full'), /^disk full/);
  assert.equal(describeStorageFailure('/tmp/x.db', 'UNIQUE constraint failed: runs.run'), 'UNIQUE constraint failed: runs.run');
  assert.match(describeStorageFailure('/tmp/x.db', 'disk I/O error'), /disk I\/O error \(\d+ KiB free on \/tmp\)|^disk full/);
});
