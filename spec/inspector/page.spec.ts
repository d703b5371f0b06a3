// The inspector page in Debian's Chromium: token, diagrams, live highlight,
// time travel, a 100k-event timeline. Screenshots land in artifacts/screenshots/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { describeReport, replayRecords } from '../../actors/replay.js';
import { builtinMachines } from '../../machines/registry.js';
import type { Json, JournalRecord } from '../../actors/types.js';
import { InspectorSession } from '../../inspector/session.js';
import { startInspectorServer } from '../../inspector/server.js';
import { startLiveInspector } from '../../inspector/live.js';
import { MemoryJournal } from '../helpers/memory-journal.js';
import { studioPolicy } from '../helpers/connection-policy.js';
import type { Page } from 'playwright-core';
import { chromiumMissing, launch, screenshotPath, type Browser } from './browser.js';

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

function recordRun(steps: number, actors = 2): JournalRecord[] {
  const journal = new MemoryJournal();
  const clock = new ManualClock(1_700_000_000_000);
  let s = 17;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry: builtinMachines(), random, run: 'rec' });
  const ids = Array.from({ length: actors }, (_, i) => `link${i}`);
  for (const id of ids) system.spawn(id, 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
  for (let i = 0; i < steps; i++) {
    const id = ids[i % actors]!;
    const r = random();
    if (r < 0.1) system.send(id, 'net', 'START');
    else if (r < 0.35) system.send(id, 'net', 'CONNECTED');
    else if (r < 0.55) system.send(id, 'net', 'PONG');
    else if (r < 0.65) system.send(id, 'net', 'DISCONNECTED', { reason: 'eof' });
    else clock.advance(Math.floor(random() * 4000));
  }
  system.close();
  return journal.records;
}

async function replaySession(records: JournalRecord[]) {
  const registry = builtinMachines();
  const session = new InspectorSession({ mode: 'replay', registry, run: 'rec', agentVersion: 'test', title: 'replay of a test recording' });
  // As `reagent replay --inspect` does it: the verdict, then the walk through every event.
  const report = replayRecords(records, { registry });
  session.replay = { line: describeReport(report), report };
  session.load(records, { registry });
  const server = await startInspectorServer({ session, address: '127.0.0.1:0' });
  return { session, server };
}

/** Waits until the timeline says it holds `n` events (the page updates it after each filter or growth). */
async function countIs(page: Page, n: number): Promise<void> {
  // Runs in the page, whose CSP forbids string eval: a function, typed loosely (no DOM lib here).
  await page.waitForFunction((want) => (globalThis as any).document.querySelector('#count').textContent === `${want} event(s)`, n);
}

const active = (actor: string, state: string) => `.card[data-actor="${actor}"] svg g.state.active[data-state="${state}"]`;

test('the page needs the token: 401 without it, the page with it (and the socket only with the cookie)', { skip: missing ?? false }, async () => {
  const { server } = await replaySession(recordRun(20));
  try {
    const page = await browser.context.newPage();
    const denied = await page.goto(server.origin + '/');
    assert.equal(denied?.status(), 401);
    assert.match(await page.content(), /unauthorized/);
    const wrong = await page.goto(`${server.origin}/?token=${'x'.repeat(server.token.length)}`);
    assert.equal(wrong?.status(), 401);
    for (const path of ['/app.js', '/elk.js', '/style.css']) assert.equal((await fetch(server.origin + path)).status, 401, path);

    const ok = await page.goto(server.url);
    assert.equal(ok?.status(), 200);
    assert.equal(new URL(page.url()).searchParams.get('token'), null, 'the token leaves the address bar');
    await page.waitForSelector('body[data-ready="true"]');
    // The elkjs bundle came from this agent, not from a CDN.
    const scripts = await page.$$eval('script[src]', (s) => s.map((e) => (e as unknown as { src: string }).src));
    assert.ok(scripts.every((src) => src.startsWith(server.origin)), scripts.join(', '));
    await page.close();
  } finally {
    await server.close();
  }
});

