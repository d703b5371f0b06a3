// The pieces of the Docker command handler that need no engine: per-app
// lanes, command parsing, engine-event translation, progress thinning, the
// disk verdict, log windows.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SerialLanes } from '../../apps/executors/op-queue.js';
import { dockerCommandOf } from '../../apps/executors/app-commands.js';
import { containerName } from '../../adapters/docker/naming.js';
import { machineEventFor, reconcileRunning } from '../../apps/engine-monitor.js';
import { PullTally, Throttle } from '../../apps/executors/op-progress.js';
import { judgeDisk } from '../../apps/executors/disk-guard.js';
import { boundLines } from '../../adapters/docker/log-window.js';
import type { OurContainer } from '../../adapters/docker/types.js';
import { AppId } from '../../machines/app-id.js';

const tick = () => new Promise((r) => setImmediate(r));

test('lanes: one app runs in order, one at a time; other apps run alongside', async () => {
  const lanes = new SerialLanes<string>();
  const log: string[] = [];
  const gates = new Map<string, () => void>();
  const job = (name: string) => ({
    tag: name,
    run: () => new Promise<void>((resolve) => {
      log.push(`start ${name}`);
      gates.set(name, () => {
        log.push(`end ${name}`);
        resolve();
      });
    }),
    dropped: () => log.push(`dropped ${name}`),
  });
  lanes.enqueue('a', job('a1'));
  lanes.enqueue('a', job('a2'));
  lanes.enqueue('b', job('b1'));
  await tick();
  assert.deepEqual(log, ['start a1', 'start b1']);
  gates.get('a1')!();
  await tick();
  assert.deepEqual(log, ['start a1', 'start b1', 'end a1', 'start a2']);
  gates.get('a2')!();
  gates.get('b1')!();
  await lanes.idle(1000);
  assert.equal(lanes.busy('a') || lanes.busy('b'), false);
});

test('lanes: cancel aborts the running job or drops a waiting one; close drops the rest', async () => {
  const lanes = new SerialLanes<number>();
  const events: string[] = [];
  lanes.enqueue('a', {
    tag: 1,
    run: (signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => {
      events.push(`aborted 1: ${(signal.reason as Error).message}`);
      resolve();
    })),
    dropped: () => events.push('dropped 1'),
  });
  lanes.enqueue('a', { tag: 2, run: async () => void events.push('ran 2'), dropped: (r) => events.push(`dropped 2: ${r}`) });
  lanes.enqueue('a', { tag: 3, run: async () => void events.push('ran 3'), dropped: (r) => events.push(`dropped 3: ${r}`) });
  await tick();
  assert.equal(lanes.cancel('a', (t) => t === 2), 'waiting');
  assert.equal(lanes.cancel('a', (t) => t === 9), 'none');
  assert.equal(lanes.cancel('a', (t) => t === 1), 'running');
  await lanes.idle(1000);
  assert.deepEqual(events, ['dropped 2: canceled', 'aborted 1: canceled', 'ran 3']);
  lanes.close();
  lanes.enqueue('a', { tag: 4, run: async () => void events.push('ran 4'), dropped: (r) => events.push(`dropped 4: ${r}`) });
  assert.equal(events.at(-1), 'dropped 4: shutting down');
});

test('the executors take the app machine\'s docker commands as typed, without parsing them again', () => {
  const app = { appKey: '7', stage: 'PROD' as const, appName: 'web' };
  assert.deepEqual(dockerCommandOf({ type: 'docker.run', ...app, opId: 3, version: '1.0.0' }), { kind: 'op', app, op: 'run', opId: 3, version: '1.0.0' });
  assert.deepEqual(dockerCommandOf({ type: 'docker.uninstall', ...app, opId: 4, version: null }), { kind: 'op', app, op: 'uninstall', opId: 4, version: null });
  assert.deepEqual(dockerCommandOf({ type: 'docker.cancel', ...app, stage: 'DEV', op: 'build', opId: 2 }), { kind: 'cancel', app: { ...app, stage: 'DEV' }, op: 'build', opId: 2 });
  assert.deepEqual(dockerCommandOf({ type: 'docker.prune-old-image', ...app, version: '1.0.0', keep: '2.0.0' }), { kind: 'prune-old-image', app, version: '1.0.0', keep: '2.0.0' });
  // What still guards a Docker call is the engine port's naming, where the name is used.
  assert.throws(() => containerName('PROD', '7', '../x'), /invalid app name/);
});

