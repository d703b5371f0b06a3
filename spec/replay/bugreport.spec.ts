import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { replayRecords, type ReplaySnapshot } from '../../actors/replay.js';
import { builtinMachines } from '../../machines/registry.js';
import { Journal } from '../../adapters/store/journal.js';
import { openRecording } from '../../adapters/store/recording.js';
import { parseDuration, writeBugreport } from '../../adapters/store/bugreport.js';
import { Redactor } from '../../adapters/log/redactor.js';
import { parseBugreportArgs } from '../../cli/bugreport-command.js';
import type { Json } from '../../actors/types.js';
import { cleanEnv, runReagent, startReagent, tempDir } from '../helpers/cli.js';
import { studioPolicy } from '../helpers/connection-policy.js';

/** A journal with two links that connect, ping, drop and back off; `extra` adds events of its own. */
function recordJournal(path: string, steps: number, extra?: (system: ActorSystem, i: number) => void): { events: number } {
  const journal = Journal.open({ path, logger: { info() {}, warn() {}, error() {} } });
  const clock = new ManualClock(1_700_000_000_000);
  let s = 9;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const registry = builtinMachines();
  journal.appendRun('run-a', clock.now(), '0.0.9', registry.versions());
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry, random, run: 'run-a' });
  for (const id of ['studio', 'gateway']) system.spawn(id, 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
  for (let i = 0; i < steps; i++) {
    const id = i % 2 ? 'studio' : 'gateway';
    const r = random();
    if (r < 0.1) system.send(id, 'net', 'START');
    else if (r < 0.35) system.send(id, 'net', 'CONNECTED');
    else if (r < 0.55) system.send(id, 'net', 'PONG');
    else if (r < 0.65) system.send(id, 'net', 'DISCONNECTED', { reason: 'eof' });
    else clock.advance(Math.floor(random() * 4000));
    extra?.(system, i);
  }
  system.close();
  const events = journal.nextSeq - 1;
  journal.close();
  return { events };
}

