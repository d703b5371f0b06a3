// The `.flock`'s client certificate, with server checks off, goes to the
// Reagent's legacy endpoints only, matched on host:port with its rule
// anchored. Before, the rule ran unanchored over the whole URL:
// `wss://127.0.0.1:P/devices.x.com:8080` matched, and the device sent its
// private key's certificate to a server it never verified. And a plain
// ws:// router that is not on this machine is warned about.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import { isLegacyTlsEndpoint, legacyClientTls } from '../../config/flock.js';
import { isLoopbackHost, openTransport, plaintextWarning } from '../../adapters/wamp/transport.js';
import { makeTestCa, type TestCa } from '../helpers/gateway-peer.js';
import { cleanEnv, startReagent, tempDir } from '../helpers/cli.js';

test('the legacy rule is devices.*\\.(com|io):8080 on the host:port of a wss:// URL, anchored', () => {
  for (const url of ['wss://devices.ironflock.com:8080/ws', 'wss://devices.reswarm.io:8080', 'wss://devices-eu.record-evolution.com:8080/x?y=1', 'wss://DEVICES.example.COM:8080/']) {
    assert.equal(isLegacyTlsEndpoint(url), true, url);
  }
  for (const url of [
    'wss://evil.example/devices.x.com:8080',
    'wss://evil.example/?next=devices.x.com:8080',
    'wss://evil.example/#devices.x.com:8080',
    'wss://devices.x.com:8080@evil.example/',
    'wss://user:devices.x.com:8080@evil.example/',
    'wss://devices.x.com.evil.example:8080/',
    'wss://devices.x.com:8080.evil.example/',
    'wss://xdevices.x.com:8080/',
    'wss://devices.x.com:8081/',
    'wss://devices.x.com/',
    'wss://devices.x.org:8080/',
    'ws://devices.x.com:8080/',
    'https://devices.x.com:8080/',
    'not a url devices.x.com:8080',
  ]) {
    assert.equal(isLegacyTlsEndpoint(url), false, url);
  }
  const authentication = { key: 'KEY', certificate: 'CERT' };
  assert.deepEqual(legacyClientTls({ device_endpoint_url: 'wss://devices.x.com:8080/', authentication }), { key: 'KEY', cert: 'CERT', rejectUnauthorized: false });
  assert.equal(legacyClientTls({ device_endpoint_url: 'wss://evil.example/devices.x.com:8080', authentication }), undefined);
  assert.equal(legacyClientTls({ device_endpoint_url: 'wss://devices.x.com:8080/' }), undefined, 'no certificate, nothing to present');
});

test('loopback is localhost, 127/8 and ::1; ws:// to anything else is warned about', () => {
  for (const h of ['localhost', 'LOCALHOST', 'a.localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['10.0.0.1', '192.0.2.1', 'router.example', '[::2]', 'localhost.example', '128.0.0.1', '0.0.0.0']) assert.equal(isLoopbackHost(h), false, h);
  assert.match(plaintextWarning('ws://192.0.2.1:8080/ws') ?? '', /192\.0\.2\.1:8080.*plain ws:\/\/.*use wss:\/\//);
  assert.match(plaintextWarning('ws://router.example/ws') ?? '', /router\.example/);
  assert.equal(plaintextWarning('ws://127.0.0.1:8080/ws'), null);
  assert.equal(plaintextWarning('ws://localhost/ws'), null);
  assert.equal(plaintextWarning('wss://router.example/ws'), null);
});

let dir: string;
let ca: TestCa;
let server: Server;
let wss: WebSocketServer;
let port: number;
/** Subjects of the client certificates the server was shown, one entry per TLS handshake. */
const presented: Array<string | null> = [];

before(async () => {
  dir = tempDir('reagent-legacy-tls-');
  ca = makeTestCa(dir);
  // A router that asks every client for a certificate and accepts any (or none): it only watches.
  server = createServer({ cert: readFileSync(ca.ipCert), key: readFileSync(ca.ipKey), requestCert: true, rejectUnauthorized: false });
  server.on('secureConnection', (s: TLSSocket) => {
    const cert = s.getPeerCertificate();
    presented.push(cert && cert.subject ? String(cert.subject.CN) : null);
  });
  wss = new WebSocketServer({ server, handleProtocols: (protocols) => (protocols.has('wamp.2.json') ? 'wamp.2.json' : false) });
  wss.on('connection', (ws) => ws.on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

test('a crafted path gets neither the client certificate nor a pass on the server check; the legacy options would have connected', async () => {
  const authentication = { key: readFileSync(ca.nameKey, 'utf8'), certificate: readFileSync(ca.nameCert, 'utf8') };
  // What the old, unanchored rule matched: the host is ours, the legacy name only in the path.
  const crafted = `wss://127.0.0.1:${port}/devices.x.com:8080`;
  assert.ok(/devices.*\.(com|io):8080/.test(crafted), 'the Reagent\'s own regex matches this URL');
  const tls = legacyClientTls({ device_endpoint_url: crafted, authentication });
  assert.equal(tls, undefined);
  const t = openTransport({ url: crafted, serializers: ['json'], ...(tls ? { tls } : {}) });
  await assert.rejects(t.opened, /closed before it opened/);
  const closed = await new Promise<string>((resolve) => t.onClosed((i) => resolve(i.reason)));
  assert.match(closed, /self[- ]signed|unable to verify|certificate/i, 'refused because the server certificate is not trusted');
  assert.ok(!presented.includes('name'), 'the device certificate was never shown');

  // Control: the options a legacy endpoint gets do connect to this server and show the certificate,
  // so the refusal above is the rule's doing and the server would have seen the certificate.
  const legacy = openTransport({ url: crafted, serializers: ['json'], tls: { key: authentication.key, cert: authentication.certificate, rejectUnauthorized: false } });
  await legacy.opened;
  legacy.close();
  assert.ok(presented.includes('name'));
});

test('a daemon whose .flock names a ws:// router off this machine warns at start (-offline too); a loopback one does not', async () => {
  let n = 0;
  const run = async (endpoint: string) => {
    const home = join(dir, `home-${++n}`);
    const flock = join(dir, `device-${n}.flock`);
    writeFileSync(flock, JSON.stringify({ device_endpoint_url: endpoint, secret: 'not-a-real-secret-123', swarm_key: 1, device_key: 2, serial_number: 'sn-legacy-tls' }));
    const d = startReagent(['-offline', '-config', flock, '-agentDir', join(home, 'agent')], cleanEnv(home, { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}` }));
    try {
      await d.waitFor(/"msg":"ready"/, 30_000);
    } finally {
      d.child.kill('SIGTERM');
      await d.exit;
    }
    return readFileSync(join(home, 'agent', 'reagent.log'), 'utf8');
  };
  // 192.0.2.0/24 is TEST-NET-1; with -offline nothing is ever dialled.
  assert.match(await run('ws://192.0.2.1:8080/ws'), /"level":"warn".*studio link: the router 192\.0\.2\.1:8080 is reached over plain ws:\/\//);
  assert.doesNotMatch(await run('ws://127.0.0.1:8080/ws'), /plain ws:\/\//);
});