test('a connection machine is drawn, and an event arriving live moves the highlight', { skip: missing ?? false }, async () => {
  const registry = builtinMachines();
  const clock = new ManualClock(1_700_000_000_000);
  const system = new ActorSystem<LooseCatalog>({ journal: new MemoryJournal(), clock, registry, random: () => 0.5, run: 'live' });
  system.spawn('studio', 'connection', { link: 'net', policy });
  const inspector = await startLiveInspector({ system, registry, run: 'live', agentVersion: 'test', address: '127.0.0.1:0' });
  try {
    const page = await browser.context.newPage();
    await page.goto(inspector.url);
    await page.waitForSelector('body[data-ready="true"]');
    for (const state of ['idle', 'connecting', 'connected', 'connected.alive', 'connected.awaitingPong', 'backoff']) {
      assert.equal(await page.locator(`.card[data-actor="studio"] svg g.state[data-state="${state}"]`).count(), 1, `state ${state} is drawn`);
    }
    assert.ok((await page.locator('.card[data-actor="studio"] svg g.edge[data-event="START"] text').textContent())?.includes('START'));
    assert.match((await page.locator('.card[data-actor="studio"] svg g.edge[data-delay="connectTimeout"] text').textContent()) ?? '', /after connectTimeout.*\(1250ms\)/);
    await page.waitForSelector(active('studio', 'idle'));

    system.send('studio', 'net', 'START');
    await page.waitForSelector(active('studio', 'connecting'));
    system.send('studio', 'net', 'CONNECTED');
    await page.waitForSelector(active('studio', 'connected.alive'));
    assert.equal(await page.locator(active('studio', 'connected')).count(), 1, 'the parent of an active state is active too');
    assert.equal(await page.locator(active('studio', 'idle')).count(), 0);
    assert.equal(await page.locator('.card[data-actor="studio"] svg g.edge.taken[data-event="CONNECTED"]').count(), 1, 'the transition taken is marked');

    system.spawn('gateway', 'connection', { link: 'grpc', policy });
    await page.waitForSelector(active('gateway', 'idle'));
    await countIs(page, 3);
    await page.screenshot({ path: screenshotPath('inspector-live') });
    await page.close();
  } finally {
    await inspector.close();
    system.close();
  }
});

test('in a replay, the slider and the step buttons move the highlight back and forth in time', { skip: missing ?? false }, async () => {
  const records = recordRun(120);
  const { session, server } = await replaySession(records);
  try {
    const page = await browser.context.newPage();
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]');
    assert.match((await page.locator('#verdict').textContent()) ?? '', /^reproduced: /);
    const last = session.timeline.length - 1;
    const end = session.stateAt(last).find((s) => s.actor === 'link0')!;
    await page.waitForSelector(active('link0', end.active.at(-1)!));

    // Back to the start: right after the spawns, both links are idle.
    await page.locator('#slider').fill('1');
    await page.waitForSelector(active('link0', 'idle'));
    await page.waitForSelector(active('link1', 'idle'));
    assert.match((await page.locator('#cursor').textContent()) ?? '', /^#1 · seq 2 /);

    // Find the first event that changes link0's state, and step onto it.
    const firstChange = session.timeline.query({ actor: 'link0' }, 0, 1000).rows.find((r) => r.row > 1 && r.state !== '"idle"')!;
    await page.locator('#slider').fill(String(firstChange.row - 1));
    await page.waitForSelector(active('link0', 'idle'));
    await page.click('#next');
    const after = session.stateAt(firstChange.row).find((s) => s.actor === 'link0')!;
    await page.waitForSelector(active('link0', after.active.at(-1)!));
    await page.waitForSelector(`#list .row.selected[data-row="${firstChange.row}"]`);
    await page.click('#prev');
    await page.waitForSelector(active('link0', 'idle'));
    await page.screenshot({ path: screenshotPath('inspector-replay') });

    // Clicking an event in the timeline travels there too.
    await page.locator('#f-actor').selectOption('link1');
    await countIs(page, session.timeline.query({ actor: 'link1' }, 0, 1).total);
    const link1Rows = session.timeline.query({ actor: 'link1' }, 0, 5).rows;
    await page.locator('#list').evaluate((el) => (el.scrollTop = 0));
    await page.waitForSelector(`#list .row[data-row="${link1Rows[0]!.row}"]`);
    await page.click(`#list .row[data-row="${link1Rows[0]!.row}"]`);
    await page.waitForSelector(active('link1', 'idle'));
    await page.close();
  } finally {
    await server.close();
  }
});

test('a timeline of 100k events stays usable: the end, a filter, the start', { skip: missing ?? false }, async () => {
  const records = recordRun(65_000, 20);
  assert.ok(records.length >= 100_000, `${records.length} events`);
  const { session, server } = await replaySession(records);
  try {
    const page = await browser.context.newPage();
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    const total = session.timeline.length;
    await countIs(page, total);
    // Opened at the end: the newest event is on screen.
    const lastSeq = session.timeline.get(total - 1)!.seq;
    await page.waitForSelector(`#list .row[data-row="${total - 1}"]`);
    assert.equal(await page.locator(`#list .row[data-row="${total - 1}"] span`).first().textContent(), String(lastSeq));
    // Only what is on screen exists in the DOM.
    assert.ok((await page.locator('#list .row').count()) < 200);

    await page.fill('#f-type', 'DISCONNECTED');
    const disconnected = session.timeline.query({ type: 'DISCONNECTED' }, 0, 1).total;
    await countIs(page, disconnected);
    await page.waitForFunction(() =>
      [...(globalThis as any).document.querySelectorAll('#list .row[data-row]')].every((r: any) => r.children[4].textContent.includes('DISCONNECTED')),
    );

    await page.fill('#f-type', '');
    await countIs(page, total);
    await page.locator('#list').evaluate((el) => (el.scrollTop = 0));
    await page.waitForSelector('#list .row[data-row="0"]');
    await page.screenshot({ path: screenshotPath('inspector-100k') });
    await page.close();
  } finally {
    await server.close();
  }
});
