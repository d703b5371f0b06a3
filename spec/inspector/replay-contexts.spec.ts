// Contexts at any event of a replay (time travel): rebuilt from the nearest
// checkpoint, they must be exactly what a fresh replay up to that event
// reaches, wherever the checkpoints fall and in whatever order they are asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { replayRecords, type ReplaySnapshot } from '../../actors/replay.js';
import { builtinMachines } from '../../machines/registry.js';
import type { Json, JournalRecord } from '../../actors/types.js';
import { openRecording } from '../../adapters/store/recording.js';
import { ReplayContexts } from '../../inspector/replay-contexts.js';
import { MemoryJournal } from '../helpers/memory-journal.js';
import { studioPolicy } from '../helpers/connection-policy.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/recordings/', import.meta.url));

/** A recording of connection actors (timers, backoff jitter) and gateway sessions coming and going, over `runs` daemon starts. */
function record(seed: number, steps: number, runs = 1): JournalRecord[] {
  const journal = new MemoryJournal();
  let s = seed >>> 0 || 1;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const clock = new ManualClock(1_700_000_000_000);
  for (let run = 0; run < runs; run++) {
    const system = new ActorSystem<LooseCatalog>({ journal, clock, registry: builtinMachines(), random, run: `run${run}` });
    for (const id of ['studio', 'gateway']) system.spawn(id, 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
    let session = 0;
    for (let i = 0; i < steps; i++) {
      const r = random();
      const id = r < 0.5 ? 'studio' : 'gateway';
      const sid = `gateway-session:s${session}`;
      if (r < 0.08) system.send(id, 'net', 'START');
      else if (r < 0.2) system.send(id, 'net', 'CONNECTED');
      else if (r < 0.3) system.send(id, 'net', 'PONG');
      else if (r < 0.36) system.send(id, 'net', 'DISCONNECTED', { reason: 'eof' });
      else if (r < 0.4) system.spawn(sid, 'gateway-session', { sid: `s${session}`, connectionType: 'tcp', connectionName: `db${session}`, verb: 'connect', userEmail: 'dev@example.com' });
      else if (r < 0.46) system.send(sid, 'grpc', 'OPENED', { target: '127.0.0.1:5432' });
      else if (r < 0.55) system.send(sid, 'grpc', 'CONNECTION_OPENED', { connection: String(i) });
      else if (r < 0.62) system.send(sid, 'grpc', 'CONNECTION_CLOSED', { connection: String(i), bytesIn: i, bytesOut: 2 * i, reason: i % 3 ? 'closed' : 'reset' });
      else if (r < 0.65) {
        system.send(sid, 'grpc', 'CLOSED', { reason: 'client closed', exitCode: null });
        system.stop(sid);
        session++;
      } else clock.advance(Math.floor(random() * 4000));
    }
    system.close();
  }
  return journal.records;
}

/** Every actor's context after `seq`, by a fresh replay of the whole recording up to it. */
function freshContexts(records: readonly JournalRecord[], seq: number, snapshots?: Map<string, ReplaySnapshot>, resumePoints?: readonly ReplaySnapshot[]): Map<string, string> {
  const out = new Map<string, string>();
  const report = replayRecords(records, {
    registry: builtinMachines(),
    until: seq,
    snapshots,
    resumePoints,
    atEnd: (system) => {
      for (const id of system.actorIds()) out.set(id, JSON.stringify((system.snapshot(id) as { context: unknown }).context));
    },
  });
  assert.equal(report.verdict, 'reproduced', JSON.stringify(report.divergence ?? report.refusal));
  return out;
}

function loaded(records: readonly JournalRecord[], every: number, snapshots?: Map<string, ReplaySnapshot>, resumePoints?: readonly ReplaySnapshot[]) {
  const contexts = new ReplayContexts({ registry: builtinMachines(), snapshots, resumePoints }, { every });
  const seqs: number[] = [];
  contexts.load(records, (step) => {
    seqs.push(step.record.seq);
  });
  return { contexts, seqs };
}

test('property: the context at row N equals what a fresh replay reaches at N, for random recordings, spacings and N in any order', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.integer({ min: 40, max: 400 }),
      fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 1, max: 40 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 1, maxLength: 12 }),
      (seed, steps, runs, every, picks) => {
        const records = record(seed, steps, runs);
        const { contexts, seqs } = loaded(records, every);
        assert.equal(seqs.length, records.length, 'every record is walked');
        for (const p of picks) {
          const row = Math.floor(p * seqs.length);
          const got = contexts.at(row).contexts;
          assert.deepEqual(new Map([...got].sort()), new Map([...freshContexts(records, seqs[row]!)].sort()), `row ${row} (seq ${seqs[row]}) with checkpoints every ${every}`);
        }
        contexts.close();
      },
    ),
    { numRuns: 60 },
  );
});

