// The live inspector (`-inspect`) in Debian's Chromium: an empty daemon
// explains itself, actors are ordered by activity as it changes, and time
// travel shows past contexts from the bounded history it keeps (and says
// why there is none before it started or past its bound). Screenshots land
// in artifacts/screenshots/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import type { Json } from '../../actors/types.js';
import { startLiveInspector } from '../../inspector/live.js';
import { Redactor } from '../../adapters/log/redactor.js';
import { cleanEnv, tempDir } from '../helpers/cli.js';
import { MemoryJournal } from '../helpers/memory-journal.js';
import { studioPolicy } from '../helpers/connection-policy.js';
import { chromiumMissing, launch, screenshotPath, type Browser } from './browser.js';
import { contextIs, serve, textIs } from './served.js';

const missing = chromiumMissing();
if (missing && process.env.CI === 'true') throw new Error(`browser tests need Chromium: ${missing}`);

let browser: Browser;
before(async () => {
  if (!missing) browser = await launch();
});
after(async () => {
  await browser?.close();
});

const policy = { ...studioPolicy, pingIntervalMs: 0 } as unknown as Json;

test('an offline daemon without apps: the empty inspector says what would appear and how to make it appear', { skip: missing ?? false }, async () => {
  const dir = tempDir('reagent-ux-empty-');
  const daemon = serve(['-offline', '-nmw=false', '-agentDir', join(dir, 'agent'), '-inspect=127.0.0.1:0'], cleanEnv(dir));
  try {
    const url = await daemon.url();
    const page = await browser.context.newPage();
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#empty:not([hidden])');
    assert.equal(await page.locator('#charts .card').count(), 0, 'this daemon runs no actor');
    const text = (await page.locator('#empty').textContent()) ?? '';
    assert.match(text, /No actors yet/);
    assert.match(text, /without links \(-offline\) and without apps/);
    // A row per machine of this agent: what it would show, and what starts it.
    const machines = await page.$$eval('#empty tr td.mono', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(machines, builtinMachines().list().map((d) => d.name).sort());
    assert.match(text, /deploy an app from IronFlock studio/);
    assert.match(text, /-config device\.flock/);
    assert.match(text, /HOOP_KEY/);
    assert.match(text, /reagent exec AGENT -- /);
    assert.match((await page.locator('#list-empty').textContent()) ?? '', /No events yet/);
    assert.equal(await page.locator('#tree-none').isVisible(), true);
    // Nothing on screen for a legend to explain yet: it does not cover the explanation.
    assert.equal(await page.locator('#legend').isHidden(), true);
    await page.screenshot({ path: screenshotPath('inspector-empty-offline') });
    await page.close();
  } finally {
    assert.equal(await daemon.stop('SIGTERM'), 0, daemon.err());
    rmSync(dir, { recursive: true, force: true });
  }
});

test('live: the empty view gives way to the first actor, and cards reorder as another actor becomes the busiest', { skip: missing ?? false }, async () => {
  const registry = builtinMachines();
  const system = new ActorSystem<LooseCatalog>({ journal: new MemoryJournal(), clock: new ManualClock(1_700_000_000_000), registry, random: () => 0.5, run: 'live' });
  const inspector = await startLiveInspector({ system, registry, run: 'live', agentVersion: 'test', address: '127.0.0.1:0' });
  try {
    const page = await browser.context.newPage();
    await page.goto(inspector.url);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#empty:not([hidden])');

    system.spawn('early', 'connection', { link: 'net', policy });
    for (let i = 0; i < 3; i++) system.send('early', 'net', i % 2 ? 'STOP' : 'START');
    await page.waitForSelector('.card[data-actor="early"]');
    await page.waitForSelector('#empty[hidden]', { state: 'attached' });
    await page.waitForSelector('#legend:not([hidden])');
    system.spawn('late', 'connection', { link: 'net', policy });
    await page.waitForSelector('.card[data-actor="late"]');
    await page.waitForFunction(() => (globalThis as any).document.querySelector('.card[data-actor="early"]').dataset.rank === '0');
    for (let i = 0; i < 8; i++) system.send('late', 'net', i % 2 ? 'STOP' : 'START');
    await page.waitForFunction(() => (globalThis as any).document.querySelector('.card[data-actor="late"]').dataset.rank === '0');
    const top = (id: string) => page.locator(`.card[data-actor="${id}"]`).evaluate((c) => (c as any).getBoundingClientRect().top as number);
    assert.ok((await top('late')) < (await top('early')), 'the busiest actor is drawn first');
    await page.close();
  } finally {
    await inspector.close();
    system.close();
  }
});

test('live time travel: a past event shows the context the actor had then (redacted), within the bound kept; before it, and before the inspector started, it says why not', { skip: missing ?? false }, async () => {
  const registry = builtinMachines();
  const journal = new MemoryJournal();
  const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(1_700_000_000_000), registry, random: () => 0.5, run: 'live' });
  // Two events before the inspector starts: read from the journal, without contexts.
  system.spawn('studio', 'connection', { link: 'net', policy });
  system.send('studio', 'net', 'START');
  const redactor = new Redactor();
  redactor.addSecret('hunter2-secret');
  const inspector = await startLiveInspector({
    system,
    registry,
    run: 'live',
    agentVersion: 'test',
    address: '127.0.0.1:0',
    history: () => journal.records,
    scrub: (v) => redactor.scrub(v),
    contextBudget: { maxChanges: 4 },
  });
  try {
    // Every live event changes studio's context; what it was after each, as the system saw it.
    const seen: Array<{ row: number; context: unknown }> = [];
    const send = (type: string, payload: { [k: string]: Json } = {}) => {
      system.send('studio', 'net', type, payload);
      seen.push({ row: journal.records.length - 1, context: JSON.parse(JSON.stringify((system.snapshot('studio') as { context: unknown }).context)) });
    };
    for (let i = 1; i <= 4; i++) {
      send('CONNECT_FAILED', { reason: `refused-${i} by hunter2-secret` });
      send('STOP');
      send('START');
    }
    const last = seen.at(-1)!;
    const redacted = (c: unknown) => redactor.scrub(c);

    const page = await browser.context.newPage();
    await page.goto(inspector.url);
    await page.waitForSelector('body[data-ready="true"]');
    await textIs(page, '#count', `${journal.records.length} event(s)`);
    await page.click('#legend-close');
    await page.click('#tree .actor[title="studio"]');
    await contextIs(page, redacted(last.context));

    // Within the bound: the last four superseded contexts and the current one.
    const kept = seen.slice(-5);
    const pastFailure = kept.find((s) => JSON.stringify(s.context).includes('refused-4'))!;
    await page.locator('#slider').fill(String(pastFailure.row));
    await contextIs(page, redacted(pastFailure.context));
    const shown = (await page.locator('#context').textContent()) ?? '';
    assert.match(shown, /refused-4 by \[REDACTED\]/, 'the context passes the redactor');
    assert.ok(!shown.includes('hunter2-secret'));
    await page.screenshot({ path: screenshotPath('inspector-live-context-history') });

    // Past the bound: an older live event has no context any more, and the page says why.
    const dropped = seen.find((s) => JSON.stringify(s.context).includes('refused-1'))!;
    await page.locator('#slider').fill(String(dropped.row));
    await page.waitForSelector('#context-unavailable');
    assert.match((await page.locator('#context-unavailable').textContent()) ?? '', /older than the context history kept: the live inspector keeps the last 4 context changes/);

    // Before the inspector started: rows from the journal, marked as such, with the way to get their contexts.
    await page.locator('#slider').fill('0');
    await page.waitForSelector('#context-unavailable:text-matches("before the inspector started")');
    assert.match((await page.locator('#context-unavailable').textContent()) ?? '', /reagent replay r\.ndjson --inspect/);
    await page.locator('#list').evaluate((el) => (el.scrollTop = 0));
    await page.waitForSelector('#list .row[data-row="0"].history');
    await page.waitForSelector('#list .row[data-row="1"].history');
    assert.equal(await page.locator(`#list .row[data-row="${seen[0]!.row}"].history`).count(), 0, 'live rows are not marked as history');
    await page.close();
  } finally {
    await inspector.close();
    system.close();
  }
});
