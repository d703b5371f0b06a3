import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { FLAGS } from '../../cli/flags.js';
import { cleanEnv, runReagent, startReagent, tempDir } from '../helpers/cli.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function validFlock(secret: string) {
  return {
    name: 'pi-kitchen',
    secret,
    swarm_key: 7,
    device_key: 42,
    serial_number: '3f1c1a4e-0000-4000-8000-00000000abcd',
    device_endpoint_url: 'ws://127.0.0.1:9/ws',
    swarm_name: 'home',
  };
}

test('-help lists every flag with its default, in Go and double-dash spelling alike', () => {
  const home = tempDir();
  for (const spelling of ['-help', '--help', '-h']) {
    const r = runReagent([spelling], cleanEnv(home));
    assert.equal(r.code, 0, r.stderr);
    for (const f of FLAGS) assert.match(r.stdout, new RegExp(`^  -${f.name}\\b`, 'm'), `-${f.name} is listed`);
    assert.match(r.stdout, /-connTimeout uint[\s\S]*\(default 1250\)/);
    assert.match(r.stdout, /-dbFileName string[\s\S]*\(default "reagent\.db"\)/);
    assert.match(r.stdout, /-respTimeout uint[\s\S]*\(default 7000\)[\s\S]*README says 5000/);
  }
});

test('-version and -arch print and exit 0', () => {
  const home = tempDir();
  const v = runReagent(['-version'], cleanEnv(home));
  assert.equal(v.code, 0);
  assert.equal(v.stdout.split('\n')[0], pkg.version);
  const a = runReagent(['--arch'], cleanEnv(home));
  assert.equal(a.code, 0);
  assert.match(a.stdout.trim(), /^(amd64|arm64|armv\d|386|[a-z0-9]+)$/);
});

test('a lone -version, -arch or -help (the fast path in main.cts) answers exactly as the full parser does', () => {
  const home = tempDir();
  const env = cleanEnv(home);
  // A second flag sends the same request through cli/run.ts; both must print the same bytes.
  for (const [lone, full] of [
    [['-version'], ['-debug', '-version']],
    [['--version=true'], ['-version=true', '-debug=false']],
    [['-arch'], ['-arch', '-prettyLogging']],
    [['-h'], ['-help', '-debug']],
  ] as const) {
    const a = runReagent([...lone], env);
    const b = runReagent([...full], env);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(a.stdout, b.stdout, `${lone.join(' ')} vs ${full.join(' ')}`);
    assert.equal(a.stderr, '');
  }
  // Not the fast path: a false value, or a misspelling, is the full parser's business.
  const off = runReagent(['-version=false'], env);
  assert.equal(off.code, 0);
  assert.match(off.stdout, /nothing to connect to/);
  const bad = runReagent(['-version=maybe'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /version/);
});

test('without -config and without gateway credentials it says what it needs and exits 0', () => {
  const home = tempDir();
  const r = runReagent([], cleanEnv(home));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /-config \/path\/to\/device\.flock/);
  assert.match(r.stdout, /HOOP_GRPCURL and HOOP_TOKEN/);
  assert.match(r.stdout, /-offline/);
});

test('a bad .flock exits non-zero with one line naming the file and the field, and the file is not rewritten', () => {
  const home = tempDir();
  const dir = tempDir();
  const file = join(dir, 'device.flock');
  const text = JSON.stringify({ ...validFlock('s3cr3t-value'), swarm_key: 'seven' }, null, 4);
  writeFileSync(file, text);
  const before = statSync(file).mtimeMs;
  const r = runReagent(['-config', file, '-agentDir', join(dir, 'agent')], cleanEnv(home));
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /device\.flock: field "swarm_key": expected an integer/);
  assert.ok(!r.stderr.includes('s3cr3t-value'));
  assert.equal(readFileSync(file, 'utf8'), text);
  assert.equal(statSync(file).mtimeMs, before);

  const missing = runReagent([`-config=${join(dir, 'nope.flock')}`], cleanEnv(home));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr.trim(), /nope\.flock: cannot read config: no such file/);

  writeFileSync(join(dir, 'bad.flock'), '{"secret": "abc",');
  const bad = runReagent(['--config', join(dir, 'bad.flock')], cleanEnv(home));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr.trim(), /bad\.flock: invalid JSON/);
});

test('bad flags and bad hoop environment are named', () => {
  const home = tempDir();
  const r = runReagent(['-connTimeout', '-5'], cleanEnv(home));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /invalid value "-5" for flag -connTimeout: expected a non-negative integer/);
  const e = runReagent(['-offline'], cleanEnv(home, { LOG_LEVEL: 'LOUD' }));
  assert.equal(e.code, 2);
  assert.match(e.stderr, /LOG_LEVEL/);
});

test('-offline runs the daemon; a second one on the same agent dir names the PID holding it; SIGTERM stops cleanly', async () => {
  const home = tempDir();
  const agentDir = tempDir();
  const first = startReagent(['-offline', '-agentDir', agentDir], cleanEnv(home));
  await first.waitFor(/"msg":"ready"/);
  const second = runReagent(['-offline', `-agentDir=${agentDir}`], cleanEnv(home));
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`another reagent \\(pid ${first.child.pid}\\) is running with agent dir`));
  first.child.kill('SIGTERM');
  assert.equal(await first.exit, 0);
  assert.match(first.output(), /"msg":"reagent stopped"/);
  assert.ok(existsSync(join(agentDir, 'reagent.db')), 'the journal lives in the agent dir');
  assert.ok(!existsSync(join(agentDir, 'reagent.pid')), 'the lock is released');
  assert.ok(existsSync(join(agentDir, 'reagent.log')), 'the log file follows the agent dir');
});

test('with a .flock the daemon starts, and neither stdout nor the log file ever shows the secret', async () => {
  const home = tempDir();
  const agentDir = tempDir();
  const secret = 'flock-secret-9f8e7d6c';
  const file = join(agentDir, 'device.flock');
  writeFileSync(file, JSON.stringify(validFlock(secret)));
  const d = startReagent(['-config', file, '-agentDir', agentDir, '-debug'], cleanEnv(home, { HOOP_TOKEN: 'x-agt-tok-123456', HOOP_GRPCURL: '127.0.0.1:9' }));
  await d.waitFor(/"msg":"ready"/);
  d.child.kill('SIGINT');
  assert.equal(await d.exit, 0);
  const log = readFileSync(join(agentDir, 'reagent.log'), 'utf8');
  for (const text of [d.output(), log]) {
    assert.ok(!text.includes(secret));
    assert.ok(!text.includes('x-agt-tok-123456'));
  }
});
