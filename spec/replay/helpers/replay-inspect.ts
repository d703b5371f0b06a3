// `reagent replay FILE --inspect` in Chromium, as a developer uses it on a
// bug report: the slider must reach every event, in order. Returns what the
// page held (its HTML and every WebSocket frame it received) for the secret scan.
import assert from 'node:assert/strict';
import type { Browser } from '../../inspector/browser.js';
import { screenshotPath } from '../../inspector/browser.js';
import { serve, textIs } from '../../inspector/served.js';
import { reportText, statelyStream } from './secret-scan.js';

export interface InspectedReplay {
  verdict: string;
  events: number;
  /** The page's HTML at the end and every frame of its /ws socket. */
  pageData: string;
  stately: string;
}

export async function stepEveryEvent(browser: Browser, report: string, env: NodeJS.ProcessEnv, screenshot: string): Promise<InspectedReplay> {
  const lines = reportText(report).trim().split('\n');
  const seqs = lines.slice(1).map((l) => (JSON.parse(l) as { seq: number }).seq);
  const events = seqs.length;
  const replay = serve(['replay', report, '--inspect=127.0.0.1:0'], env);
  try {
    const url = await replay.url();
    const page = await browser.context.newPage();
    const frames: string[] = [];
    page.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(typeof f.payload === 'string' ? f.payload : f.payload.toString('latin1'))));
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]');
    await page.click('#legend-close');
    await textIs(page, '#count', `${events} event(s)`);
    assert.equal(await page.locator('#slider').getAttribute('max'), String(events - 1), 'the slider spans every event');
    await page.click('#first');
    for (let row = 0; row < events; row++) {
      await page.waitForFunction((want) => ((globalThis as any).document.querySelector('#cursor').textContent as string).startsWith(want), `#${row} · seq ${seqs[row]} `);
      if (row < events - 1) await page.click('#next');
    }
    assert.equal(await page.locator('#slider').inputValue(), String(events - 1));
    await page.screenshot({ path: screenshotPath(screenshot) });
    const pageData = (await page.content()) + '\n' + frames.join('\n');
    const stately = await statelyStream(url);
    await page.close();
    return { verdict: replay.out(), events, pageData, stately };
  } finally {
    await replay.stop();
  }
}
