// When the gateway link uses TLS and how it trusts the gateway. The rules
// are checked as a table, then each one against a real TLS gateway whose
// certificates come from a CA made here with openssl.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { usesTls, loadCa } from '../../adapters/grpc/tls.js';
import { createDsnAgent, makeTestCa, removeDirs, startDevGateway, startLink, tempDir, waitUntil, type LinkHarness, type TestCa } from '../helpers/gateway-peer.js';

describe('the TLS rule', () => {
  it('follows hoop: TLS_SERVER_NAME forces TLS; DSN scheme decides; local and auto-register are plaintext; so is exactly 127.0.0.1:8010', () => {
    const rule = (mode: Parameters<typeof usesTls>[0]['mode'], host: string, port: number, tlsServerName: string | null = null, dsnTls?: boolean) =>
      usesTls({ mode, host, port, tlsServerName, dsnTls });
    assert.equal(rule('env', 'gw.example.com', 8443), true);
    assert.equal(rule('env', '127.0.0.1', 8010), false);
    assert.equal(rule('file', '127.0.0.1', 8010), false);
    assert.equal(rule('web-register', '127.0.0.1', 8010), false);
    assert.equal(rule('env', '127.0.0.1', 8011), true, 'only exactly 127.0.0.1:8010');
    assert.equal(rule('env', 'localhost', 8010), true, 'only exactly 127.0.0.1:8010');
    assert.equal(rule('local', '127.0.0.1', 8010), false);
    assert.equal(rule('local', '127.0.0.1', 9999), false);
    assert.equal(rule('auto-register', '127.0.0.1', 8010), false);
    assert.equal(rule('dsn', 'gw', 443, null, true), true);
    assert.equal(rule('dsn', 'gw', 443, null, false), false);
    for (const mode of ['env', 'file', 'local', 'auto-register', 'dsn', 'web-register'] as const) {
      assert.equal(rule(mode, '127.0.0.1', 8010, 'gw.test', false), true, `TLS_SERVER_NAME forces TLS in ${mode} mode`);
    }
  });

  it('reads HOOP_TLSCA inline, base64:// and file://, and names the variable when it is wrong', () => {
    const dir = tempDir();
    try {
      const ca = makeTestCa(dir);
      const pem = readFileSync(ca.caCert, 'utf8');
      assert.equal(loadCa({ kind: 'pem', pem }).toString(), pem);
      assert.equal(loadCa({ kind: 'base64', data: Buffer.from(pem).toString('base64') }).toString(), pem);
      assert.equal(loadCa({ kind: 'file', path: ca.caCert }).toString(), pem);
      assert.throws(() => loadCa({ kind: 'file', path: `${dir}/missing.pem` }), /HOOP_TLSCA: cannot read .*missing\.pem: ENOENT/);
      assert.throws(() => loadCa({ kind: 'base64', data: Buffer.from('hello').toString('base64') }), /HOOP_TLSCA \(base64\): expected PEM certificates/);
    } finally {
      removeDirs(dir);
    }
  });
});

