// Recordings from other agent versions: replayed when their machines match,
// refused with a reason when they cannot be read or replayed faithfully.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sqlite3 from 'node-sqlite3-wasm';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { replayRecords } from '../../actors/replay.js';
import { builtinMachines } from '../../machines/registry.js';
import { Journal } from '../../adapters/store/journal.js';
import { openRecording } from '../../adapters/store/recording.js';
import { writeBugreport } from '../../adapters/store/bugreport.js';
import { Redactor } from '../../adapters/log/redactor.js';
import type { Json } from '../../actors/types.js';
import { cleanEnv, runReagent, tempDir } from '../helpers/cli.js';
import { fixturePath } from '../helpers/recordings.js';
import { studioPolicy } from '../helpers/connection-policy.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function withDir(fn: (dir: string) => void) {
  return () => {
    const dir = tempDir('reagent-versions-');
    try {
      fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** A fixture rewritten as if another agent had made it. */
function asFrom(dir: string, edit: (header: Record<string, any>) => void): string {
  const [head, ...rest] = readFileSync(fixturePath('connection-flapping'), 'utf8').split('\n');
  const header = JSON.parse(head!) as Record<string, any>;
  edit(header);
  const file = join(dir, 'other.ndjson');
  writeFileSync(file, [JSON.stringify(header), ...rest].join('\n'));
  return file;
}

test(
  'a recording by an older agent with the same machine versions is replayed, and says who recorded it',
  withDir((dir) => {
    const file = asFrom(dir, (h) => {
      h.agentVersion = '0.0.7';
      for (const r of h.runs) r.agentVersion = '0.0.7';
    });
    const r = runReagent(['replay', file], cleanEnv(dir));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^reproduced: /);
    assert.match(r.stderr, new RegExp(`note: recorded by agent 0\\.0\\.7, replayed by ${pkg.version.replace(/\./g, '\\.')}`));
    const json = JSON.parse(runReagent(['replay', file, '--json'], cleanEnv(dir)).stdout) as { recordedWith: string[]; agentVersion: string };
    assert.deepEqual(json.recordedWith, ['0.0.7']);
    assert.equal(json.agentVersion, pkg.version);
  }),
);

test(
  'what this agent cannot replay faithfully is refused with the reason (exit 3): a newer export format, a newer journal schema, another machine version',
  withDir((dir) => {
    const newer = asFrom(dir, (h) => (h.formatVersion = 99));
    const r1 = runReagent(['replay', newer], cleanEnv(dir));
    assert.equal(r1.code, 3);
    assert.match(r1.stdout, /^refused: .*export format v99 is newer than this agent understands \(v1\)/);

    const db = join(dir, 'reagent.db');
    const journal = Journal.open({ path: db, logger: { info() {}, warn() {}, error() {} } });
    journal.appendRun('r', 0, 'future', {});
    journal.close();
    const raw = new sqlite3.Database(db);
    raw.exec('PRAGMA user_version = 99');
    raw.close();
    const r2 = runReagent(['replay', db, '--json'], cleanEnv(dir));
    assert.equal(r2.code, 3);
    assert.match((JSON.parse(r2.stdout) as { refusal: string }).refusal, /journal schema v99 is newer than this agent understands/);

    // A recording of the machine before its last change (an older agent), and of a newer one.
    const v = builtinMachines().get('connection')!.version;
    const fixture = readFileSync(fixturePath('connection-ping-timeout'), 'utf8');
    assert.ok(fixture.includes(`"machine":"connection","version":${v}`), 'the fixture is of the current connection machine');
    for (const other of [v - 1, v + 1]) {
      const bumped = join(dir, `connection-v${other}.ndjson`);
      writeFileSync(bumped, fixture.replace(`"machine":"connection","version":${v}`, `"machine":"connection","version":${other}`));
      const r3 = runReagent(['replay', bumped], cleanEnv(dir));
      assert.equal(r3.code, 3);
      assert.match(r3.stdout, new RegExp(`^refused: record 1: studio was recorded with machine "connection" v${other}, this agent has v${v}; replay it with the agent version that recorded it, or re-record`));
    }
  }),
);

test(
  'a bug report whose secrets changed an actor\'s context says so when the replay diverges there',
  withDir((dir) => {
    const db = join(dir, 'reagent.db');
    const journal = Journal.open({ path: db, logger: { info() {}, warn() {}, error() {} } });
    const registry = builtinMachines();
    journal.appendRun('r', 0, 'test', registry.versions());
    const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(1_700_000_000_000), registry, random: () => 0.5, run: 'r' });
    system.spawn('studio', 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
    system.send('studio', 'net', 'START');
    // The failure reason becomes the machine's `lastError`: redacting it changes the context.
    system.send('studio', 'net', 'CONNECT_FAILED', { reason: 'auth failed for sekrit-token-42' });
    system.close();
    journal.close();
    const redactor = new Redactor();
    redactor.addSecret('sekrit-token-42');
    const out = join(dir, 'report.ndjson');
    const r = writeBugreport({ dbFile: db, out, agentVersion: 'test', registry, config: {}, redactor, now: 0 });
    assert.equal(r.redactedEvents, 1);
    assert.ok(!readFileSync(out, 'utf8').includes('sekrit-token-42'));
    const rec = openRecording(out);
    const report = replayRecords(rec.records(), { registry });
    rec.close();
    assert.equal(report.verdict, 'diverged');
    assert.equal(report.divergence!.reason, 'context');
    assert.equal(report.divergence!.redacted, true);
    const cli = runReagent(['replay', out], cleanEnv(dir));
    assert.equal(cli.code, 1);
    assert.match(cli.stdout, /context differs.*secrets were redacted from this actor's recorded events.*expected for a bug report/);
  }),
);