test('every fixture recording: contexts at every row match a fresh replay (compacted runs start from their snapshot)', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.ndjson'));
  assert.ok(files.length >= 5, files.join(', '));
  for (const file of files) {
    const rec = openRecording(FIXTURES + file);
    const records = [...rec.records()];
    const snapshots = new Map<string, ReplaySnapshot>();
    for (const s of rec.snapshots) if ((snapshots.get(s.run)?.seq ?? -1) < s.seq) snapshots.set(s.run, s);
    rec.close();
    const { contexts, seqs } = loaded(records, 7, snapshots, rec.snapshots);
    assert.ok(seqs.length > 0, file);
    // Backwards, so each answer comes from a checkpoint rather than from the previous one.
    for (let row = seqs.length - 1; row >= 0; row--) {
      assert.deepEqual(new Map([...contexts.at(row).contexts].sort()), new Map([...freshContexts(records, seqs[row]!, snapshots, rec.snapshots)].sort()), `${file} row ${row}`);
    }
    contexts.close();
  }
});

test('checkpoints stay within their budget: past it they thin out and the spacing doubles, answers unchanged', () => {
  const records = record(99, 3000);
  const small = new ReplayContexts({ registry: builtinMachines() }, { every: 4, maxCheckpoints: 10 });
  small.load(records, () => {});
  assert.ok(small.usage().checkpoints <= 10, JSON.stringify(small.usage()));
  assert.ok(small.spacing >= Math.ceil(records.length / 10 / 2), `spacing ${small.spacing} for ${records.length} rows`);
  const bytes = new ReplayContexts({ registry: builtinMachines() }, { every: 1, maxBytes: 20_000 });
  bytes.load(records, () => {});
  assert.ok(bytes.usage().bytes <= 20_000, JSON.stringify(bytes.usage()));
  const plenty = new ReplayContexts({ registry: builtinMachines() }, { every: 1 });
  plenty.load(records, () => {});
  const n = records.length;
  for (const row of [n - 1, 5, Math.floor(n / 2), n - 2, 0]) {
    assert.deepEqual(small.at(row).contexts, plenty.at(row).contexts, `row ${row}`);
    assert.deepEqual(bytes.at(row).contexts, plenty.at(row).contexts, `row ${row}`);
  }
  for (const c of [small, bytes, plenty]) c.close();
});

test('stepping forward continues the last rebuild; stepping back resumes from a checkpoint, never from the start', () => {
  const records = record(7, 3000);
  assert.ok(records.length > 1600, `${records.length} records`);
  const contexts = new ReplayContexts({ registry: builtinMachines() }, { every: 100 });
  contexts.load(records, () => {});
  contexts.at(1500);
  const before = contexts.reexecuted;
  for (let row = 1501; row <= 1510; row++) contexts.at(row);
  assert.equal(contexts.reexecuted - before, 10, 'ten steps forward re-execute ten records');
  const back = contexts.reexecuted;
  contexts.at(1450);
  assert.ok(contexts.reexecuted - back <= 100, `a step back re-executes at most the spacing (${contexts.reexecuted - back})`);
  contexts.close();
});
