// `-profiling` as a user runs it (the built CLI, as root): profiles come from
// the daemon itself behind the inspector's token model, and there is no V8
// debugger port for a local user to attach to. Before, `-profiling` opened
// V8's inspector on 127.0.0.1:<port>, and uid 65534 evaluated
// `process.getuid()` in the root daemon over CDP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, startReagent, tempDir } from '../helpers/cli.js';
import { nodeAsNobody, skipUnlessUnprivileged } from '../helpers/unprivileged.js';
import { parseSeconds, startProfilingServer } from '../../inspector/profiling.js';

const skip = skipUnlessUnprivileged();

/** What uid 65534 tries against the daemon's port: the CDP discovery endpoints, a debugger upgrade, the profiles. */
const PROBE = `
import net from 'node:net';
import http from 'node:http';
const [origin, token] = process.argv.slice(-2);
const port = Number(new URL(origin).port);
const status = async (path, init) => { try { return (await fetch(origin + path, init)).status; } catch (e) { return 'error ' + e.cause?.code; } };
const upgrade = (path) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => s.write('GET ' + path + ' HTTP/1.1\\r\\nHost: 127.0.0.1:' + port + '\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Version: 13\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\\r\\n'));
  let got = ''; s.on('data', (d) => { got += d; s.destroy(); }); s.on('close', () => resolve(got.split('\\r\\n')[0])); s.on('error', () => resolve('error'));
});
// fetch() sets Host itself; a rebinding page's request is made by hand.
const withHost = (path, host, headers) => new Promise((resolve) => {
  http.get({ host: '127.0.0.1', port, path, headers: { ...headers, host } }, (res) => { res.resume(); resolve(res.statusCode); }).on('error', (e) => resolve('error ' + e.code));
});
const out = {
  uid: process.getuid(),
  jsonList: await status('/json/list'),
  jsonVersion: await status('/json/version'),
  cdpUpgrade: await upgrade('/'),
  cdpUpgradeWithToken: await upgrade('/devtools/page/x?token=' + token),
  profile: await status('/debug/pprof/profile?seconds=1'),
  heap: await status('/debug/pprof/heap'),
  guessedToken: await status('/debug/pprof/heap', { headers: { authorization: 'Bearer ' + 'x'.repeat(32) } }),
  rebound: await withHost('/debug/pprof/profile?seconds=1', 'evil.example:' + port, { authorization: 'Bearer ' + token }),
  withToken: await status('/debug/pprof/profile?seconds=1', { headers: { authorization: 'Bearer ' + token } }),
};
console.log(JSON.stringify(out));
`;

interface Probe {
  uid: number;
  jsonList: number;
  jsonVersion: number;
  cdpUpgrade: string;
  cdpUpgradeWithToken: string;
  profile: number;
  heap: number;
  guessedToken: number;
  rebound: number;
  withToken: number;
}

/** TCP ports the process listens on, from `ss` (iproute2). */
function listeningPorts(pid: number): number[] {
  const lines = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' }).split('\n');
  return lines.filter((l) => l.includes(`pid=${pid},`)).map((l) => Number(/:(\d+)\s/.exec(l.split(/\s+/)[3] + ' ')?.[1]));
}

