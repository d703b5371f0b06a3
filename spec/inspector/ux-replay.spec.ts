// The inspector on a recording, in Debian's Chromium, as a person opening it
// the first time meets it: the context shown is the one at the selected
// event, every event can be stepped to, the busiest actor comes first, and
// the legend says what the colours mean (and matches what is drawn).
// Screenshots land in artifacts/screenshots/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { replayRecords } from '../../actors/replay.js';
import { builtinMachines } from '../../machines/registry.js';
import type { Json, JournalRecord } from '../../actors/types.js';
import { openRecording } from '../../adapters/store/recording.js';
import { cleanEnv, tempDir } from '../helpers/cli.js';
import { MemoryJournal } from '../helpers/memory-journal.js';
import { studioPolicy } from '../helpers/connection-policy.js';
import { chromiumMissing, launch, screenshotPath, type Browser } from './browser.js';
import { contextIs, serve, serveReplay, textIs } from './served.js';

const missing = chromiumMissing();
if (missing && process.env.CI === 'true') throw new Error(`browser tests need Chromium: ${missing}`);

let browser: Browser;
before(async () => {
  if (!missing) browser = await launch();
});
after(async () => {
  await browser?.close();
});

const FIXTURE = fileURLToPath(new URL('../fixtures/recordings/connection-flapping.ndjson', import.meta.url));

function readFixture(file: string): JournalRecord[] {
  const rec = openRecording(file);
  try {
    return [...rec.records()];
  } finally {
    rec.close();
  }
}

/** An actor's context right after `seq`, by a fresh replay up to it: the oracle the page is held to. */
function contextAfter(records: readonly JournalRecord[], seq: number, actor: string): Record<string, unknown> {
  let ctx: Record<string, unknown> | undefined;
  const report = replayRecords(records, { registry: builtinMachines(), until: seq, atEnd: (s) => (ctx = (s.snapshot(actor) as { context: Record<string, unknown> } | undefined)?.context) });
  assert.equal(report.verdict, 'reproduced');
  assert.ok(ctx, `${actor} exists after seq ${seq}`);
  return JSON.parse(JSON.stringify(ctx)) as Record<string, unknown>;
}

test('replay --inspect of a fixture: stepping the slider to an early event shows the context at that event, not the latest', { skip: missing ?? false }, async () => {
  const records = readFixture(FIXTURE);
  const last = records.at(-1)!;
  const final = contextAfter(records, last.seq, 'studio');
  // An early event after which studio's retry count differs from where the run ends.
  const row = records.findIndex((r, i) => i > 3 && r.actor === 'studio' && contextAfter(records, r.seq, 'studio')['attempt'] !== final['attempt']);
  assert.ok(row > 0 && row < records.length / 2, `an early row where "attempt" differs from the end (row ${row} of ${records.length})`);
  const early = contextAfter(records, records[row]!.seq, 'studio');
  assert.notEqual(early['attempt'], final['attempt']);

  const dir = tempDir('reagent-ux-replay-');
  const served = serve(['replay', FIXTURE, '--inspect=127.0.0.1:0'], cleanEnv(dir));
  try {
    const url = await served.url();
    assert.match(served.out(), /^reproduced: /);
    const page = await browser.context.newPage();
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]');
    // Opened at the end: the context of the last event's actor at the end.
    await page.click('#tree .actor[title="studio"]');
    await contextIs(page, final);

    await page.locator('#slider').fill(String(row));
    await contextIs(page, early);
    await textIs(page, '#context-title', 'context of studio');
    assert.match((await page.locator('#detail p.hint').first().textContent()) ?? '', new RegExp(`^right after event #${row} \\(seq ${records[row]!.seq}\\)`));
    await page.screenshot({ path: screenshotPath('inspector-context-at-event') });

    // One step on: the next event's context (rebuilt from the previous one).
    await page.click('#next');
    await contextIs(page, contextAfter(records, records[row + 1]!.seq, 'studio'));
    await page.click('#prev');
    await contextIs(page, early);
    await page.click('#last');
    await contextIs(page, final);
    await page.close();
  } finally {
    await served.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Three actors spawned quietest first; the busiest one is spawned last. */
function unevenRecording(): JournalRecord[] {
  const journal = new MemoryJournal();
  const clock = new ManualClock(1_700_000_000_000);
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry: builtinMachines(), random: () => 0.4, run: 'uneven' });
  const policy = { ...studioPolicy, pingIntervalMs: 0 } as unknown as Json;
  for (const id of ['quiet', 'middle', 'busy']) system.spawn(id, 'connection', { link: 'net', policy });
  system.send('quiet', 'net', 'START');
  for (let i = 0; i < 4; i++) system.send('middle', 'net', i % 2 ? 'PONG' : 'START');
  for (let i = 0; i < 12; i++) system.send('busy', 'net', ['START', 'CONNECTED', 'DISCONNECTED'][i % 3]!, i % 3 === 2 ? { reason: 'eof' } : {});
  system.close();
  return journal.records;
}

