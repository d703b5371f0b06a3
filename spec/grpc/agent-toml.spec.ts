// $HOME/.hoop/agent.toml: parsed strictly, never quoting the token,
// written 0600 in a 0700 directory, and any text at all gives a result
// rather than an exception.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, readFileSync, statSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { agentTomlPath, formatAgentToml, parseAgentToml, readAgentToml, writeAgentToml } from '../../adapters/grpc/agent-toml.js';
import { removeDirs, tempDir } from '../helpers/gateway-peer.js';

const FILE = '/home/u/.hoop/agent.toml';

test('a file with token and grpc_url parses; empty means "not configured"', () => {
  const ok = parseAgentToml('token = "x-agt-abc"\ngrpc_url = "gw.example.com:8443"\n', FILE);
  assert.ok(ok.ok && ok.value);
  assert.equal(ok.value.token, 'x-agt-abc');
  assert.deepEqual([ok.value.grpcUrl.host, ok.value.grpcUrl.port, ok.value.grpcUrl.scheme], ['gw.example.com', 8443, null]);
  const scheme = parseAgentToml('token = "t0k3n"\ngrpc_url = "grpcs://gw:443"', FILE);
  assert.ok(scheme.ok && scheme.value?.grpcUrl.scheme === 'grpcs');
  assert.deepEqual(parseAgentToml('  \n', FILE), { ok: true, value: null });
});

test('problems name the file and the field, and never show the token', () => {
  const secret = 'x-agt-very-secret-value';
  const cases: Array<[string, RegExp]> = [
    [`token = "${secret}"`, /field "grpc_url" is missing/],
    [`grpc_url = "gw:1"`, /field "token" is missing/],
    [`token = 42\ngrpc_url = "gw:1"`, /field "token": expected a string, got a number/],
    [`token = "${secret}"\ngrpc_url = "not a url"`, /field "grpc_url": expected host:port/],
    [`token = "${secret}"\ngrpc_url = ["gw:1"]`, /field "grpc_url": expected a string, got an array/],
    [`token = "has space"\ngrpc_url = "gw:1"`, /field "token": expected printable characters without spaces/],
    [`token = "${secret}\ngrpc_url = "gw:1"`, /invalid TOML at line 1/],
  ];
  for (const [text, expected] of cases) {
    const r = parseAgentToml(text, FILE);
    assert.ok(!r.ok, text);
    assert.match(r.error, expected);
    assert.ok(r.error.startsWith(FILE));
    assert.ok(!r.error.includes(secret), `the token leaked: ${r.error}`);
  }
});

const arbToken = fc.stringMatching(/^[\x21-\x7e]{1,60}$/);
const arbHost = fc.oneof(fc.domain(), fc.ipV4());
const arbUrl = fc.tuple(fc.constantFrom('', 'grpc://', 'grpcs://', 'http://', 'https://'), arbHost, fc.integer({ min: 1, max: 65535 })).map(([s, h, p]) => `${s}${h}:${p}`);

test('property: what we write, we read back', () => {
  fc.assert(
    fc.property(arbToken, arbUrl, (token, grpcUrl) => {
      const r = parseAgentToml(formatAgentToml({ token, grpcUrl }), FILE);
      assert.ok(r.ok && r.value, JSON.stringify(r));
      assert.equal(r.value.token, token);
      assert.equal(r.value.grpcUrl.raw, grpcUrl);
    }),
    { numRuns: 300 },
  );
});

test('property: any text gives a result, never an exception', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('token = """', '[[a]]\n[a]', 'a.b.c = 1\na.b = 2', 'x = 1979-05-27T07:32:00Z')), (text) => {
      const r = parseAgentToml(text, FILE);
      assert.equal(typeof r.ok, 'boolean');
    }),
    { numRuns: 2000 },
  );
});

test('writing creates a 0700 directory and a 0600 file, atomically, whatever the umask', () => {
  const home = tempDir();
  const old = process.umask(0o022);
  try {
    const path = agentTomlPath(home);
    writeAgentToml(path, { token: 'x-agt-1', grpcUrl: 'gw:8443' });
    assert.equal(statSync(join(home, '.hoop')).mode & 0o777, 0o700);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(readFileSync(path, 'utf8'), 'token = "x-agt-1"\ngrpc_url = "gw:8443"\n');
    // An existing, looser directory is tightened; a second write replaces the file.
    chmodSync(join(home, '.hoop'), 0o755);
    writeAgentToml(path, { token: 'x-agt-2', grpcUrl: 'gw:8443' });
    assert.equal(statSync(join(home, '.hoop')).mode & 0o777, 0o700);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(home, '.hoop')), ['agent.toml'], 'no temp file left behind');
    const read = readAgentToml(path);
    assert.ok(read.kind === 'found' && read.value.token === 'x-agt-2' && !read.exposed);
  } finally {
    process.umask(old);
    removeDirs(home);
  }
});

test('reading: absent, empty, world-readable and unreadable files', () => {
  const home = tempDir();
  try {
    const path = agentTomlPath(home);
    assert.deepEqual(readAgentToml(path), { kind: 'absent' });
    mkdirSync(join(home, '.hoop'));
    writeFileSync(path, '');
    assert.deepEqual(readAgentToml(path), { kind: 'absent' });
    writeFileSync(path, 'token = "x-agt-1"\ngrpc_url = "gw:1"\n', { mode: 0o644 });
    chmodSync(path, 0o644);
    const exposed = readAgentToml(path);
    assert.ok(exposed.kind === 'found' && exposed.exposed, 'a 0644 token file is flagged');
    if (process.getuid?.() !== 0) {
      chmodSync(path, 0o000);
      const denied = readAgentToml(path);
      assert.ok(denied.kind === 'invalid' && /cannot read: EACCES/.test(denied.error));
    }
  } finally {
    removeDirs(home);
  }
});
