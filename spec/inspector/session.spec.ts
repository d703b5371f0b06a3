import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import type { Json } from '../../actors/types.js';
import { InspectorSession } from '../../inspector/session.js';
import { replayRecords } from '../../actors/replay.js';
import { Redactor } from '../../adapters/log/redactor.js';
import { MemoryJournal } from '../helpers/memory-journal.js';
import { studioPolicy } from '../helpers/connection-policy.js';

test('a live inspector opened late shows the journaled history, then follows the system without a gap', () => {
  const registry = builtinMachines();
  const journal = new MemoryJournal();
  const clock = new ManualClock(1_700_000_000_000);
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry, random: () => 0.3, run: 'r' });
  system.spawn('studio', 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
  system.send('studio', 'net', 'START');
  system.send('studio', 'net', 'CONNECTED');

  const redactor = new Redactor();
  redactor.addSecret('hunter2-secret');
  const session = new InspectorSession({ mode: 'live', registry, run: 'r', agentVersion: 'test', title: 't', scrub: (v) => redactor.scrub(v) });
  session.seed(journal.records);
  const detach = session.attach(system);
  system.send('studio', 'net', 'DISCONNECTED', { reason: 'bad password hunter2-secret', spec: { env: { DB_PASSWORD: 'app-env-PLANTED-1' } } });
  clock.advance(2000); // the backoff (about 1 s) is over, the connect timeout (1.25 s later) not yet
  detach();
  system.send('studio', 'net', 'STOP');

  const rows = session.timeline.query({}, 0, 100).rows;
  assert.deepEqual(
    rows.map((r) => [r.seq, r.type, r.state]),
    journal.records.slice(0, -1).map((r) => [r.seq, r.type, r.state]),
    'history and live events in order, nothing after detaching',
  );
  assert.equal(rows[0]!.machine, 'connection', 'the machine of a seeded actor comes from its spawn');
  assert.ok(!JSON.stringify(rows).includes('hunter2-secret'));
  // An app's environment (the journal's spec.env): names shown, values hidden.
  assert.ok(!JSON.stringify(rows).includes('app-env-PLANTED-1'));
  assert.ok(JSON.stringify(rows).includes('"DB_PASSWORD":"[REDACTED]"'));
  const last = session.stateAt(session.timeline.length - 1).find((s) => s.actor === 'studio')!;
  assert.deepEqual(last.active, ['connecting']);
  const detail = session.detail('studio')!;
  assert.equal(detail.delays['connectTimeout'], 1250);
  assert.equal((detail.context as { lastError: string }).lastError, 'bad password [REDACTED]');
});

test('a replay session walks every event of a recording that diverges (a redacted payload), and says so next to the contexts after it', () => {
  const registry = builtinMachines();
  const journal = new MemoryJournal();
  const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(1_700_000_000_000), registry, random: () => 0.3, run: 'r' });
  system.spawn('studio', 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
  system.spawn('gateway', 'connection', { link: 'grpc', policy: studioPolicy as unknown as Json });
  system.send('studio', 'net', 'START');
  system.send('studio', 'net', 'CONNECT_FAILED', { reason: 'password hunter2-secret refused' });
  system.send('gateway', 'grpc', 'START');
  system.send('studio', 'net', 'STOP');
  system.send('gateway', 'grpc', 'CONNECTED');
  system.stop('gateway');
  system.close();
  // What a bug report does to a secret in a payload: the replay of that actor's context cannot match any more.
  const records = journal.records.map((r) => (r.seq === 4 ? { ...r, payload: { reason: '[REDACTED]' }, redacted: true } : r));

  const report = replayRecords(records, { registry });
  assert.equal(report.verdict, 'diverged');
  assert.equal(report.divergence!.seq, 4);
  const session = new InspectorSession({ mode: 'replay', registry, run: 'r', agentVersion: 'test', title: 't' });
  session.load(records, { registry });
  assert.equal(session.timeline.length, records.length, 'every event is a row, also past the divergence');
  assert.deepEqual(session.timeline.query({}, 0, 100).rows.map((r) => [r.seq, r.state, r.differs]), records.map((r) => [r.seq, r.state, r.seq === 4]), 'recorded states; the diverging row marked');

  const before = session.detail('studio', 2)!;
  assert.equal(before.note, null);
  const after = session.detail('studio', 3)!;
  assert.equal((after.context as { lastError: string }).lastError, '[REDACTED]', 'the re-executed context, from the redacted input');
  assert.match(after.note ?? '', /From seq 4 on, re-executing studio gives another context than the recording.*Secrets were redacted/);
  // The other actor is untouched by it; once stopped, it shows the context it stopped with.
  assert.equal(session.detail('gateway', 6)!.note, null);
  const gone = session.detail('gateway', 7)!;
  assert.equal(gone.status, 'stopped');
  assert.deepEqual(gone.context, session.detail('gateway', 6)!.context);
  assert.match(gone.note ?? '', /^gateway stopped at event #7; this is its context when it stopped\.$/);
  assert.equal(session.detail('studio', 6)!.status, 'active', 'STOP is an event; the actor is still alive (idle)');
  assert.match(session.detail('nobody', 6)!.unavailable ?? '', /did not exist yet/);
  // Without a row: after the last event (the page resolves each card's named delays with it).
  const newest = session.detail('studio')!;
  assert.equal(newest.row, session.timeline.length - 1);
  assert.equal(typeof newest.delays['connectTimeout'], 'number');
  session.close();
});