const cardOrder = (page: import('playwright-core').Page) =>
  page.$$eval('#charts .card', (cards) =>
    cards
      .map((c) => ({ id: (c as any).dataset.actor as string, r: (c as any).getBoundingClientRect() }))
      .sort((a, b) => a.r.top - b.r.top || a.r.left - b.r.left)
      .map((c) => c.id),
  );

test('the first chart shown is the busiest actor, whatever order the actors were spawned in', { skip: missing ?? false }, async () => {
  const replay = await serveReplay(unevenRecording());
  try {
    const page = await browser.context.newPage();
    await page.goto(replay.server.url);
    await page.waitForSelector('body[data-ready="true"]');
    await page.click('#legend-close');
    assert.deepEqual(await cardOrder(page), ['busy', 'middle', 'quiet']);
    const tree = await page.$$eval('#tree .actor', (rows) => rows.map((r) => ({ id: (r as any).title as string, top: (r as any).getBoundingClientRect().top })).sort((a, b) => a.top - b.top).map((r) => r.id));
    assert.deepEqual(tree, ['busy', 'middle', 'quiet'], 'the tree lists them busiest first too');
    await page.screenshot({ path: screenshotPath('inspector-busiest-first') });
    await page.close();
  } finally {
    await replay.close();
  }
});

test('the legend opens on a first visit, explains the highlights and row colours exactly as they are drawn, and stays closed once closed', { skip: missing ?? false }, async () => {
  const records = readFixture(FIXTURE);
  const replay = await serveReplay(records, 'replay of connection-flapping.ndjson');
  try {
    const page = await browser.context.newPage();
    await page.goto(replay.server.url);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#legend:not([hidden])');
    for (const heading of ['Statecharts', 'Timeline']) assert.equal(await page.locator('#legend h3', { hasText: heading }).count(), 1, heading);

    // Travel to an event that changed studio's state, so a transition is marked as taken.
    const changed = replay.session.timeline.query({ actor: 'studio' }, 0, 1000).rows.find((r) => r.row > 5 && r.changed && r.source !== 'runtime')!;
    await page.locator('#slider').fill(String(changed.row));
    await page.waitForSelector('.card[data-actor="studio"] svg g.edge.taken');
    await page.locator('#list').evaluate((el, top) => (el.scrollTop = top), Math.max(0, (changed.row - 3) * 22));

    const style = (selector: string, prop: string) => page.locator(selector).first().evaluate((el, p) => (globalThis as any).getComputedStyle(el)[p] as string, prop);
    // Each swatch is drawn with the very colours of what it explains.
    assert.equal(await style('#legend .lg-active', 'fill'), await style('.card[data-actor="studio"] svg g.state.active:not(.compound) > rect', 'fill'), 'active state');
    assert.equal(await style('#legend .lg-taken', 'stroke'), await style('.card[data-actor="studio"] svg g.edge.taken path', 'stroke'), 'taken transition');
    assert.equal(await style('#legend .lg-state', 'fill'), await style('.card[data-actor="studio"] svg g.state:not(.active):not(.compound) > rect', 'fill'), 'inactive state');
    for (const [kind, row] of [
      ['k-lifecycle', replay.session.timeline.query({ type: '@runtime.spawn' }, 0, 1).rows[0]!],
      ['k-timer', replay.session.timeline.query({ source: 'clock' }, 0, 1).rows[0]!],
      ['k-input', replay.session.timeline.query({ source: 'net' }, 0, 1).rows[0]!],
    ] as const) {
      await page.locator('#list').evaluate((el, top) => (el.scrollTop = top), Math.max(0, (row.row - 2) * 22));
      await page.waitForSelector(`#list .row[data-row="${row.row}"].${kind}`);
      assert.equal(await style(`#legend .swatch.${kind}`, 'backgroundColor'), await style(`#list .row[data-row="${row.row}"]`, 'borderLeftColor'), kind);
    }
    await page.locator('#list').evaluate((el, top) => (el.scrollTop = top), Math.max(0, (changed.row - 3) * 22));
    await page.waitForSelector(`#list .row[data-row="${changed.row}"] span.changed`);
    assert.equal(await style(`#list .row[data-row="${changed.row}"] span.changed`, 'fontWeight'), '700', 'a state change is bold, as the legend says');
    await page.screenshot({ path: screenshotPath('inspector-legend') });

    await page.click('#legend-close');
    assert.equal(await page.locator('#legend').isHidden(), true);
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.locator('#legend').isHidden(), true, 'closed once, it stays closed');
    await page.click('#legend-toggle');
    await page.waitForSelector('#legend:not([hidden])');
    await page.close();
  } finally {
    await replay.close();
  }
});

