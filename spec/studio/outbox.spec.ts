import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../adapters/store/journal.js';
import { ManualClock } from '../../actors/clock.js';
import { STUDIO_STORAGE, StudioOutbox, type AppReport, type OutboxRow } from '../../adapters/wamp/outbox.js';
import { LOCAL_ERRORS, WampCallError } from '../../adapters/wamp/errors.js';

const quiet = { warn() {}, error() {}, debug() {}, info() {} };

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'reagent-outbox-'));
  const path = join(dir, 'reagent.db');
  let journal = Journal.open({ path, logger: quiet });
  const clock = new ManualClock(0);
  let n = 0;
  const make = () => new StudioOutbox({ storage: journal.storage('studio', STUDIO_STORAGE), clock, logger: quiet, random: () => 0, newId: () => `r${++n}` });
  let outbox = make();
  return {
    clock,
    get outbox() {
      return outbox;
    },
    get journal() {
      return journal;
    },
    reopen() {
      outbox.close();
      journal.close();
      journal = Journal.open({ path, logger: quiet });
      outbox = make();
    },
    done() {
      outbox.close();
      journal.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const report = (app: number, state: string, stage = 'PROD'): AppReport => ({ app_key: app, stage, state });

test('reports are delivered one at a time in the order they happened, and leave only once acknowledged', async () => {
  const s = setup();
  try {
    const sent: string[] = [];
    let inFlight = 0;
    s.outbox.setSender(async (row) => {
      inFlight++;
      assert.equal(inFlight, 1, 'one report in flight at a time');
      await new Promise((r) => setTimeout(r, 2));
      sent.push(`${row.appKey}:${row.report.state}`);
      inFlight--;
    });
    for (const st of ['DOWNLOADING', 'PRESENT', 'STARTING', 'RUNNING']) s.outbox.enqueue(report(1, st), 0);
    s.outbox.enqueue(report(2, 'REMOVED'), 0);
    await s.outbox.idle();
    await new Promise((r) => setTimeout(r, 20));
    await s.outbox.idle();
    assert.deepEqual(sent, ['1:DOWNLOADING', '1:PRESENT', '1:STARTING', '1:RUNNING', '2:REMOVED']);
    assert.equal(s.outbox.pending().length, 0);
  } finally {
    s.done();
  }
});

test('while the link is down an app\'s newer report replaces its undelivered ones; other apps keep theirs', () => {
  const s = setup();
  try {
    s.outbox.enqueue(report(1, 'DOWNLOADING'), 0);
    s.outbox.enqueue(report(2, 'RUNNING'), 0);
    s.outbox.enqueue(report(1, 'PRESENT'), 0);
    s.outbox.enqueue(report(1, 'RUNNING', 'DEV'), 0);
    s.outbox.enqueue(report(1, 'RUNNING'), 0);
    assert.deepEqual(
      s.outbox.pending().map((r) => `${r.stage}:${r.appKey}:${r.report.state}`),
      ['PROD:2:RUNNING', 'DEV:1:RUNNING', 'PROD:1:RUNNING'],
    );
  } finally {
    s.done();
  }
});

test('while the link is down a port report replaces only the app\'s older port report, never its state report', () => {
  const s = setup();
  try {
    s.outbox.enqueue(report(1, 'RUNNING'), 0);
    s.outbox.enqueue({ app_key: 1, stage: 'PROD', ports: [{ port: 80, host_port: 40000 }] }, 0);
    s.outbox.enqueue({ app_key: 1, stage: 'PROD', ports: [{ port: 80, host_port: 40001 }] }, 0);
    s.outbox.enqueue(report(1, 'FAILED'), 0);
    assert.deepEqual(
      s.outbox.pending().map((r) => JSON.stringify(r.report)),
      ['{"app_key":1,"stage":"PROD","ports":[{"port":80,"host_port":40001}]}', '{"app_key":1,"stage":"PROD","state":"FAILED"}'],
    );
  } finally {
    s.done();
  }
});

test('reports survive closing and reopening the file, with their ids, and are delivered after', async () => {
  const s = setup();
  try {
    const id = s.outbox.enqueue(report(1, 'RUNNING'), 5);
    s.reopen();
    const waiting = s.outbox.pending();
    assert.deepEqual(waiting.map((r) => [r.id, r.report.state, r.createdAt]), [[id, 'RUNNING', 5]]);
    const got: OutboxRow[] = [];
    s.outbox.setSender(async (row) => void got.push(row));
    await s.outbox.idle();
    assert.deepEqual(got.map((r) => r.id), [id]);
  } finally {
    s.done();
  }
});

test('a lost answer sends the same report (same id) again; a link that goes mid-send keeps the report', async () => {
  const s = setup();
  try {
    const ids: string[] = [];
    let fail = true;
    s.outbox.enqueue(report(1, 'RUNNING'), 0);
    s.outbox.setSender(async (row) => {
      ids.push(row.id);
      if (fail) throw new WampCallError('update_app_on_device', LOCAL_ERRORS.timeout);
    });
    await s.outbox.idle();
    assert.equal(s.outbox.pending()[0]?.attempts, 1);
    fail = false;
    s.clock.advance(60_000); // the retry timer
    await s.outbox.idle();
    assert.equal(ids.length, 2);
    assert.equal(ids[0], ids[1], 'the redelivery carries the same id, so the backend can drop it');
    assert.equal(s.outbox.pending().length, 0);

    s.outbox.setSender(null);
    s.outbox.enqueue(report(2, 'PRESENT'), 0);
    let release!: () => void;
    s.outbox.setSender(() => new Promise<void>((_, reject) => (release = () => reject(new WampCallError('x', LOCAL_ERRORS.closed)))));
    await new Promise((r) => setTimeout(r, 5));
    s.outbox.setSender(null);
    release();
    await s.outbox.idle();
    assert.equal(s.outbox.pending().length, 1, 'still waiting for the next link');
  } finally {
    s.done();
  }
});

test('a report the backend keeps refusing is retried with backoff, then set aside, and the queue moves on', async () => {
  const s = setup();
  try {
    s.outbox.enqueue(report(1, 'FAILED'), 0);
    s.outbox.enqueue(report(2, 'RUNNING'), 0);
    const delivered: string[] = [];
    s.outbox.setSender(async (row) => {
      if (row.appKey === '1') throw new WampCallError('update_app_on_device', 'wamp.error.callee_failure', ['reswarm.error.invalid']);
      delivered.push(row.appKey);
    });
    for (let i = 0; i < 12; i++) {
      await s.outbox.idle();
      s.clock.advance(60_000);
    }
    await s.outbox.idle();
    assert.deepEqual(delivered, ['2']);
    const dead = s.outbox.dead();
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.attempts, 10);
    assert.match(String(dead[0]?.lastError), /callee_failure/);
  } finally {
    s.done();
  }
});

test('a queued report (caused by an event) is written by the journal\'s next commit, made then, and sent only once woken', async () => {
  const s = setup();
  try {
    const sent: string[] = [];
    let state = 'STARTING';
    s.outbox.queue(() => report(1, state), 7);
    state = 'RUNNING'; // what the app's request says by the time of the commit is what goes out
    assert.equal(s.outbox.pending().length, 0, 'not before the commit');
    s.outbox.setSender(async (row) => void sent.push(String(row.report.state)));
    await s.outbox.idle();
    assert.deepEqual(sent, []);
    s.journal.commit();
    assert.deepEqual(s.outbox.pending().map((r) => [r.report.state, r.createdAt]), [['RUNNING', 7]]);
    s.outbox.wake();
    await s.outbox.idle();
    assert.deepEqual(sent, ['RUNNING']);
    s.journal.commit(); // nothing queued: nothing written again
    assert.equal(s.outbox.pending().length, 0);
  } finally {
    s.done();
  }
});
