// `reagent --inspect` and `reagent replay FILE --inspect` as a user runs them
// (the built CLI): the URL with its token is printed once on stderr, never
// logged, and the page and its assets are served from the build too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import { Journal } from '../../adapters/store/journal.js';
import type { Json } from '../../actors/types.js';
import { MAIN, cleanEnv, requireBuild, tempDir } from '../helpers/cli.js';
import { studioPolicy } from '../helpers/connection-policy.js';

function run(args: string[], env: NodeJS.ProcessEnv) {
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
      const deadline = Date.now() + 30_000;
      for (;;) {
        const m = /inspector: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(stderr);
        if (m) return m[1]!;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no inspector URL; stdout:\n${stdout}\nstderr:\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

/** Opens the page the way a browser does: token in, cookie out, then the assets with the cookie. */
async function openPage(url: string): Promise<{ cookie: string; html: string; elk: Response }> {
  const origin = new URL(url).origin;
  assert.equal((await fetch(origin + '/')).status, 401);
  const first = await fetch(url, { redirect: 'manual' });
  assert.equal(first.status, 303);
  const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
  assert.match(first.headers.get('set-cookie')!, /HttpOnly; SameSite=Strict/);
  const page = await fetch(origin + '/', { headers: { cookie } });
  assert.equal(page.status, 200);
  const html = await page.text();
  const elk = await fetch(origin + '/elk.js', { headers: { cookie } });
  assert.equal(elk.status, 200);
  return { cookie, html, elk };
}

test('reagent replay FILE --inspect prints the verdict, then serves the replay until interrupted', async () => {
  const dir = tempDir('reagent-inspect-cli-');
  try {
    const db = join(dir, 'reagent.db');
    const journal = Journal.open({ path: db, logger: { info() {}, warn() {}, error() {} } });
    const registry = builtinMachines();
    journal.appendRun('run-1', 0, 'test', registry.versions());
    const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(1_700_000_000_000), registry, random: () => 0.25, run: 'run-1' });
    system.spawn('studio', 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
    system.send('studio', 'net', 'START');
    system.send('studio', 'net', 'CONNECTED');
    system.close();
    journal.close();

    const r = run(['replay', db, '--inspect=127.0.0.1:0'], cleanEnv(dir));
    const url = await r.url();
    assert.match(r.out(), /^reproduced: 3 events in 1 run\(s\)/);
    const { html, elk } = await openPage(url);
    assert.match(html, /<script src="\/elk\.js"><\/script>/);
    assert.match(await elk.text(), /ELK/);
    assert.equal(r.err().split(url).length, 2, 'the URL is printed exactly once');
    r.child.kill('SIGINT');
    assert.equal(await r.exit, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reagent -inspect runs the daemon with the inspector; its token reaches stderr once and never the log', async () => {
  const dir = tempDir('reagent-inspect-daemon-');
  try {
    const agentDir = join(dir, 'agent');
    const d = run(['-offline', '-agentDir', agentDir, '-inspect=127.0.0.1:0'], cleanEnv(dir));
    const url = await d.url();
    const token = new URL(url).searchParams.get('token')!;
    await openPage(url);
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(new URL('/ws', url).href.replace(/^http/, 'ws').replace(/\?.*$/, ''));
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('error', () => {});
    });
    assert.equal(status, 401, 'no socket without the token or its cookie');
    d.child.kill('SIGTERM');
    assert.equal(await d.exit, 0, d.err());
    const log = readFileSync(join(agentDir, 'reagent.log'), 'utf8');
    assert.match(log, /inspector listening/);
    assert.ok(!log.includes(token), 'the token is not in the log file');
    assert.ok(!d.out().includes(token), 'nor on stdout (where the JSON log goes)');
    assert.equal(d.err().split(token).length, 2, 'printed once, on stderr');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