test('-profiling: uid 65534 finds no debugger and gets no profile without the token; root with it gets a .cpuprofile and a heap snapshot', { skip, timeout: 120_000 }, async () => {
  const dir = tempDir('reagent-profiling-');
  const agentDir = join(dir, 'agent');
  const d = startReagent(['-offline', '-agentDir', agentDir, '-profiling', '-profilingPort=0'], cleanEnv(dir, { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}` }));
  try {
    const url = new URL((await d.waitFor(/profiling: http:\/\/127\.0\.0\.1:\d+\/debug\/pprof\/\?token=[\w-]+/, 30_000)).slice('profiling: '.length));
    const token = url.searchParams.get('token')!;
    await d.waitFor(/"msg":"ready"/);

    // The daemon listens on the profiling port and nothing else: no V8 inspector anywhere.
    assert.deepEqual(listeningPorts(d.child.pid!), [Number(url.port)]);

    const nobody = await nodeAsNobody<Probe>(PROBE, [url.origin, token]);
    assert.equal(nobody.uid, 65534);
    assert.equal(nobody.jsonList, 401, 'no CDP target list');
    assert.equal(nobody.jsonVersion, 401);
    assert.match(nobody.cdpUpgrade, /^HTTP\/1\.1 404/, 'no debugger WebSocket');
    assert.match(nobody.cdpUpgradeWithToken, /^HTTP\/1\.1 404/, 'not even with the token');
    assert.equal(nobody.profile, 401);
    assert.equal(nobody.heap, 401);
    assert.equal(nobody.guessedToken, 401);
    assert.equal(nobody.rebound, 403, 'a rebound Host is refused even with the token');
    // Control: the same user, handed the token, is let in; the refusals above are the token's doing.
    assert.equal(nobody.withToken, 200);

    const auth = { authorization: `Bearer ${token}` };
    const cpu = await fetch(`${url.origin}/debug/pprof/profile?seconds=1`, { headers: auth });
    assert.equal(cpu.status, 200);
    assert.match(cpu.headers.get('content-disposition') ?? '', /attachment; filename="reagent-\d{8}T\d{6}Z\.cpuprofile"/);
    const profile = (await cpu.json()) as { nodes: Array<{ id: number; callFrame: { functionName: string } }>; samples: number[]; startTime: number; endTime: number };
    assert.ok(profile.nodes.length > 1 && profile.nodes[0]!.callFrame.functionName === '(root)');
    assert.ok(Array.isArray(profile.samples) && profile.samples.length > 0);
    assert.ok(profile.endTime - profile.startTime >= 900_000, 'about one second, in microseconds');

    const heap = await fetch(`${url.origin}/debug/pprof/heap`, { headers: auth });
    assert.equal(heap.status, 200);
    const snapshot = JSON.parse(await heap.text()) as { snapshot: { meta: { node_fields: string[] }; node_count: number } };
    assert.ok(snapshot.snapshot.meta.node_fields.includes('self_size'));
    assert.ok(snapshot.snapshot.node_count > 1000);

    // The browser path: token in, cookie out, the token gone from the address.
    const first = await fetch(url, { redirect: 'manual' });
    assert.equal(first.status, 303);
    assert.equal(first.headers.get('location'), '/debug/pprof/');
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
    assert.match(await (await fetch(`${url.origin}/debug/pprof/`, { headers: { cookie } })).text(), /CPU profile/);
    assert.equal((await fetch(`${url.origin}/debug/pprof/profile?seconds=0`, { headers: auth })).status, 400);

    d.child.kill('SIGTERM');
    assert.equal(await d.exit, 0, d.output());
    const log = readFileSync(join(agentDir, 'reagent.log'), 'utf8');
    assert.match(log, /profiling endpoint listening/);
    assert.ok(!log.includes(token), 'the token never reaches the log');
    assert.equal(d.output().split(token).length, 2, 'printed once (stderr), nowhere else');
  } finally {
    if (d.child.exitCode === null) d.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one profile at a time, a client that hangs up ends its profile, and seconds are bounded', { timeout: 60_000 }, async () => {
  const server = await startProfilingServer({ port: 0, token: 't'.repeat(32), maxSeconds: 600 });
  try {
    const auth = { authorization: `Bearer ${'t'.repeat(32)}` };
    const ac = new AbortController();
    const long = fetch(`${server.origin}/debug/pprof/profile?seconds=600`, { headers: auth, signal: ac.signal }).catch(() => 'aborted');
    let busy = 0;
    // seconds=0 is refused (400) when idle and turned away (409) while busy: a probe that takes nothing.
    while (busy !== 409) busy = (await fetch(`${server.origin}/debug/pprof/profile?seconds=0`, { headers: auth })).status;
    assert.equal((await fetch(`${server.origin}/debug/pprof/heap`, { headers: auth })).status, 409);
    ac.abort();
    assert.equal(await long, 'aborted');
    // The hung-up 10-minute profile released the profiler (the test runner's timeout would end this loop otherwise).
    let status = 409;
    while (status === 409) {
      status = (await fetch(`${server.origin}/debug/pprof/profile?seconds=1`, { headers: auth })).status;
      if (status === 409) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 200);
    assert.equal((await fetch(`${server.origin}/debug/pprof/profile?seconds=601`, { headers: auth })).status, 400);
  } finally {
    await server.close();
  }
  assert.equal(parseSeconds(null, 120), 30);
  assert.equal(parseSeconds('120', 120), 120);
  for (const bad of ['0', '121', '-1', '1.5', 'x', '1e3', '9999999']) assert.equal(typeof parseSeconds(bad, 120), 'string', bad);
});
