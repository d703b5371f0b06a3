// `reagent bugreport` writes gzip by default (`.ndjson.gz`); `--no-gzip` or an
// `-o x.ndjson` name gives plain NDJSON. `reagent replay` tells them apart by
// their first bytes, never by the name, and reads at most
// REAGENT_REPLAY_MAX_MB of (decompressed) recording. The daemon's flags are
// accepted after the subcommand too, as users type them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import { Journal } from '../../adapters/store/journal.js';
import { readExport } from '../../adapters/store/export.js';
import { flagTakesValue } from '../../cli/flags.js';
import { splitBugreportArgv } from '../../cli/bugreport-command.js';
import type { Json } from '../../actors/types.js';
import { spawnSync } from 'node:child_process';
import { MAIN, cleanEnv, runReagent, tempDir } from '../helpers/cli.js';
import { studioPolicy } from '../helpers/connection-policy.js';

function agentWithJournal(dir: string, pings = 200): string {
  const agentDir = join(dir, 'agent');
  mkdirSync(agentDir, { recursive: true });
  const journal = Journal.open({ path: join(agentDir, 'reagent.db'), logger: { info() {}, warn() {}, error() {} } });
  const registry = builtinMachines();
  journal.appendRun('run-1', 0, 'test', registry.versions());
  const clock = new ManualClock(1_700_000_000_000);
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry, random: () => 0.5, run: 'run-1' });
  system.spawn('studio', 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
  system.send('studio', 'net', 'START');
  system.send('studio', 'net', 'CONNECTED');
  for (let i = 0; i < pings; i++) {
    clock.advance(1000);
    system.send('studio', 'net', 'PONG');
  }
  system.close();
  journal.close();
  return agentDir;
}

const isGzip = (file: string) => {
  const b = readFileSync(file);
  return b[0] === 0x1f && b[1] === 0x8b;
};

test('gzip by default, with daemon flags after the subcommand; plain with --no-gzip or a .ndjson name; replay reads all three', () => {
  const dir = tempDir('reagent-bugreport-gz-');
  try {
    const agentDir = agentWithJournal(dir);
    const env = cleanEnv(dir);
    // As users type it: the daemon's flag after the command.
    const gz = runReagent(['bugreport', '-agentDir', agentDir, '-o', join(dir, 'r')], env);
    assert.equal(gz.code, 0, gz.stderr);
    assert.ok(isGzip(join(dir, 'r')), 'gzip by default');
    assert.match(gz.stdout, /KiB gzip/);

    const byName = runReagent(['-agentDir', agentDir, 'bugreport', '-o', join(dir, 'r.ndjson')], env);
    assert.equal(byName.code, 0, byName.stderr);
    const noGzip = runReagent(['bugreport', '--no-gzip', '-agentDir', agentDir, '-o', join(dir, 'plain')], env);
    assert.equal(noGzip.code, 0, noGzip.stderr);
    for (const f of ['r.ndjson', 'plain']) assert.ok(!isGzip(join(dir, f)), `${f} is plain`);

    // The same report either way.
    const body = (text: string) => text.split('\n').slice(1).join('\n');
    assert.equal(body(gunzipSync(readFileSync(join(dir, 'r'))).toString()), body(readFileSync(join(dir, 'r.ndjson'), 'utf8')));
    assert.ok(readFileSync(join(dir, 'r')).length * 3 < readFileSync(join(dir, 'r.ndjson')).length, 'compressed well');

    // Detected by magic bytes, not by name: a gzip named .ndjson and a plain one named .gz replay too.
    renameSync(join(dir, 'r'), join(dir, 'swapped.ndjson'));
    renameSync(join(dir, 'plain'), join(dir, 'swapped.ndjson.gz'));
    for (const f of ['swapped.ndjson', 'swapped.ndjson.gz', 'r.ndjson']) {
      const r = runReagent(['replay', join(dir, f)], env);
      assert.equal(r.code, 0, `${f}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /^reproduced: 203 events/, f);
    }

    // A default name ends in .ndjson.gz.
    // In the working directory: run there, not in the test's.
    const named = spawnSync(process.execPath, [MAIN, 'bugreport', `-agentDir=${agentDir}`], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(named.status, 0, named.stderr);
    const file = /wrote (\S+\.ndjson\.gz) /.exec(named.stdout)?.[1];
    assert.ok(file, named.stdout);
    assert.ok(file.startsWith(dir), file);
    assert.ok(isGzip(file));
    rmSync(file);

    // A daemon flag that does not exist is refused as before the command, by name.
    const bad = runReagent(['bugreport', '-agentDirr', agentDir], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /flag provided but not defined: -agentDirr/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('replay reads at most REAGENT_REPLAY_MAX_MB of recording: a small gzip that expands beyond it is refused by name', () => {
  const dir = tempDir('reagent-replay-max-');
  try {
    const agentDir = agentWithJournal(dir, 10);
    const env = cleanEnv(dir);
    assert.equal(runReagent(['bugreport', '-agentDir', agentDir, '-o', join(dir, 'r.ndjson')], env).code, 0);
    // A valid report padded with 3 MiB of blank lines: 3 KiB of gzip.
    const text = readFileSync(join(dir, 'r.ndjson'), 'utf8') + '\n'.repeat(3 << 20);
    writeFileSync(join(dir, 'bomb.gz'), gzipSync(text, { level: 9 }));
    const ok = runReagent(['replay', join(dir, 'bomb.gz')], env);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const refused = runReagent(['replay', join(dir, 'bomb.gz')], { ...env, REAGENT_REPLAY_MAX_MB: '2' });
    assert.equal(refused.code, 2, refused.stdout);
    assert.match(refused.stderr, /holds more than 2 MiB of recording; raise REAGENT_REPLAY_MAX_MB \(now 2\)/);
    const plain = runReagent(['replay', join(dir, 'r.ndjson')], { ...env, REAGENT_REPLAY_MAX_MB: 'lots' });
    assert.equal(plain.code, 2);
    assert.match(plain.stderr, /REAGENT_REPLAY_MAX_MB: expected a number of MiB from 1, got "lots"/);
    // A truncated gzip is a clear error, not a crash.
    writeFileSync(join(dir, 'cut.gz'), readFileSync(join(dir, 'bomb.gz')).subarray(0, 200));
    const cut = runReagent(['replay', join(dir, 'cut.gz')], env);
    assert.equal(cut.code, 2);
    assert.match(cut.stderr, /not a complete gzip file/);
    assert.equal(readExport(join(dir, 'bomb.gz')).header.format, 'reagent-journal');
    assert.ok(readdirSync(dir).length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('splitting the command line: the command keeps -o, --force, --no-gzip, --since, --from; every other flag (and its value) is the daemon’s', () => {
  const split = splitBugreportArgv(['-agentDir', '/d', '-o', 'r', '-debug', '--since', '2h', '-config=/f.flock', '--force', '--no-gzip', '-logFile', 'l'], flagTakesValue);
  assert.deepEqual(split.own, ['-o', 'r', '--since', '2h', '--force', '--no-gzip']);
  assert.deepEqual(split.daemon, ['-agentDir', '/d', '-debug', '-config=/f.flock', '-logFile', 'l']);
});
