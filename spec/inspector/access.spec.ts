// The inspector's access gate beyond loopback: with `-inspect=0.0.0.0:PORT`
// the Host check still applies (before, a wildcard bind turned it off, so any
// DNS-rebinding page could reach the inspector), names are added with
// `-inspectHosts`, and the token-for-cookie redirect cannot be bent into an
// open redirect by a crafted path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { networkInterfaces } from 'node:os';
import { builtinMachines } from '../../machines/registry.js';
import { InspectorSession } from '../../inspector/session.js';
import { startInspectorServer, type InspectorServer } from '../../inspector/server.js';
import { parseFlags } from '../../cli/flags.js';

const TOKEN = 'k'.repeat(32);
let server: InspectorServer;

before(async () => {
  const session = new InspectorSession({ mode: 'replay', registry: builtinMachines(), run: 'r', agentVersion: 'test', title: 'access test' });
  server = await startInspectorServer({ session, address: '0.0.0.0:0', token: TOKEN, allowedHosts: ['device.test'] });
});
after(async () => {
  await server.close();
});

/** A request as a browser (or a rebinding page) sends it: our Host header, our raw path. */
function get(path: string, host: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: server.port, path, headers: { ...headers, host } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, ...(res.headers.location !== undefined ? { location: res.headers.location } : {}) });
      })
      .on('error', reject);
  });
}

function upgradeStatus(host: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({
      host: '127.0.0.1',
      port: server.port,
      path: `/stately?token=${TOKEN}`,
      headers: { host, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(String(res.statusCode));
    });
    req.on('response', (res) => {
      res.resume();
      resolve(String(res.statusCode));
    });
    req.on('error', () => resolve('error'));
  });
}

test('bound to 0.0.0.0, a foreign Host is refused even with the token; loopback, named hosts and own addresses are served', async () => {
  const p = server.port;
  const forbidden = await get(`/?token=${TOKEN}`, `evil.example:${p}`);
  assert.equal(forbidden.status, 403);
  assert.equal((await get(`/?token=${TOKEN}`, `evil.example`)).status, 403);
  assert.equal((await get(`/?token=${TOKEN}`, `device.test:${p + 1}`)).status, 403, 'the port is part of the check');
  assert.equal(await upgradeStatus(`evil.example:${p}`), '401', 'nor a socket for a rebound page');
  for (const host of [`127.0.0.1:${p}`, `localhost:${p}`, `[::1]:${p}`, `device.test:${p}`, `DEVICE.test:${p}`]) {
    assert.equal((await get(`/?token=${TOKEN}`, host)).status, 303, host);
  }
  assert.equal(await upgradeStatus(`device.test:${p}`), '101');
  const own = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  if (own) assert.equal((await get(`/?token=${TOKEN}`, `${own.address}:${p}`)).status, 303, 'this machine\'s own address');
  // The refusal says how to add a name, and never shows the token.
  const text = await new Promise<string>((resolve) => {
    http.get({ host: '127.0.0.1', port: p, path: `/?token=${TOKEN}`, headers: { host: 'evil.example' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
  });
  assert.match(text, /-inspectHosts/);
  assert.ok(!text.includes(TOKEN));
});

test('the token-for-cookie redirect stays on this server whatever the path', async () => {
  const host = `127.0.0.1:${server.port}`;
  const origin = `http://${host}`;
  for (const path of ['/.//evil.example/', '//evil.example/', '/\\evil.example/', '/./\\evil.example', '/%2F%2Fevil.example', '/x/..//evil.example', '///evil.example']) {
    const r = await get(`${path}?token=${TOKEN}`, host);
    assert.equal(r.status, 303, path);
    const location = r.location ?? '';
    assert.ok(/^\/(?![/\\])/.test(location), `${path} redirects to ${JSON.stringify(location)}`);
    assert.equal(new URL(location, origin).origin, origin, path);
  }
  assert.equal((await get(`/elk.js?token=${TOKEN}`, host)).location, '/elk.js', 'a real file keeps its path');
});

test('-inspectHosts takes comma-separated names and addresses, and nothing else', () => {
  const ok = parseFlags(['-inspectHosts=Device.Local, 10.0.0.5,[fe80::1],'], {}, { platform: 'linux', home: '/root' });
  assert.ok(ok.ok);
  assert.equal(ok.ok && ok.flags.inspectHosts, 'device.local,10.0.0.5,fe80::1');
  for (const bad of ['evil.example/x', 'a b', 'http://x', 'x:80', '-x', 'a..b']) {
    const r = parseFlags([`-inspectHosts=${bad}`], {}, { platform: 'linux', home: '/root' });
    assert.ok(!r.ok && /-inspectHosts: expected comma-separated host names/.test(r.error), bad);
  }
});
