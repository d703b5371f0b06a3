import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { replayRecords, type ReplaySnapshot } from '../../actors/replay.js';
import { builtinMachines } from '../../machines/registry.js';
import { Journal } from '../../adapters/store/journal.js';
import { openRecording } from '../../adapters/store/recording.js';
import type { Json } from '../../actors/types.js';
import { tempDir } from '../helpers/cli.js';
import { studioPolicy } from '../helpers/connection-policy.js';

test('a journal kept under its size budget by snapshots still replays exactly from the latest snapshot', () => {
  const path = join(tempDir(), 'reagent.db');
  const maxBytes = 256 * 1024;
  const journal = Journal.open({ path, maxBytes });
  const clock = new ManualClock(1_700_000_000_000);
  let s = 11;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const run = 'long-run';
  const registry = builtinMachines();
  journal.appendRun(run, clock.now(), 'test', registry.versions());
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry, random, run });
  const ids = ['a', 'b', 'c'];
  for (const id of ids) system.spawn(id, 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
  for (const id of ids) system.send(id, 'net', 'START');

  let compactions = 0;
  let maxSeen = 0;
  for (let i = 0; i < 12_300; i++) {
    const id = ids[i % 3]!;
    const r = random();
    // Long payloads make the budget bite often.
    if (r < 0.3) system.send(id, 'net', 'CONNECTED', { note: 'x'.repeat(120) });
    else if (r < 0.6) system.send(id, 'net', 'PONG');
    else if (r < 0.75) system.send(id, 'net', 'DISCONNECTED', { reason: 'eof' });
    else clock.advance(Math.floor(random() * 4000)); // timers (backoff, pings) fire in between
    if (i % 500 === 499) {
      journal.commit();
      const result = journal.compact({ keepSnapshotData: () => ({ run, seq: journal.nextSeq - 1, at: clock.now(), data: system.persist() }) });
      if (result) compactions++;
      maxSeen = Math.max(maxSeen, journal.sizeBytes());
    }
  }
  system.close();
  journal.close();
  assert.ok(compactions >= 3, `compaction happened (${compactions} times)`);
  assert.ok(maxSeen <= maxBytes * 1.5, `the file stayed near its budget (${maxSeen} bytes)`);

  const recording = openRecording(path);
  const snapshots = new Map<string, ReplaySnapshot>();
  for (const snap of recording.snapshots) if ((snapshots.get(snap.run)?.seq ?? -1) < snap.seq) snapshots.set(snap.run, snap);
  assert.equal(snapshots.size, 1);
  const report = replayRecords(recording.records(), { registry, snapshots });
  recording.close();
  assert.equal(report.verdict, "reproduced", JSON.stringify(report.divergence));
  assert.ok(report.events > 100, `replayed ${report.events} events after the snapshot`);
});