test('engine events become app machine events; stop and kill say nothing die does not', () => {
  const base = { container: 'prod_7_web', id: 'c1', appKey: '7', stage: 'PROD' as const, appName: 'web', at: 0 };
  assert.deepEqual(machineEventFor({ ...base, kind: 'die', exitCode: 137 }), { actor: 'app:PROD:7', event: { type: 'CONTAINER_DIED', containerId: 'c1', exitCode: 137 } });
  assert.deepEqual(machineEventFor({ ...base, kind: 'start' }), { actor: 'app:PROD:7', event: { type: 'CONTAINER_STARTED', containerId: 'c1' } });
  assert.deepEqual(machineEventFor({ ...base, kind: 'destroy' })?.event.type, 'CONTAINER_GONE');
  assert.deepEqual(machineEventFor({ ...base, kind: 'oom' })?.event.type, 'CONTAINER_OOM');
  assert.deepEqual(machineEventFor({ ...base, kind: 'health', health: 'unhealthy' })?.event, { type: 'HEALTH', containerId: 'c1', status: 'unhealthy' });
  assert.equal(machineEventFor({ ...base, kind: 'kill', signal: '9' }), undefined);
  assert.equal(machineEventFor({ ...base, kind: 'stop' }), undefined);
});

test('after an outage, RUNNING apps learn what happened to their containers meanwhile', () => {
  const c = (name: string, state: OurContainer['state'], exitCode?: number): OurContainer => ({
    id: `id-${name}`, name, appKey: '1', stage: 'PROD', appName: 'x', image: 'i', state, status: '', createdAt: 0, ...(exitCode !== undefined ? { exitCode } : {}),
  });
  const app = (key: string, name: string, state: string, containerId: string | null = null) => ({
    actor: AppId.format('PROD', key), app: { appKey: key, stage: 'PROD' as const, appName: name }, state, containerId,
  });
  const out = reconcileRunning(
    [app('1', 'gone', 'RUNNING', 'old'), app('2', 'died', 'RUNNING'), app('3', 'fine', 'RUNNING'), app('4', 'rest', 'PRESENT')],
    [c('prod_2_died', 'exited', 143), c('prod_3_fine', 'running')],
  );
  assert.deepEqual(out, [
    { actor: 'app:PROD:1', event: { type: 'CONTAINER_GONE', containerId: 'old' } },
    { actor: 'app:PROD:2', event: { type: 'CONTAINER_DIED', containerId: 'id-prod_2_died', exitCode: 143 } },
  ]);
});

test('pull progress: byte counters are summed, not written out; the history gets the milestones', () => {
  const tally = new PullTally();
  const lines = [
    tally.add({ layer: '', status: 'Pulling from apps/web' }),
    tally.add({ layer: 'aaa', status: 'Pulling fs layer' }),
    tally.add({ layer: 'aaa', status: 'Downloading', current: 100, total: 1000 }),
    tally.add({ layer: 'bbb', status: 'Already exists' }),
    tally.add({ layer: 'aaa', status: 'Downloading', current: 600, total: 1000 }),
    tally.add({ layer: 'aaa', status: 'Pull complete' }),
  ].filter((l) => l !== undefined);
  assert.deepEqual(lines, ['Pulling from apps/web', 'bbb: Already exists', 'aaa: Pull complete']);
  assert.deepEqual(tally.summary(), { layers: 2, layersDone: 2, current: 1000, total: 1000 });
  let now = 0;
  const throttle = new Throttle(1000, () => now);
  const fired = [0, 10, 999, 1000, 1500, 2100].map((t) => ((now = t), throttle.ready()));
  assert.deepEqual(fired, [true, false, false, true, false, true]);
});

test('the disk verdict: refuse below the minimum, warn below the warning line, unknown when unreadable', async () => {
  const GiB = 1024 ** 3;
  const t = { warnBytes: 3 * GiB, minBytes: 1 * GiB };
  const free = (n: number) => async () => n;
  assert.equal((await judgeDisk('pulling x', ['/d'], t, free(5 * GiB))).level, 'ok');
  const warn = await judgeDisk('pulling x', ['/d'], t, free(2 * GiB));
  assert.ok(warn.level === 'warn' && /only 2\.0 GiB free on the filesystem of \/d \(warning below 3\.0 GiB\)/.test(warn.message));
  const refuse = await judgeDisk('pulling x', ['/d'], t, free(512 * 1024 ** 2));
  assert.ok(refuse.level === 'refuse' && refuse.message === 'disk: only 512.0 MiB free on the filesystem of /d; pulling x needs at least 1.0 GiB free');
  const unknown = await judgeDisk('pulling x', ['/gone', '/d'], t, async (p) => {
    if (p === '/gone') throw new Error('ENOENT');
    return 5 * GiB;
  });
  assert.equal(unknown.level, 'ok', 'the next path is tried');
  assert.equal((await judgeDisk('x', ['/gone'], t, async () => Promise.reject(new Error('ENOENT')))).level, 'unknown');
});

test('property: a log window keeps the newest lines that fit both bounds, in order', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 30 }), { maxLength: 60 }), fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 600 }), (all, maxLines, maxBytes) => {
      const w = boundLines(all, maxLines, maxBytes);
      assert.deepEqual(w.lines, all.slice(all.length - w.lines.length));
      assert.ok(w.lines.length <= maxLines);
      assert.ok(w.lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0) <= maxBytes);
      assert.equal(w.truncated, w.lines.length < all.length);
    }),
  );
});
