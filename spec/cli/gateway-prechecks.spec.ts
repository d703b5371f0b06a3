// Everything about the gateway link's configuration that can be checked
// before "ready" is, through the built CLI as a user runs it: each problem
// is one line naming the variable on stderr, exit code 2, nothing on
// stdout (no "ready", no log entry), and never a fragment of a secret.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { cleanEnv, runReagent, tempDir } from '../helpers/cli.js';
import { makeTestCa, removeDirs } from '../helpers/gateway-peer.js';

/** Every 8-character piece of a secret: none may appear in what the user sees. */
function fragments(secret: string): string[] {
  return Array.from({ length: Math.max(1, secret.length - 7) }, (_, i) => secret.slice(i, i + 8));
}

describe('gateway link configuration, checked before the daemon starts', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
  after(() => removeDirs(...dirs));

  const cases: Array<{ what: string; env: () => NodeJS.ProcessEnv; line: RegExp; secret?: string }> = [];
  const caDir = tempDir();
  dirs.push(caDir);
  const ca = makeTestCa(caDir);
  const dsn = (secret: string, scheme = 'grpcs', host = 'gw.example.com') => `${scheme}://pi:${secret}@${host}:8443?mode=standard`;
  const bigToken = `x-agt-${'q7'.repeat(20 * 1024)}`;
  const bigSecret = `xagt-${'Zk'.repeat(17 * 1024)}`;
  cases.push(
    { what: 'HOOP_TLSCA file that does not exist', env: () => ({ HOOP_KEY: dsn('xagt-s3cr3t-value-1'), HOOP_TLSCA: 'file:///nonexistent/ca.pem' }), line: /^HOOP_TLSCA: the file:\/\/ path names no file$/ },
    { what: 'HOOP_TLSCA that is a directory', env: () => ({ HOOP_KEY: dsn('xagt-s3cr3t-value-1'), HOOP_TLSCA: `file://${caDir}` }), line: /^HOOP_TLSCA: the file:\/\/ path is a directory; expected a PEM file of CA certificates$/ },
    { what: 'HOOP_TLSCA holding a private key, not certificates', env: () => ({ HOOP_KEY: dsn('xagt-s3cr3t-value-1'), HOOP_TLSCA: readFileSync(ca.ipKey, 'utf8') }), line: /^HOOP_TLSCA \(pem\): expected PEM CA certificates .*found only "PRIVATE KEY"$/ },
    { what: 'HOOP_TLSCA base64 of something else', env: () => ({ HOOP_KEY: dsn('xagt-s3cr3t-value-1'), HOOP_TLSCA: `base64://${Buffer.from('not a cert').toString('base64')}` }), line: /^HOOP_TLSCA \(base64\): expected PEM CA certificates/ },
    { what: 'HOOP_TLSCA that is not PEM at all', env: () => ({ HOOP_KEY: dsn('xagt-s3cr3t-value-1'), HOOP_TLSCA: 'just-a-word' }), line: /^HOOP_TLSCA: expected an inline PEM certificate/ },
    { what: 'HOOP_KEY whose secret is not ASCII', env: () => ({ HOOP_KEY: dsn('xagt-sécret-ünicode-value') }), line: /^HOOP_KEY: contains characters that cannot be sent as gRPC metadata/, secret: 'xagt-sécret-ünicode-value' },
    { what: 'HOOP_KEY with a control character', env: () => ({ HOOP_KEY: dsn('xagt-line\u0001break-value') }), line: /^HOOP_KEY: contains characters/, secret: 'xagt-line\u0001break-value' },
    { what: 'HOOP_TOKEN of 40 KiB', env: () => ({ HOOP_GRPCURL: 'gw.example.com:8443', HOOP_TOKEN: bigToken }), line: /^HOOP_TOKEN: \d+ bytes is too long to send as gRPC metadata \(at most 8192\)$/, secret: bigToken },
    { what: 'HOOP_KEY of 34 KiB', env: () => ({ HOOP_KEY: dsn(bigSecret) }), line: /^HOOP_KEY: \d+ bytes is too long to send as gRPC metadata/, secret: bigSecret },
    { what: 'HOOP_TOKEN with a space', env: () => ({ HOOP_GRPCURL: 'gw.example.com:8443', HOOP_TOKEN: 'x-agt-two words-secretvalue' }), line: /^HOOP_TOKEN: contains characters/, secret: 'x-agt-two words-secretvalue' },
    { what: 'grpc:// DSN to another machine', env: () => ({ HOOP_KEY: dsn('xagt-Q9vR2mZ7kW4pL8nB', 'grpc') }), line: /^HOOP_KEY: grpc:\/\/ to a host that is not this machine would send the credential without TLS/, secret: 'xagt-Q9vR2mZ7kW4pL8nB' },
    { what: 'http:// HOOP_GRPCURL to another machine', env: () => ({ HOOP_GRPCURL: 'http://10.9.8.7:8010', HOOP_TOKEN: 'x-agt-H3jN6bT1yC5dF0sX' }), line: /^HOOP_GRPCURL: http:\/\/ to a host that is not this machine/, secret: 'x-agt-H3jN6bT1yC5dF0sX' },
  );

  for (const c of cases) {
    it(`${c.what}: one line naming the variable, exit 2, nothing started`, () => {
      for (const args of [['start', 'agent'], []]) {
        const r = runReagent([...args, '-agentDir', dir()], cleanEnv(dir(), c.env()));
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stdout, '', 'no log entry, no "ready"');
        const lines = r.stderr.replace(/\n$/, '').split('\n');
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0]!, c.line);
        for (const f of c.secret ? fragments(c.secret) : []) assert.ok(!(r.stdout + r.stderr).includes(f), `quotes ${JSON.stringify(f)}`);
      }
    });
  }

  it('several problems: one line each', () => {
    const r = runReagent(['start', 'agent'], cleanEnv(dir(), { HOOP_KEY: dsn('xagt-s\u00e9cret'), HOOP_TLSCA: 'nope', HOOP_GRPC_INSECURE: 'maybe' }));
    assert.equal(r.code, 2);
    assert.deepEqual(
      r.stderr.trim().split('\n').map((l) => l.split(':')[0]),
      ['HOOP_KEY', 'HOOP_TLSCA', 'HOOP_GRPC_INSECURE'],
    );
  });
});
