// -metrics on the built agent: /healthz turns 503 when the journal cannot
// commit (its agent dir a full tmpfs) and 200 again once it can; /metrics
// parses strictly. Another local user (uid 65534) reads both, as decided
// (README, "Health and metrics": read-only, no token), and can do nothing else.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, describe, it, test } from 'node:test';
import { BACKEND_USER, STUDIO_USER, startPeers } from '../studio/helpers/harness.js';
import { BackendSim } from '../studio/helpers/backend-sim.js';
import { startCliDevice, type CliDevice } from '../studio/helpers/cli-device.js';
import type { RouterPeer } from '../studio/helpers/router.js';
import { requireBuild } from '../helpers/cli.js';
import { mountTmpfs, tmpfsOrSkip, type Tmpfs } from '../helpers/tmpfs.js';
import { nodeAsNobody, skipUnlessUnprivileged } from '../helpers/unprivileged.js';
import { parsePrometheusText } from './prom-parser.js';

function fetchText(url: string, method = 'GET'): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const skipped = tmpfsOrSkip('healthz on a full disk', (name, reason) => test(name, { skip: reason }, () => {}));

describe('/healthz and /metrics of the built agent', { skip: skipped ?? false }, () => {
  let disk: Tmpfs | undefined;
  let router: RouterPeer | undefined;
  const backends: BackendSim[] = [];
  let device: CliDevice | undefined;

  after(async () => {
    await device?.stop();
    for (const b of backends) await b.stop();
    await router?.stop();
    disk?.unmount();
  });

  it('503 with the reason while the journal cannot commit, 200 before and after; metrics parse; uid 65534 reads both and nothing else', async () => {
    requireBuild();
    disk = mountTmpfs(2048);
    const peers = await startPeers();
    router = peers.router;
    backends.push(peers.backend);
    device = startCliDevice({ url: router.url, dir: disk.dir, args: ['-metrics=127.0.0.1:0', '-nmw=false', '-update=false'] });
    const m = /metrics listening: (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(await device.reagent.waitFor(/metrics listening: http:\/\/127\.0\.0\.1:\d+\/metrics/, 30_000))!;
    const origin = m[1]!;
    await peers.backend.until(() => peers.backend.statuses().includes('CONNECTED'), 30_000, 'the device online');
    await until(async () => (await fetchText(`${origin}/healthz`)).status === 200, 15_000, '/healthz 200');
    const healthy = await fetchText(`${origin}/healthz`);
    assert.match(healthy.body, /^ok\nstudio: up for \d+ s\n$/);

    const metrics = await fetchText(`${origin}/metrics`);
    assert.equal(metrics.type, 'text/plain; version=0.0.4; charset=utf-8');
    const families = parsePrometheusText(metrics.body);
    assert.equal(families.get('reagent_link_up')!.samples.find((s) => s.labels.link === 'studio')!.value, 1);
    assert.ok(families.get('reagent_journal_commit_duration_seconds')!.samples.at(-1)!.value > 0, `commits were timed:\n${metrics.body}`);
    assert.ok(families.get('process_resident_memory_bytes')!.samples[0]!.value > 10 * 1024 * 1024, metrics.body);
    assert.equal(families.get('reagent_outbox_depth')!.samples[0]!.value, 0);
    assert.doesNotMatch(metrics.body, /device-secret|b7d2c0de|127\.0\.0\.1/, 'no secret, serial or endpoint in a scrape');

    // Another local user: the same read-only answers (no token, by decision), and no way to change anything.
    const why = skipUnlessUnprivileged();
    if (why) console.log(`\n!!! SKIPPING the uid 65534 part: ${why} !!!\n`);
    else {
      // --input-type=module (nodeAsNobody): an ES module that asks four things and prints the statuses.
      const script = `import http from 'node:http';const [o]=process.argv.slice(1);const ask=(p,m)=>new Promise(r=>{const q=http.request(o+p,{method:m},s=>{let b='';s.on('data',d=>b+=d);s.on('end',()=>r([s.statusCode,b.slice(0,40)]))});q.on('error',e=>r([0,e.message]));q.end()});console.log(JSON.stringify([await ask('/healthz','GET'),await ask('/metrics','GET'),await ask('/metrics','POST'),await ask('/debug/pprof/heap','GET')]))`;
      const got = await nodeAsNobody<Array<[number, string]>>(script, [origin]);
      assert.deepEqual(got.map((g) => g[0]), [200, 200, 405, 404], JSON.stringify(got));
      assert.match(got[0]![1], /^ok/);
    }

    disk.fill();
    await router.crash('SIGKILL');
    await device.reagent.waitFor(/journal commit failed/, 20_000);
    const sick = await fetchText(`${origin}/healthz`);
    assert.equal(sick.status, 503, sick.body);
    assert.match(sick.body, /^unhealthy: journal cannot commit: .*disk full/);
    assert.match(sick.body, /\nstudio: (retrying in|connecting for) /, 'the link itself retries within its bounds');
    const failing = parsePrometheusText((await fetchText(`${origin}/metrics`)).body);
    assert.equal(failing.get('reagent_journal_commit_failing')!.samples[0]!.value, 1);

    await router.restart();
    const backend2 = new BackendSim({ url: router.url, ...BACKEND_USER, allow: [`*:${STUDIO_USER.authid}`] });
    backends.push(backend2);
    await backend2.start();
    disk.release();
    await device.reagent.waitFor(/journal commit succeeded again/, 30_000);
    await until(async () => (await fetchText(`${origin}/healthz`)).status === 200, 90_000, '/healthz 200 again');
    // 200 needs the journal committing and the link up or retrying within its bounds; then it comes back.
    await backend2.until(() => backend2.statuses().includes('CONNECTED'), 90_000, 'the device online again');
    const back = parsePrometheusText((await fetchText(`${origin}/metrics`)).body);
    assert.equal(back.get('reagent_journal_commit_failing')!.samples[0]!.value, 0);
    assert.ok(back.get('reagent_link_reconnects_total')!.samples.find((s) => s.labels.link === 'studio')!.value >= 1, 'the link came back');
    assert.equal(await device.stop(), 0);
  });
});