function withDir(fn: (dir: string) => void | Promise<void>) {
  return async () => {
    const dir = tempDir('reagent-bugreport-');
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('bugreport options: -o, --since DURATION, --from SEQ, in either dash style', () => {
  assert.deepEqual(parseBugreportArgs(['-o', 'r.ndjson', '--since', '2h']), { ok: true, args: { out: 'r.ndjson', sinceMs: 7_200_000 } });
  assert.deepEqual(parseBugreportArgs(['--out=r.ndjson', '-from=42']), { ok: true, args: { out: 'r.ndjson', fromSeq: 42 } });
  assert.match((parseBugreportArgs(['--since', 'soon']) as { error: string }).error, /--since: expected a duration like 30m/);
  assert.match((parseBugreportArgs(['--from', '-1']) as { error: string }).error, /--from: expected a sequence number/);
  assert.match((parseBugreportArgs(['--since', '1h', '--from', '3']) as { error: string }).error, /not both/);
  assert.match((parseBugreportArgs(['x']) as { error: string }).error, /unexpected argument "x"/);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1d'), 86_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('10'), null);
});

test(
  'a slice that starts inside a run carries the state at its start, so it replays by itself',
  withDir((dir) => {
    const db = join(dir, 'reagent.db');
    const { events } = recordJournal(db, 400);
    const registry = builtinMachines();
    for (const from of [1, 2, 37, Math.floor(events / 2), events]) {
      const out = join(dir, `from-${from}.ndjson`);
      const r = writeBugreport({ dbFile: db, out, agentVersion: 'test', registry, config: {}, redactor: new Redactor(), now: 0, fromSeq: from });
      assert.equal(r.fromSeq, from);
      assert.equal(r.events, events - from + 1);
      const rec = openRecording(out);
      assert.equal(rec.snapshots.length, from > 1 ? 1 : 0, 'a snapshot exactly when the slice starts mid-run');
      const snapshots = new Map<string, ReplaySnapshot>(rec.snapshots.map((s) => [s.run, s]));
      const report = replayRecords(rec.records(), { registry, snapshots });
      rec.close();
      assert.equal(report.verdict, 'reproduced', `from ${from}: ${JSON.stringify(report.divergence)}`);
      assert.equal(report.events, events - from + 1);
    }
  }),
);

test(
  '--since keeps the events of the last DURATION, by their recorded time',
  withDir((dir) => {
    const db = join(dir, 'reagent.db');
    recordJournal(db, 300);
    const rec = openRecording(db);
    const all = [...rec.records()];
    rec.close();
    const last = all.at(-1)!;
    const cutoff = all[200]!.at;
    const r = writeBugreport({ dbFile: db, out: join(dir, 'since.ndjson'), agentVersion: 'test', registry: builtinMachines(), config: {}, redactor: new Redactor(), now: last.at, sinceMs: last.at - cutoff });
    assert.equal(r.fromSeq, all.find((e) => e.at >= cutoff)!.seq);
    assert.equal(r.toSeq, last.seq);
    const empty = writeBugreport({ dbFile: db, out: join(dir, 'none.ndjson'), agentVersion: 'test', registry: builtinMachines(), config: {}, redactor: new Redactor(), now: last.at + 3_600_000, sinceMs: 60_000 });
    assert.equal(empty.events, 0);
    assert.match(empty.notes.join('\n'), /no events in the requested slice/);
  }),
);

test(
  'a bug report never contains a secret the agent knows: .flock, HOOP_TOKEN/HOOP_KEY, event payloads, configuration, log',
  withDir((dir) => {
    const planted = {
      flockSecret: 'flock-secret-PLANTED-a1b2c3',
      flockPassword: 'flock-password-PLANTED-d4e5',
      flockPrivateKey: 'private-key-PLANTED-f6a7b8',
      hoopToken: 'hoop-token-PLANTED-0123456789',
      hoopDsnSecret: 'dsn-secret-PLANTED-9876',
      envApiKey: 'env-api-key-PLANTED-5555',
      payloadPassword: 'payload-password-PLANTED-7777',
      bearer: 'bearer-PLANTED-xyz123',
      appEnvValue: 'app-env-PLANTED-3',
    };
    const agentDir = join(dir, 'agent');
    const flock = join(dir, 'device.flock');
    writeFileSync(
      flock,
      JSON.stringify({
        name: 'pi-kitchen',
        secret: planted.flockSecret,
        password: planted.flockPassword,
        authentication: { key: planted.flockPrivateKey, certificate: 'CERT' },
        swarm_key: 7,
        device_key: 42,
        serial_number: '3f1c1a4e-0000-4000-8000-00000000abcd',
        device_endpoint_url: 'ws://127.0.0.1:9/ws',
      }),
    );
    recordJournal(join(agentDir, 'reagent.db'), 60, (system, i) => {
      // Secrets reach the journal the ways they do in practice: in free text, under a secret-looking key, in an error.
      if (i === 10) system.note('journal', 'store', 'NOTE', { detail: `login with ${planted.flockSecret} failed` });
      if (i === 20) system.note('journal', 'store', 'NOTE', { password: planted.payloadPassword, user: 'admin' });
      if (i === 30) system.note('journal', 'store', 'NOTE', { header: `Authorization: Bearer ${planted.bearer}`, token: planted.hoopToken });
      if (i === 40) system.note('journal', 'store', 'NOTE', { dsn: `grpc://agent:${planted.hoopDsnSecret}@127.0.0.1:8010` });
      // An app's environment, as REQUEST events journal it (spec.env).
      if (i === 50) system.note('journal', 'store', 'NOTE', { target: 'RUNNING', spec: { env: { DB_PASSWORD: planted.appEnvValue, MODE: 'fast' } } });
    });
    // An old log line written before the secrets were known to the logger.
    appendFileSync(join(agentDir, 'reagent.log'), JSON.stringify({ msg: `connecting with secret ${planted.flockSecret} and ${planted.hoopToken}` }) + '\n');

    const out = join(dir, 'report.ndjson');
    const env = cleanEnv(dir, {
      HOOP_TOKEN: planted.hoopToken,
      HOOP_GRPCURL: '127.0.0.1:8010',
      HOOP_KEY: `grpc://agent:${planted.hoopDsnSecret}@127.0.0.1:8010?mode=standard`,
      REAGENT_API_KEY: planted.envApiKey,
      LOG_LEVEL: 'INFO',
    });
    const r = runReagent(['-agentDir', agentDir, '-config', flock, 'bugreport', '-o', out], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^bugreport: wrote .*report\.ndjson \(\d+ events, seq 1\.\.\d+, 1 run\(s\), \d+ KiB, secrets redacted in 5 event\(s\)\)/);

    const text = readFileSync(out, 'utf8');
    for (const [name, secret] of Object.entries(planted)) assert.ok(!text.includes(secret), `${name} leaked into the report`);
    for (const stream of [r.stdout, r.stderr]) for (const secret of Object.values(planted)) assert.ok(!stream.includes(secret));

    // What is not secret stays, so the report is still useful.
    const header = JSON.parse(text.slice(0, text.indexOf('\n'))) as { agentVersion: string; machines: Record<string, number>; extra: { bugreport: Record<string, any> } };
    const br = header.extra.bugreport;
    assert.equal(br.config.flags.agentDir, agentDir);
    assert.equal(br.config.flock.name, 'pi-kitchen');
    assert.equal(br.config.variables.HOOP_GRPCURL, '127.0.0.1:8010');
    assert.equal(br.config.variables.HOOP_TOKEN, '[REDACTED]');
    assert.deepEqual(Object.keys(header.machines).sort(), builtinMachines().list().map((d) => d.name).sort());
    assert.ok(br.machineDefinitions.some((d: { name: string; definition: { states: object } }) => d.name === 'connection' && 'backoff' in d.definition.states));
    assert.match(br.logTail, /connecting with secret \[REDACTED\]/);
    assert.match(text, /login with \[REDACTED\] failed/);
    assert.ok(text.includes('"env":{"DB_PASSWORD":"[REDACTED]","MODE":"[REDACTED]"}'), 'environment names shown, values hidden');

    const replay = runReagent(['replay', out], env);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
    assert.match(replay.stdout, /^reproduced/);
  }),
);

test(
  'bugreport reads next to a live writer without its lock, and gets a consistent prefix that replays',
  withDir(async (dir) => {
    const agentDir = join(dir, 'agent');
    const writer = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./helpers/busy-writer.ts', import.meta.url)), agentDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    writer.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    writer.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => writer.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => /READY/.test(output), () => output);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const reports: Array<{ events: number }> = [];
      for (let i = 0; i < 3; i++) {
        const out = join(dir, `live-${i}.ndjson`);
        const r = runReagent(['-agentDir', agentDir, 'bugreport', '-o', out], cleanEnv(dir));
        assert.equal(r.code, 0, r.stderr);
        const rec = openRecording(out);
        const records = [...rec.records()];
        rec.close();
        records.forEach((e, j) => assert.equal(e.seq, j + 1, 'no gaps: every committed event up to the end'));
        const replay = runReagent(['replay', out, '--json'], cleanEnv(dir));
        assert.equal(replay.code, 0, replay.stdout);
        reports.push({ events: records.length });
      }
      assert.ok(reports[2]!.events > reports[0]!.events, `the writer kept committing meanwhile (${reports.map((r) => r.events)})`);
      assert.ok(!/STOPPED/.test(output), 'the writer was never blocked out');
    } finally {
      writer.kill('SIGTERM');
      await exited;
    }
    assert.match(output, /STOPPED/, 'the writer stopped cleanly after the reports');
  }),
);

test(
  'bugreport works while the daemon runs, with the daemon\'s own flags',
  withDir(async (dir) => {
    const agentDir = join(dir, 'agent');
    const daemon = startReagent(['-offline', '-agentDir', agentDir], cleanEnv(dir));
    try {
      await daemon.waitFor(/"msg":"ready"/);
      const out = join(dir, 'report.ndjson');
      const r = runReagent(['-agentDir', agentDir, 'bugreport', '-o', out], cleanEnv(dir));
      assert.equal(r.code, 0, r.stderr);
      const rec = openRecording(out);
      assert.equal(rec.runs.length, 1, 'the running daemon\'s run is in the report');
      rec.close();
      const missing = runReagent(['-agentDir', join(dir, 'nowhere'), 'bugreport'], cleanEnv(dir));
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no journal at .*nowhere.*-agentDir/);
    } finally {
      daemon.child.kill('SIGTERM');
    }
    assert.equal(await daemon.exit, 0, daemon.output());
  }),
);

