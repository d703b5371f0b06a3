// The apps link's tables on a real journal file: the standing requests and
// the log history survive a reopen, secrets never get in, damaged rows are
// skipped by name; a standing request and the state report of its turn commit
// with the event that caused them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../adapters/store/journal.js';
import { AppRequestsProjection } from '../../apps/projection.js';
import { APPS_STORAGE } from '../../apps/storage.js';
import { AppLogHistory } from '../../apps/log-history.js';
import { AppsJournalListener } from '../../apps/journal-listener.js';
import { ActorSystem } from '../../actors/system.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import { DEFAULT_APP_POLICY, type AppContext } from '../../machines/app.js';
import { AppId } from '../../machines/app-id.js';
import type { Json } from '../../actors/types.js';
import type { Stage } from '../../machines/app-states.js';
import { STUDIO_STORAGE, StudioOutbox } from '../../adapters/wamp/outbox.js';
import type { ReportFields } from '../../apps/service.js';
import { appStateReports } from '../../apps/state-report.js';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };

function tempJournal(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'reagent-apps-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'j.db');
  return { path, open: () => Journal.open({ path, logger: quiet }) };
}

test('standing requests: upsert, reported state, delete, and they survive a reopen', (t) => {
  const j = tempJournal(t);
  let journal = j.open();
  let p = new AppRequestsProjection(journal.storage('apps', APPS_STORAGE));
  p.upsertRequest('7', 'PROD', { target: 'RUNNING', appName: 'web', version: '1.0.0', requestId: 'r1', resync: true, cancel: false, spec: { registry: 'r/', repository: 'p/', ports: [], env: { A: '1' } } }, 10);
  p.noteState('7', 'PROD', 'RUNNING', '1.0.0');
  p.upsertRequest('8', 'DEV', { target: 'BUILT', appName: 'dev' }, 11);
  p.upsertRequest('7', 'PROD', { target: 'PRESENT', appName: 'web', version: '1.0.0' }, 12);
  p.noteState('9', 'PROD', 'RUNNING', null);
  journal.close();

  journal = j.open();
  p = new AppRequestsProjection(journal.storage('apps', APPS_STORAGE));
  const rows = p.all();
  assert.deepEqual(rows.map((r) => [r.appKey, r.stage, r.target, r.state, r.updatedSeq]), [
    ['7', 'PROD', 'PRESENT', 'RUNNING', 12],
    ['8', 'DEV', 'BUILT', null, 11],
  ]);
  assert.deepEqual(rows[0]?.payload, { target: 'PRESENT', appName: 'web', version: '1.0.0' }, 'delivery keys are not kept');
  p.delete('8', 'DEV');
  journal.connection.run("INSERT INTO app_requests (app_key, stage, app_name, target, payload, updated_seq) VALUES ('../x', 'PROD', 'x', 'RUNNING', '{}', 1)");
  const damaged: string[] = [];
  assert.deepEqual(p.all((_row, why) => damaged.push(why)).map((r) => r.appKey), ['7']);
  assert.match(damaged[0] ?? '', /invalid app key/);
  // the payload is a boundary too: a field of the wrong type names itself, and only that row is skipped
  journal.connection.run(`INSERT INTO app_requests (app_key, stage, app_name, target, payload, updated_seq) VALUES ('9', 'PROD', 'x', 'RUNNING', '{"target":"RUNNING","spec":{"registry":"r/","repository":"p/","ports":"80"}}', 2)`);
  damaged.length = 0;
  assert.deepEqual(p.all((_row, why) => damaged.push(why)).map((r) => r.appKey), ['7']);
  assert.equal(damaged.length, 2, damaged.join('; '));
  assert.ok(damaged.includes('field "spec.ports": expected an array of objects, got string "80"'), damaged.join('; '));
  journal.close();
});

test('log history: the last N lines per app, persisted when asked, read back after a restart', (t) => {
  const j = tempJournal(t);
  let journal = j.open();
  let now = 1_000_000;
  let h = new AppLogHistory(journal.storage('apps', APPS_STORAGE), 5, () => now);
  h.append('prod_7_web', ['Pulling image x…'], false);
  assert.equal(h.read('prod_7_web')?.hasAppOutput, false);
  h.append('prod_7_web', ['l1', 'l2', 'l3', 'l4', 'l5', 'l6'], true);
  assert.deepEqual(h.read('prod_7_web')?.lines, ['l2', 'l3', 'l4', 'l5', 'l6']);
  now += 5000;
  h.persist('prod_7_web');
  h.append('prod_7_web', ['not persisted'], true);
  journal.close();

  journal = j.open();
  h = new AppLogHistory(journal.storage('apps', APPS_STORAGE), 5, () => now);
  const back = h.read('prod_7_web');
  assert.deepEqual(back?.lines, ['l2', 'l3', 'l4', 'l5', 'l6']);
  assert.equal(back?.hasAppOutput, true);
  assert.equal(h.updatedAt('prod_7_web'), 1_005_000);
  assert.equal(h.read('prod_8_other'), undefined);
  h.forget('prod_7_web');
  assert.equal(h.read('prod_7_web'), undefined);
  journal.close();
});

