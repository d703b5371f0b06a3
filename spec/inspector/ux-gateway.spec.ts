// Gateway sessions in the inspector, with real peers: our development
// gateway, the built daemon with -inspect connected to it by a DSN, and
// `reagent exec` opening sessions through it. Sessions are named by the
// connection and user the gateway sent (gob-decoded connection params), and
// the daemon's bug report (no secret in any event, so it replays exactly)
// can be stepped through event by event, every one of them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runReagent } from '../helpers/cli.js';
import { cleanEnv, createDsnAgent, execThrough, startGatewayProcess, startProcess, tempDir, type Proc } from '../helpers/gateway-peer.js';
import { chromiumMissing, launch, screenshotPath, type Browser } from './browser.js';
import { serve, textIs } from './served.js';

const missing = chromiumMissing();
if (missing && process.env.CI === 'true') throw new Error(`browser tests need Chromium: ${missing}`);

const LABEL = /^exec · (\S+@\S+) · ([0-9a-f]{8})$/;

describe('gateway sessions in the inspector, live and from the bug report', { skip: missing ?? false }, () => {
  const home = tempDir('reagent-ux-gw-home-');
  const agentDir = tempDir('reagent-ux-gw-agent-');
  const procs: Proc[] = [];
  let browser: Browser;
  let gateway: Awaited<ReturnType<typeof startGatewayProcess>>;
  let daemon: Proc;
  let dsn: string;
  let url: string;

  before(async () => {
    browser = await launch();
    gateway = await startGatewayProcess({ home, extra: ['--offline-wait', '300'] });
    procs.push(gateway);
    dsn = await createDsnAgent(gateway, 'runner');
    daemon = startProcess(['-agentDir', agentDir, '-nmw=false', '-inspect=127.0.0.1:0'], cleanEnv(home, { HOOP_KEY: dsn }));
    procs.push(daemon);
    await daemon.waitFor(/connected with success to the gateway/, 30_000);
    url = (await daemon.waitFor(/inspector: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/))[1]!;
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    await browser?.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(agentDir, { recursive: true, force: true });
  });

  it('live: each session is named by its connection and user, not by its UUID alone', async () => {
    const page = await browser.context.newPage();
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]');
    for (const command of [['sh', '-c', 'echo one'], ['sh', '-c', 'exit 3']]) {
      const r = await execThrough(gateway, 'runner', command, cleanEnv(home));
      assert.ok(r.code === 0 || r.code === 3, r.stderr);
    }
    // The daemon logs each session's id as it opens: the ids the page must show names for.
    const sids = [...daemon.output().matchAll(/"sid":"([0-9a-f-]{36})","type":"command-line","connection":"exec","msg":"session opening"/g)].map((m) => m[1]!);
    assert.equal(sids.length, 2, daemon.output());
    for (const sid of sids) {
      const card = page.locator(`.card[data-actor="gateway-session:${sid}"]`);
      await card.waitFor();
      const name = (await card.locator('h3 .name').textContent()) ?? '';
      const m = LABEL.exec(name);
      assert.ok(m, `card named "${name}"`);
      assert.equal(m[2], sid.slice(0, 8));
      assert.equal(await card.locator('h3 .id').textContent(), `gateway-session:${sid}`, 'the id stays next to the name');
      assert.equal(await page.locator(`#tree .actor[title="gateway-session:${sid}"] span`).first().textContent(), name);
      assert.equal(await page.locator(`#f-actor option[value="gateway-session:${sid}"]`).textContent(), name);
    }
    // The name comes from the session's own context: the gob-decoded connection params.
    await page.click('#legend-close');
    await page.click(`#tree .actor[title="gateway-session:${sids[1]}"]`);
    await page.waitForSelector('#context');
    const context = JSON.parse((await page.locator('#context').textContent()) ?? 'null') as { connectionName: string; userEmail: string; sid: string; exitCode: number };
    assert.equal(context.sid, sids[1]);
    assert.equal(`exec · ${context.userEmail} · ${sids[1]!.slice(0, 8)}`, await page.locator(`.card[data-actor="gateway-session:${sids[1]}"] h3 .name`).textContent());
    await page.waitForSelector(`#list .row span:text("exec · ${context.userEmail} · ${sids[1]!.slice(0, 8)}")`);
    await page.screenshot({ path: screenshotPath('inspector-gateway-sessions') });
    await page.close();
  });

  it("replay --inspect of the daemon's bug report: reproduced, and the slider steps through every event", async () => {
    await daemon.stop();
    const report = join(agentDir, 'report.ndjson');
    const written = runReagent(['-agentDir', agentDir, 'bugreport', '-o', report], cleanEnv(home, { HOOP_KEY: dsn }));
    assert.equal(written.code, 0, written.stderr);
    const lines = readFileSync(report, 'utf8').trim().split('\n');
    assert.ok(!lines.join('\n').includes(dsn), 'the DSN is redacted from the report');
    const events = lines.length - 1;
    assert.ok(events >= 20, `${events} events in the report`);

    const replay = serve(['replay', report, '--inspect=127.0.0.1:0'], cleanEnv(home));
    try {
      const replayUrl = await replay.url();
      assert.match(replay.out(), new RegExp(`^reproduced: ${events} events`, 'm'), 'secrets no longer enter events: nothing was redacted');

      const page = await browser.context.newPage();
      await page.goto(replayUrl);
      await page.waitForSelector('body[data-ready="true"]');
      await page.click('#legend-close');
      await textIs(page, '#count', `${events} event(s)`);
      assert.equal(await page.locator('#slider').getAttribute('max'), String(events - 1), 'the slider spans every event');
      // Step from the first event to the last, one at a time: each is reached, in order.
      await page.click('#first');
      const seqs = lines.slice(1).map((l) => (JSON.parse(l) as { seq: number }).seq);
      for (let row = 0; row < events; row++) {
        await page.waitForFunction((want) => ((globalThis as any).document.querySelector('#cursor').textContent as string).startsWith(want), `#${row} · seq ${seqs[row]} `);
        if (row < events - 1) await page.click('#next');
      }
      assert.equal(await page.locator('#slider').inputValue(), String(events - 1));
      // No row diverged; the sessions keep their names in the replay too.
      assert.equal(await page.locator('#list .row.diverged').count(), 0);
      assert.ok((await page.locator('#charts .card h3 .name').allTextContents()).filter((n) => LABEL.test(n)).length >= 2);
      await page.screenshot({ path: screenshotPath('inspector-replay-every-event') });
      await page.close();
    } finally {
      await replay.stop();
    }
  });
});