describe('TLS against a real gateway', () => {
  let ca: TestCa;
  let ipGw: Awaited<ReturnType<typeof startDevGateway>>;
  let nameGw: Awaited<ReturnType<typeof startDevGateway>>;
  let plainGw: Awaited<ReturnType<typeof startDevGateway>>;
  let ipDsn: string;
  let nameDsn: string;
  const dirs: string[] = [];
  const links: LinkHarness[] = [];

  const link = async (env: NodeJS.ProcessEnv, extra: Partial<Parameters<typeof startLink>[1]> = {}) => {
    const home = tempDir();
    dirs.push(home);
    const h = await startLink(env, { home, policy: fastPolicy, ...extra });
    links.push(h);
    return h;
  };
  const failsToConnect = async (h: LinkHarness, pattern: RegExp) => {
    await waitUntil(() => h.journal.records.filter((r) => r.type === 'CONNECT_FAILED').length >= 2, 8000, `failed attempts; log:\n${h.log.text()}`);
    assert.notEqual(h.state(), '{"connected":"alive"}');
    const failures = h.journal.records.filter((r) => r.type === 'CONNECT_FAILED').map((r) => JSON.stringify(r.payload));
    assert.ok(failures.every((f) => pattern.test(f)), failures.join('\n'));
  };

  before(async () => {
    const dir = tempDir();
    dirs.push(dir);
    ca = makeTestCa(dir);
    ipGw = await startDevGateway({ tls: { cert: readFileSync(ca.ipCert), key: readFileSync(ca.ipKey) } });
    nameGw = await startDevGateway({ tls: { cert: readFileSync(ca.nameCert), key: readFileSync(ca.nameKey) } });
    plainGw = await startDevGateway();
    ipDsn = await createDsnAgent(ipGw.api, 'tls-ip');
    nameDsn = await createDsnAgent(nameGw.api, 'tls-name');
  });

  after(async () => {
    for (const l of links) await l.stop();
    await ipGw?.stop();
    await nameGw?.stop();
    await plainGw?.stop();
    removeDirs(...dirs);
  });

  it('verifies the gateway against HOOP_TLSCA given as file://, inline PEM and base64://', async () => {
    const pem = readFileSync(ca.caCert, 'utf8');
    for (const value of [`file://${ca.caCert}`, pem, `base64://${Buffer.from(pem).toString('base64')}`]) {
      const h = await link({ HOOP_KEY: ipDsn.replace(/^grpcs?:/, 'grpcs:'), HOOP_TLSCA: value });
      await h.waitConnected();
      assert.match(h.log.text(), /mode=dsn, grpc_server=127\.0\.0\.1:\d+, tls=true - starting agent/);
      await h.stop();
    }
  });

  it('refuses a gateway whose certificate it cannot verify (system roots do not know the test CA)', async () => {
    const h = await link({ HOOP_KEY: ipDsn.replace(/^grpcs?:/, 'grpcs:') });
    await failsToConnect(h, /UNAVAILABLE/);
    await h.stop();
  });

  it('skips verification only when HOOP_TLS_SKIP_VERIFY=true, and warns', async () => {
    const h = await link({ HOOP_KEY: ipDsn.replace(/^grpcs?:/, 'grpcs:'), HOOP_TLS_SKIP_VERIFY: 'true' });
    await h.waitConnected();
    assert.match(h.log.text(), /HOOP_TLS_SKIP_VERIFY=true: the gateway certificate is not verified/);
    await h.stop();
  });

  it('TLS_SERVER_NAME sets the name checked (SNI); without it a certificate for another name is refused', async () => {
    const without = await link({ HOOP_KEY: nameDsn.replace(/^grpcs?:/, 'grpcs:'), HOOP_TLSCA: `file://${ca.caCert}` });
    await failsToConnect(without, /UNAVAILABLE/);
    await without.stop();
    const withName = await link({ HOOP_KEY: nameDsn.replace(/^grpcs?:/, 'grpcs:'), HOOP_TLSCA: `file://${ca.caCert}`, TLS_SERVER_NAME: 'gw.test' });
    await withName.waitConnected();
    await withName.stop();
  });

  it('TLS_SERVER_NAME forces TLS even where the rule says plaintext (a grpc:// DSN, local mode)', async () => {
    const dsn = await link({ HOOP_KEY: nameDsn.replace(/^grpcs?:/, 'grpc:'), HOOP_TLSCA: `file://${ca.caCert}`, TLS_SERVER_NAME: 'gw.test' });
    await dsn.waitConnected();
    assert.match(dsn.log.text(), /mode=dsn, .*tls=true - starting agent/);
    await dsn.stop();
    const local = await link({ HOOP_TLSCA: `file://${ca.caCert}`, TLS_SERVER_NAME: 'gw.test' }, { gatewayOnly: true, localGateway: { host: '127.0.0.1', port: nameGw.port } });
    await local.waitConnected();
    assert.match(local.log.text(), /mode=local, .*tls=true - starting agent/);
    await local.stop();
  });

  it('a grpc:// DSN is plaintext: it does not talk TLS to a plaintext gateway, nor plaintext to a TLS one', async () => {
    const plainDsn = await createDsnAgent(plainGw.api, 'plain');
    const ok = await link({ HOOP_KEY: plainDsn });
    await ok.waitConnected();
    assert.match(ok.log.text(), /tls=false - starting agent/);
    await ok.stop();
    const mismatch = await link({ HOOP_KEY: ipDsn.replace(/^grpcs?:/, 'grpc:') });
    await failsToConnect(mismatch, /UNAVAILABLE|INTERNAL/);
    await mismatch.stop();
  });

  it('an unreadable HOOP_TLSCA stops the link with a message naming the variable', async () => {
    const h = await link({ HOOP_KEY: ipDsn.replace(/^grpcs?:/, 'grpcs:'), HOOP_TLSCA: 'file:///nonexistent/ca.pem' });
    const end = await h.link.finished;
    assert.equal(end.exitCode, 1);
    assert.match(end.reason, /HOOP_TLSCA: cannot read \/nonexistent\/ca\.pem: ENOENT/);
    await h.stop();
  });
});

const fastPolicy = { connectTimeoutMs: 5000, pingIntervalMs: 0, resetAfterMs: 60_000, backoff: { initialMs: 100, maxMs: 300, multiplier: 2, jitter: 0.2 } };