test('the projection follows the journal: REQUEST events and reported states of app actors', (t) => {
  const j = tempJournal(t);
  const journal = j.open();
  const clock = new ManualClock(1000);
  const system = new ActorSystem({ journal, clock, registry: builtinMachines(), random: () => 0.5, run: 'r' });
  const projection = new AppRequestsProjection(journal.storage('apps', APPS_STORAGE));
  const agent: string[] = [];
  const listener = new AppsJournalListener({
    projection,
    logs: { agent: (c, text) => agent.push(`${c}: ${text}`) },
    identity: () => ({ appKey: '7', stage: 'PROD', appName: 'web' }),
    context: (id) => system.snapshot(id)?.context as AppContext | undefined,
    onForgotten: () => {},
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  system.subscribe(listener.onTransition);
  const id = AppId.format('PROD', '7');
  system.spawn(id, 'app', { appKey: '7', appName: 'web', stage: 'PROD', version: '1.0.0', initial: 'PRESENT', policy: DEFAULT_APP_POLICY });
  system.send(id, 'apps', 'REQUEST', { target: 'RUNNING', appName: 'web', version: '1.0.0', requestId: 'q1' });
  const row = projection.get('7', 'PROD');
  assert.equal(row?.target, 'RUNNING');
  assert.equal(row?.state, 'STARTING', 'the reported state follows each report');
  assert.ok(row && row.updatedSeq > 0);
  system.send(id, 'docker', 'OP_FAILED', { op: 'run', opId: 1, reason: 'boom' });
  assert.equal(projection.get('7', 'PROD')?.state, 'FAILED');
  assert.match(agent.at(-1) ?? '', /^prod_7_web: App failed: run failed: boom; restarting in \d+(\.\d)? s \(failure 1 of at most 20\)$/);
  system.close();
  journal.close();
});

test('a state report made in the turn of a REQUEST carries that request, and commits with the event: never ahead of it, never twice', async (t) => {
  const j = tempJournal(t);
  const journal = j.open();
  const clock = new ManualClock(1000);
  const system = new ActorSystem({ journal, clock, registry: builtinMachines(), random: () => 0.5, run: 'r' });
  const projection = new AppRequestsProjection(journal.storage('apps', APPS_STORAGE));
  const outbox = new StudioOutbox({ storage: journal.storage('studio', STUDIO_STORAGE), clock, logger: { debug() {}, warn() {}, error() {} }, random: () => 0 });
  const releaseOf = (stage: Stage, appKey: string): ReportFields | undefined => {
    const row = projection.get(appKey, stage);
    if (!row) return undefined;
    const release = row.payload.deviceOwnerAccountKey;
    return { device_to_app_key: null, requestor_account_key: null, release_key: typeof release === 'number' ? release : null, request_update: false, release_build: false, updateStatus: '' };
  };
  // subscribed before the projection's listener on purpose: the report must still see the REQUEST of its turn
  system.subscribe(appStateReports(releaseOf, (report, at) => outbox.queue(report, at), () => assert.fail('malformed')));
  system.subscribe(
    new AppsJournalListener({
      projection,
      logs: { agent: () => {} },
      identity: () => ({ appKey: '7', stage: 'PROD', appName: 'web' }),
      context: () => undefined,
      onForgotten: () => {},
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    }).onTransition,
  );
  const id = AppId.format('PROD', '7');
  system.spawn(id, 'app', { appKey: '7', appName: 'web', stage: 'PROD', version: '1.0.0', initial: 'PRESENT', policy: DEFAULT_APP_POLICY });
  await system.flush();
  system.send(id, 'apps', 'REQUEST', { target: 'RUNNING', appName: 'web', version: '1.0.0', requestId: 'q1', deviceOwnerAccountKey: 42 });
  assert.equal(journal.connection.get('SELECT 1 AS x FROM app_requests'), null, 'nothing written before the commit');
  assert.deepEqual(outbox.pending().map((r) => r.report.state), ['PRESENT']);
  await system.flush();
  // offline, the app's newer report replaced its PRESENT one
  const rows = outbox.pending();
  assert.deepEqual(rows.map((r) => [r.report.state, r.report['release_key']]), [['STARTING', 42]]);
  const request = journal.connection.get("SELECT seq FROM events WHERE type = 'REQUEST'")?.['seq'];
  assert.equal(journal.connection.get('SELECT updated_seq FROM app_requests')?.['updated_seq'], request, 'the standing request committed with its event');
  await system.flush(); // a commit with nothing new writes nothing again
  assert.deepEqual(outbox.pending().map((r) => r.id), rows.map((r) => r.id));
  outbox.close();
  system.close();
  journal.close();
});

test('a journal file from before link storage keeps its standing requests: the apps tables are adopted, not made again', (t) => {
  const j = tempJournal(t);
  let journal = j.open();
  // as the agent before link storage wrote it: straight into the table the journal's migration 3 made
  journal.connection.run("INSERT INTO app_requests (app_key, stage, app_name, target, payload, state, updated_seq) VALUES ('7', 'PROD', 'web', 'RUNNING', '{\"target\":\"RUNNING\"}', 'RUNNING', 4)");
  journal.connection.run("INSERT INTO app_log_history (container, lines, app_lines, updated_at) VALUES ('prod_7_web', '[\"hello\"]', '[1]', 9)");
  journal.close();
  journal = j.open();
  const storage = journal.storage('apps', APPS_STORAGE);
  assert.deepEqual(new AppRequestsProjection(storage).all().map((r) => [r.appKey, r.target, r.state, r.updatedSeq]), [['7', 'RUNNING', 'RUNNING', 4]]);
  assert.deepEqual(new AppLogHistory(storage, 5, () => 0).read('prod_7_web')?.lines, ['hello']);
  journal.close();
});