async function waitFor(check: () => boolean, describe: () => string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out; output so far:\n${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test(
  'a run with a journal gap (events dropped while the disk was full) replays, whole and in bug-report slices',
  withDir(async (dir) => {
    const db = join(dir, 'reagent.db');
    const journal = Journal.open({ path: db, logger: { info() {}, warn() {}, error() {} } });
    let failing = false;
    const commit = journal.commit.bind(journal);
    // The disk is full while `failing`: the real journal's commit fails as it does then.
    journal.commit = () => {
      if (failing && journal.pending > 0) throw new Error('journal: commit failed: disk full (0 KiB free on /test)');
      commit();
    };
    const clock = new ManualClock(1_700_000_000_000);
    const registry = builtinMachines();
    journal.appendRun('run-g', clock.now(), 'test', registry.versions());
    const system = new ActorSystem<LooseCatalog>({ journal, clock, registry, random: () => 0.5, run: 'run-g', maxPendingBytes: 4096, logger: { warn() {}, error() {} } });
    const step = async (i: number) => {
      const id = i % 2 ? 'studio' : 'gateway';
      system.send(id, 'net', i % 3 ? 'CONNECTED' : 'DISCONNECTED', { reason: 'x'.repeat(100) });
      clock.advance(500);
      await new Promise((r) => setImmediate(r));
    };
    for (const id of ['studio', 'gateway']) system.spawn(id, 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
    for (const id of ['studio', 'gateway']) system.send(id, 'net', 'START');
    for (let i = 0; i < 20; i++) await step(i);
    failing = true;
    for (let i = 20; i < 80; i++) await step(i);
    failing = false;
    for (let i = 80; i < 100; i++) await step(i);
    await system.flush();
    system.close();
    journal.close();

    const whole = runReagent(['replay', db], cleanEnv(dir));
    assert.equal(whole.code, 0, whole.stdout + whole.stderr);
    const rec = openRecording(db);
    const all = [...rec.records()];
    rec.close();
    const gap = all.find((r) => r.type === '@runtime.journal-gap');
    assert.ok(gap, 'the recording has a gap');
    for (const from of [2, gap.seq - 1, gap.seq, gap.seq + 3]) {
      const out = join(dir, `gap-from-${from}.ndjson`);
      writeBugreport({ dbFile: db, out, agentVersion: 'test', registry, config: {}, redactor: new Redactor(), now: 0, fromSeq: from });
      const r = runReagent(['replay', out], cleanEnv(dir));
      assert.equal(r.code, 0, `from ${from}: ${r.stdout}${r.stderr}`);
    }
  }),
);
