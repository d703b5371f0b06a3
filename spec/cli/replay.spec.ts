import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sqlite3 from 'node-sqlite3-wasm';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import { Journal } from '../../adapters/store/journal.js';
import { writeExport, EXPORT_FORMAT, EXPORT_FORMAT_VERSION } from '../../adapters/store/export.js';
import type { Json } from '../../actors/types.js';
import { cleanEnv, runReagent, tempDir } from '../helpers/cli.js';
import { studioPolicy } from '../helpers/connection-policy.js';

/** A real journal file with two links going through connects, pings, drops and backoffs. */
function recordJournal(path: string): { events: number } {
  const journal = Journal.open({ path });
  const clock = new ManualClock(1_700_000_000_000);
  let s = 3;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const run = 'run-1';
  const registry = builtinMachines();
  journal.appendRun(run, clock.now(), 'test', registry.versions());
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry, random, run });
  for (const id of ['studio', 'gateway']) system.spawn(id, 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
  for (let i = 0; i < 40; i++) {
    const id = i % 2 ? 'studio' : 'gateway';
    if (i % 7 === 0) system.send(id, 'net', 'START');
    else if (i % 5 === 0) system.send(id, 'net', 'DISCONNECTED', { reason: 'eof' });
    else if (i % 3 === 0) system.send(id, 'net', 'CONNECTED');
    else clock.advance(1700);
  }
  system.close();
  const events = journal.nextSeq - 1;
  journal.close();
  return { events };
}

test('reagent replay reproduces a recorded journal file, and names the first divergence of a tampered one', () => {
  const dir = tempDir();
  const db = join(dir, 'reagent.db');
  const { events } = recordJournal(db);
  assert.ok(events > 30, `recorded ${events} events`);

  const ok = runReagent(['replay', db], cleanEnv(dir));
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`^reproduced: ${events} events in 1 run\\(s\\) replayed`));

  const json = runReagent(['replay', db, '--json', '--until', '10'], cleanEnv(dir));
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { verdict: string; events: number };
  assert.deepEqual([report.verdict, report.events], ['reproduced', 10]);

  // Pretend the recorded agent ended up somewhere else after event 17.
  const raw = new sqlite3.Database(db);
  raw.run(`UPDATE events SET state = '"idle"' WHERE seq = 17`);
  const type = (raw.get('SELECT type, actor FROM events WHERE seq = 17') as { type: string; actor: string });
  raw.close();
  const bad = runReagent(['replay', db], cleanEnv(dir));
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, new RegExp(`^diverged at seq 17 \\(run run-1\\): actor ${type.actor} \\(machine connection\\) on ${type.type.replace(/\./g, '\\.')}: state differs; expected state "idle"`));
});

test('reagent replay reads exports too, and refuses what it cannot read with a reason', () => {
  const dir = tempDir();
  const db = join(dir, 'reagent.db');
  recordJournal(db);
  const journal = Journal.open({ path: db });
  const file = join(dir, 'export.ndjson');
  writeExport(
    file,
    { format: EXPORT_FORMAT, formatVersion: EXPORT_FORMAT_VERSION, agentVersion: 'test', createdAt: new Date(0).toISOString(), machines: builtinMachines().versions(), runs: [], snapshots: [] },
    journal.readEvents(),
  );
  journal.close();
  const r = runReagent(['replay', file], cleanEnv(dir));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^reproduced/);

  const missing = runReagent(['replay', join(dir, 'nope.db')], cleanEnv(dir));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.db/);
  const usage = runReagent(['replay'], cleanEnv(dir));
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /FILE is required/);
});
