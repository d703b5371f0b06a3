// When the gateway link uses TLS and how it trusts the gateway. The rules
// are checked as a table, then each one against a real TLS gateway whose
// certificates come from a CA made here with openssl.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { decideTransport, loadCa } from '../../adapters/grpc/tls.js';
import { ipv6Words, isLoopbackHost } from '../../config/loopback.js';
import { createDsnAgent, makeTestCa, removeDirs, startDevGateway, startLink, tempDir, waitUntil, type LinkHarness, type TestCa } from '../helpers/gateway-peer.js';

describe('the TLS rule', () => {
  it("follows hoop's documentation: plaintext only to this machine, unless TLS_SERVER_NAME or a TLS scheme asks for TLS", () => {
    const rule = (host: string, scheme: string | null, tlsServerName: string | null = null, insecure = false) => {
      const d = decideTransport({ host, scheme, tlsServerName, insecure });
      return 'refused' in d ? 'refused' : d.tls ? 'tls' : d.loopback ? 'plain-loopback' : 'plain-remote';
    };
    // host, scheme, TLS_SERVER_NAME, HOOP_GRPC_INSECURE -> decision
    const table: Array<[string, string | null, string | null, boolean, string]> = [
      ['127.0.0.1', null, null, false, 'plain-loopback'],
      ['127.0.0.1', 'grpc', null, false, 'plain-loopback'],
      ['127.8.9.10', null, null, false, 'plain-loopback'],
      ['::1', 'http', null, false, 'plain-loopback'],
      ['localhost', null, null, false, 'plain-loopback'],
      ['LOCALHOST', 'ws', null, false, 'plain-loopback'],
      ['::ffff:127.0.0.1', null, null, false, 'plain-loopback'],
      ['127.0.0.1', 'grpcs', null, false, 'tls'],
      ['localhost', 'https', null, false, 'tls'],
      ['::1', 'wss', null, false, 'tls'],
      ['127.0.0.1', null, 'gw.test', false, 'tls'],
      ['127.0.0.1', 'grpc', 'gw.test', false, 'tls'],
      ['gw.example.com', null, null, false, 'tls'],
      ['gw.example.com', null, null, true, 'tls'],
      ['10.0.0.5', 'grpcs', null, false, 'tls'],
      ['gw.example.com', 'grpc', null, false, 'refused'],
      ['10.0.0.5', 'http', null, false, 'refused'],
      ['localhost.evil.example', 'ws', null, false, 'refused'],
      ['128.0.0.1', 'grpc', null, false, 'refused'],
      ['0.0.0.0', 'grpc', null, false, 'refused'],
      ['::2', 'grpc', null, false, 'refused'],
      ['gw.example.com', 'grpc', null, true, 'plain-remote'],
      ['10.0.0.5', 'ws', null, true, 'plain-remote'],
      ['gw.example.com', 'grpc', 'gw.example.com', false, 'tls'],
    ];
    for (const [host, scheme, name, insecure, expected] of table) {
      assert.equal(rule(host, scheme, name, insecure), expected, `${scheme ?? '(none)'}://${host} TLS_SERVER_NAME=${name} HOOP_GRPC_INSECURE=${insecure}`);
    }
    const refused = decideTransport({ host: 'gw.example.com', scheme: 'grpc', tlsServerName: null, insecure: false });
    assert.ok('refused' in refused && /use grpcs:\/\/ .*HOOP_GRPC_INSECURE=true/.test(refused.refused));
  });

  it('property: plaintext only ever goes to loopback, or to another machine with HOOP_GRPC_INSECURE=true and a plaintext scheme', () => {
    const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain(), fc.constantFrom('localhost', '127.0.0.1', '::1', '0.0.0.0', '::'));
    const scheme = fc.constantFrom(null, 'grpc', 'grpcs', 'http', 'https', 'ws', 'wss', 'GRPC', 'Grpcs');
    fc.assert(
      fc.property(host, scheme, fc.option(fc.domain(), { nil: null }), fc.boolean(), (h, sch, name, insecure) => {
        const d = decideTransport({ host: h, scheme: sch, tlsServerName: name, insecure });
        if (name !== null || ['grpcs', 'https', 'wss'].includes(sch?.toLowerCase() ?? '')) return 'tls' in d && d.tls === true;
        if (isLoopbackHost(h)) return 'tls' in d && d.tls === false && d.loopback;
        if (sch === null) return 'tls' in d && d.tls === true;
        return insecure ? 'tls' in d && d.tls === false && !d.loopback : 'refused' in d;
      }),
      { numRuns: 1000 },
    );
  });

  it('loopback is 127.0.0.0/8, ::1 in any spelling, mapped 127.x and localhost; nothing else', () => {
    for (const h of ['127.0.0.1', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', '[::1]', '::ffff:127.0.0.2', 'localhost', 'localhost.']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['128.0.0.1', '0.0.0.0', '::', '::2', '::ffff:10.0.0.1', 'localhost.localdomain', '127.0.0.1.nip.io', 'gw', '1::1', '127.1']) assert.ok(!isLoopbackHost(h), h);
    fc.assert(
      fc.property(fc.ipV4(), (ip) => isLoopbackHost(ip) === ip.startsWith('127.')),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const words = ipv6Words(ip);
        assert.ok(words, ip);
        const isOne = words.slice(0, 7).every((w) => w === 0) && words[7] === 1;
        const mapped127 = words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff && words[6]! >> 8 === 127;
        return isLoopbackHost(ip) === (isOne || mapped127);
      }),
      { numRuns: 500 },
    );
  });

  it('reads HOOP_TLSCA inline, base64:// and file://, and names the variable when it is wrong', () => {
    const dir = tempDir();
    try {
      const ca = makeTestCa(dir);
      const pem = readFileSync(ca.caCert, 'utf8');
      assert.equal(loadCa({ kind: 'pem', pem }).toString(), pem);
      assert.equal(loadCa({ kind: 'base64', data: Buffer.from(pem).toString('base64') }).toString(), pem);
      assert.equal(loadCa({ kind: 'file', path: ca.caCert }).toString(), pem);
      assert.throws(() => loadCa({ kind: 'file', path: `${dir}/missing.pem` }), /^TlsConfigError: HOOP_TLSCA: the file:\/\/ path names no file$/);
      assert.throws(() => loadCa({ kind: 'file', path: dir }), /HOOP_TLSCA: the file:\/\/ path is a directory; expected a PEM file/);
      assert.throws(() => loadCa({ kind: 'base64', data: Buffer.from('hello').toString('base64') }), /HOOP_TLSCA \(base64\): expected PEM CA certificates .*found no PEM block/);
      const key = readFileSync(ca.ipKey, 'utf8');
      assert.throws(() => loadCa({ kind: 'pem', pem: key }), /HOOP_TLSCA \(pem\): expected PEM CA certificates .*found only "PRIVATE KEY"/);
      const broken = pem.replace(/(-----BEGIN CERTIFICATE-----\n)(.{10})/, '$1AAAAAAAAAA');
      assert.throws(() => loadCa({ kind: 'pem', pem: `${pem}${broken}` }), /certificate 2 of 2 is not a valid X\.509 certificate/);
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
    // Also plays the local gateway (token-less agent) below.
    nameGw = await startDevGateway({ tls: { cert: readFileSync(ca.nameCert), key: readFileSync(ca.nameKey) }, anonymousLocal: true });
    plainGw = await startDevGateway();
    ipDsn = await createDsnAgent(ipGw, 'tls-ip');
    nameDsn = await createDsnAgent(nameGw, 'tls-name');
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
    const plainDsn = await createDsnAgent(plainGw, 'plain');
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
    assert.match(end.reason, /HOOP_TLSCA: the file:\/\/ path names no file/);
    await h.stop();
  });
});

const fastPolicy = { connectTimeoutMs: 5000, pingIntervalMs: 0, resetAfterMs: 60_000, backoff: { initialMs: 100, maxMs: 300, multiplier: 2, jitter: 0.2 } };
