// Every recording under spec/fixtures/recordings/ is replayed through the
// machines of this tree; a divergence fails CI (Temporal-style replay tests).
// REAGENT_RERECORD=1 re-records the scenarios of spec/replay/scenarios.ts
// first (see spec/fixtures/recordings/README.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeReport, replayRecords, type ReplaySnapshot } from '../../actors/replay.js';
import { builtinMachines } from '../../machines/registry.js';
import { openRecording } from '../../adapters/store/recording.js';
import { RECORDINGS_DIR, RERECORD, fixturePath, saveRecordingFixture } from '../helpers/recordings.js';
import { SCENARIOS } from './scenarios.js';

const HOW = 'if the machine changed on purpose, bump its version in machines/registry.ts and re-record: REAGENT_RERECORD=1 npm test';

if (RERECORD) {
  for (const s of SCENARIOS) {
    const { records, snapshots } = s.record();
    saveRecordingFixture(s.name, records, s.about, snapshots);
  }
}

test('every recorded scenario has its fixture', () => {
  for (const s of SCENARIOS) assert.ok(existsSync(fixturePath(s.name)), `${fixturePath(s.name)} is missing; record it with: REAGENT_RERECORD=1 npm test`);
});

const files = existsSync(RECORDINGS_DIR) ? readdirSync(RECORDINGS_DIR).filter((f) => f.endsWith('.ndjson') || f.endsWith('.db')).sort() : [];

for (const file of files) {
  test(`fixture ${file} replays without divergence`, () => {
    const recording = openRecording(join(RECORDINGS_DIR, file));
    try {
      const snapshots = new Map<string, ReplaySnapshot>();
      for (const s of recording.snapshots) if ((snapshots.get(s.run)?.seq ?? -1) < s.seq) snapshots.set(s.run, s);
      const report = replayRecords(recording.records(), { registry: builtinMachines(), snapshots });
      assert.equal(report.verdict, 'reproduced', `${file}: ${describeReport(report)}; ${HOW}`);
      assert.ok(report.events > 0, `${file} has events`);
    } finally {
      recording.close();
    }
  });
}

test('the fixtures still record what the scenarios do today (a scenario edited without re-recording is caught)', () => {
  for (const s of SCENARIOS) {
    const recording = openRecording(fixturePath(s.name));
    const saved = [...recording.records()].map((r) => [r.seq, r.actor, r.type, r.at, r.state, r.cmds]);
    recording.close();
    const fresh = s.record().records.map((r) => [r.seq, r.actor, r.type, r.at, r.state, r.cmds]);
    assert.deepEqual(fresh, saved, `scenario ${s.name} no longer matches its fixture; ${HOW}`);
  }
});

// Recordings made before secrets left the journal (spec/fixtures/recordings/before-secrets/):
// each one replays, or is refused with that reason and exit 3 (never "diverged").
const BEFORE_SECRETS = join(RECORDINGS_DIR, 'before-secrets');
const before = existsSync(BEFORE_SECRETS) ? readdirSync(BEFORE_SECRETS).filter((f) => f.endsWith('.ndjson')).sort() : [];

test('a recording from before secrets left the journal is replayed if it can be, else refused with that reason', async () => {
  const { cleanEnv, runReagent, tempDir } = await import('../helpers/cli.js');
  assert.ok(before.length > 0, 'there is a pre-change recording to test');
  let refused = 0;
  for (const file of before) {
    const path = join(BEFORE_SECRETS, file);
    const recording = openRecording(path);
    try {
      const report = replayRecords(recording.records(), { registry: builtinMachines() });
      if (report.verdict === 'refused') {
        refused++;
        assert.match(report.refusal ?? '', /recorded before secrets left the journal/, file);
      } else {
        assert.equal(report.verdict, 'reproduced', `${file}: ${describeReport(report)}`);
      }
    } finally {
      recording.close();
    }
    const cli = runReagent(['replay', path], cleanEnv(tempDir('reagent-before-secrets-')));
    assert.ok(cli.code === 0 || (cli.code === 3 && /^refused: .*recorded before secrets left the journal/.test(cli.stdout)), `${file}: exit ${cli.code} ${cli.stdout}`);
  }
  assert.ok(refused > 0, 'the gateway credentials recording of v1 is refused');
});
