// The development gateway's web side in a real browser (Debian's Chromium):
// the operator registers an agent through the page; a page of another site
// that posts a forged form, even one that knew the admin token and a CSRF
// token, is refused; and a name rebound to 127.0.0.1 (DNS rebinding,
// simulated with Chromium's host resolver rules) reaches nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { chromium, type BrowserContext } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, CHROMIUM_FLAGS, chromiumMissing, screenshotPath } from '../inspector/browser.js';
import { startDevGateway } from '../helpers/gateway-peer.js';

const missing = chromiumMissing();
if (missing && process.env.CI === 'true') throw new Error(`browser tests need Chromium: ${missing}`);
if (missing) process.stderr.write(`\n!!! SKIPPED: ${missing}\n\n`);

describe('the registration page in Chromium', { skip: missing ?? false }, () => {
  let gw: Awaited<ReturnType<typeof startDevGateway>>;
  let context: BrowserContext;
  let profile: string;
  let evil: Server;
  let evilPort = 0;
  let evilPage = '';

  before(async () => {
    gw = await startDevGateway();
    // Another site: another origin (127.0.0.2 is loopback, but not the gateway's address).
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(evilPage);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.2', () => r()));
    evilPort = (evil.address() as { port: number }).port;
    profile = mkdtempSync(join(tmpdir(), 'reagent-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_FLAGS, '--host-resolver-rules=MAP rebind.test 127.0.0.1, MAP evil.test 127.0.0.2'],
    });
  });

  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await new Promise<void>((r) => (evil ? evil.close(() => r()) : r()));
    await gw?.stop();
  });

  it('the operator registers an agent: name and admin token in the form, CSRF token carried along', async () => {
    const token = `x-agt-${randomUUID()}`;
    const page = await context.newPage();
    const res = await page.goto(`${gw.api}/agents/new/${token}`);
    assert.equal(res?.status(), 200);
    assert.match(res?.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    await page.fill('input[name=name]', 'pi-browser');
    await page.fill('input[name=admin_token]', gw.adminToken);
    await page.screenshot({ path: screenshotPath('gateway-registration-form') });
    const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.click('button[type=submit]')]);
    assert.equal(answer.status(), 201);
    assert.match(await page.content(), /Agent <strong>pi-browser<\/strong> is registered/);
    assert.ok(gw.gateway.store.byName('pi-browser'));
    await page.close();
  });

  it('a forged form posted from another site is refused, even with the admin token and a valid CSRF token', async () => {
    const token = `x-agt-${randomUUID()}`;
    // The attacker's best case: it somehow knows both secrets; the browser still says where the form came from.
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await fetch(`${gw.api}/agents/new/${token}`)).text())![1]!;
    const forms = [
      { name: 'forged-1', admin_token: gw.adminToken },
      { name: 'forged-2', admin_token: gw.adminToken, csrf },
    ];
    for (const fields of forms) {
      evilPage = `<form id="f" method="post" action="${gw.api}/agents/new/${token}">${Object.entries(fields)
        .map(([k, v]) => `<input name="${k}" value="${v}">`)
        .join('')}</form><script>document.getElementById('f').submit()</script>`;
      const page = await context.newPage();
      const posted = page.waitForResponse((r) => r.request().method() === 'POST');
      await page.goto(`http://evil.test:${evilPort}/`);
      const answer = await posted;
      assert.equal(answer.status(), 403, fields.name);
      await page.close();
      assert.equal(gw.gateway.store.byName(fields.name), undefined);
    }
    // And a script of another site cannot use the API: no CORS, and Origin is refused.
    const page = await context.newPage();
    evilPage = '<p>evil</p>';
    await page.goto(`http://evil.test:${evilPort}/`);
    const status = await page.evaluate(async (url) => {
      try {
        const r = await fetch(url, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ name: 'forged-3' }) });
        return r.type;
      } catch (e) {
        return String(e);
      }
    }, `${gw.api}/api/agents`);
    assert.equal(status, 'opaque');
    assert.equal(gw.gateway.store.byName('forged-3'), undefined);
    await page.close();
  });

  it('a name rebound to 127.0.0.1 (DNS rebinding) gets 403 from every route', async () => {
    const port = new URL(gw.api).port;
    const page = await context.newPage();
    for (const path of ['/api/healthz', '/api/agents', `/agents/new/x-agt-${randomUUID()}`]) {
      const res = await page.goto(`http://rebind.test:${port}${path}`);
      assert.equal(res?.status(), 403, path);
      assert.match(await page.content(), /Host: expected one of/);
    }
    await page.close();
  });
});
