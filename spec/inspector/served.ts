// The built CLI serving an inspector (`reagent -inspect`, `reagent replay
// FILE --inspect`), as a user starts it: its URL with the token is read from
// stderr; the process is stopped by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Page } from 'playwright-core';
import { describeReport, replayRecords } from '../../actors/replay.js';
import type { JournalRecord } from '../../actors/types.js';
import { builtinMachines } from '../../machines/registry.js';
import { InspectorSession } from '../../inspector/session.js';
import { startInspectorServer } from '../../inspector/server.js';
import { MAIN, requireBuild } from '../helpers/cli.js';

export interface Served {
  child: ChildProcess;
  exit: Promise<number | null>;
  out(): string;
  err(): string;
  url(): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function serve(args: string[], env: NodeJS.ProcessEnv): Served {
  requireBuild();
  const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exit,
    out: () => stdout,
    err: () => stderr,
    async url(): Promise<string> {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const m = /inspector: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(stderr);
        if (m) return m[1]!;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no inspector URL; stdout:\n${stdout}\nstderr:\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGINT') {
      if (child.exitCode === null) child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exit;
      clearTimeout(killer);
      return code;
    },
  };
}

/** Waits until an element's text is exactly `text` (the page's CSP forbids string eval: a function, typed loosely). */
export async function textIs(page: Page, selector: string, text: string, timeout = 15_000): Promise<void> {
  await page.waitForFunction(
    ([sel, want]) => (globalThis as any).document.querySelector(sel)?.textContent === want,
    [selector, text] as const,
    { timeout },
  );
}

/** The context the page shows (parsed), or null while it shows none. */
export async function shownContext(page: Page): Promise<unknown> {
  const text = await page.locator('#context').textContent({ timeout: 15_000 });
  return text === null ? null : (JSON.parse(text) as unknown);
}

/** Waits until the page shows `expected` as the context (deep equality through JSON). */
export async function contextIs(page: Page, expected: unknown, timeout = 15_000): Promise<void> {
  const want = JSON.stringify(expected, null, 2);
  await page.waitForFunction((w) => (globalThis as any).document.querySelector('#context')?.textContent === w, want, { timeout });
}

/**
 * A recording served in this process the way `reagent replay --inspect`
 * serves it: the verdict (which stops at a divergence), then the walk
 * through every event.
 */
export async function serveReplay(records: readonly JournalRecord[], title = 'replay of a test recording') {
  const registry = builtinMachines();
  const session = new InspectorSession({ mode: 'replay', registry, run: records[0]?.run ?? 'none', agentVersion: 'test', title });
  const report = replayRecords(records, { registry });
  session.replay = { line: describeReport(report), report };
  session.load(records, { registry });
  const server = await startInspectorServer({ session, address: '127.0.0.1:0' });
  return {
    session,
    server,
    report,
    async close() {
      await server.close();
      session.close();
    },
  };
}