test('a recording with an actor of a machine this agent lacks: every event can still be stepped to, the actor on its recorded states', { skip: missing ?? false }, async () => {
  // A machine from some other agent ("ghost") among ours: replay refuses it, the inspector still walks it.
  const ours = unevenRecording();
  const ghost: JournalRecord[] = [
    { seq: 0, run: 'uneven', at: ours[0]!.at, source: 'runtime', actor: 'ghost', type: '@runtime.spawn', payload: { machine: 'ghost', version: 3, input: {} }, rand: 0.1, state: '"haunting"', ctx: 1, cmds: [] },
    { seq: 0, run: 'uneven', at: ours[0]!.at + 5, source: 'net', actor: 'ghost', type: 'BOO', payload: {}, rand: 0.2, state: '"resting"', ctx: 2, cmds: [] },
  ];
  const records = [ours[0]!, ghost[0]!, ...ours.slice(1, 6), ghost[1]!, ...ours.slice(6)].map((r, i) => ({ ...r, seq: i + 1 }));
  const replay = await serveReplay(records);
  assert.equal(replay.report.verdict, 'refused');
  try {
    const page = await browser.context.newPage();
    await page.goto(replay.server.url);
    await page.waitForSelector('body[data-ready="true"]');
    await page.click('#legend-close');
    assert.equal(await page.locator('#slider').getAttribute('max'), String(records.length - 1), 'the slider covers every event');
    await textIs(page, '#count', `${records.length} event(s)`);
    assert.match((await page.locator('.card[data-actor="ghost"] > p.hint').textContent()) ?? '', /recorded states, not re-executed: machine "ghost" is not part of this agent/);
    // Step through all of them, one by one, from the first.
    await page.click('#first');
    for (let row = 0; row < records.length; row++) {
      await page.waitForFunction((r) => ((globalThis as any).document.querySelector('#cursor').textContent as string).startsWith(`#${r} · seq ${r + 1} `), row);
      if (row === 7) {
        // The ghost's recorded state is shown, and its context is said to be unknown rather than made up.
        await page.click('#tree .actor[title="ghost"]');
        await page.waitForSelector('.card[data-actor="ghost"] .value:text("resting")');
        await page.waitForSelector('#context-unavailable:text-matches("recorded states only")');
      }
      if (row < records.length - 1) await page.click('#next');
    }
    await page.close();
  } finally {
    await replay.close();
  }
});
