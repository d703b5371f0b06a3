import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActorSystem } from '../../actors/system.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import { backoffBounds } from '../../machines/backoff.js';
import { DEFAULT_APP_POLICY, type AppContext, type AppInbound, type AppPolicy } from '../../machines/app.js';
import { AppId } from '../../machines/app-id.js';
import type { AppState, Stage } from '../../machines/app-states.js';
import type { Command, Json } from '../../actors/types.js';
import type { LooseCatalog, PayloadArg } from '../../actors/contracts.js';
import type { DockerOp } from '../../machines/app-planner.js';
import { MemoryJournal } from '../helpers/memory-journal.js';

const policy: AppPolicy = {
  retry: { initialMs: 10_000, maxMs: 40_000, multiplier: 2, jitter: 0 },
  maxFailures: 4,
  healthyResetMs: 600_000,
  startTimeoutMs: 30_000,
};

const OPS = new Set(['docker.pull', 'docker.build', 'docker.publish', 'docker.run', 'docker.stop', 'docker.remove', 'docker.uninstall']);

function harness(opts: { stage?: Stage; initial?: AppState; version?: string; policy?: AppPolicy; seed?: number } = {}) {
  const journal = new MemoryJournal();
  const clock = new ManualClock(1_000_000);
  let s = opts.seed ?? 1;
  const random = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const system = new ActorSystem({ journal, clock, registry: builtinMachines(), random, run: 'test' });
  const commands: Command[] = [];
  system.subscribe((t) => commands.push(...t.commands));
  const stage = opts.stage ?? 'PROD';
  const id = AppId.format(stage, 'k1');
  const input = { appKey: 'k1', appName: 'sensor', stage, version: opts.version ?? '1.0.0', initial: opts.initial ?? 'REMOVED', policy: opts.policy ?? policy };
  system.spawn(id, 'app', input);
  const snap = () => system.snapshot(id)!;
  const ctx = () => snap().context as AppContext;
  const value = () => JSON.stringify(snap().value);
  const state = () => {
    const v = snap().value as string | Record<string, unknown>;
    return typeof v === 'string' ? v : Object.keys(v)[0]!;
  };
  const send = <T extends AppInbound['type']>(type: T, ...payload: PayloadArg<AppInbound, T>) => system.send(id, 'test', type, ...payload);
  // What only a journal from elsewhere could hold: events the contract refuses to compile.
  const sendOdd = (type: string, payload: Record<string, Json>) => (system as unknown as ActorSystem<LooseCatalog>).send(id, 'test', type, payload);
  const lastOp = () => [...commands].reverse().find((c) => OPS.has(c.type));
  /** Answers the Docker operation in flight the way the adapter would. */
  const ok = () => {
    const c = lastOp()!;
    send('OP_SUCCEEDED', { op: c.type.slice('docker.'.length) as DockerOp, opId: c.opId as number });
  };
  const fail = (reason: string) => {
    const c = lastOp()!;
    send('OP_FAILED', { op: c.type.slice('docker.'.length) as DockerOp, opId: c.opId as number, reason });
  };
  const reports = () => commands.filter((c) => c.type === 'studio.report').map((c) => c.state);
  const outcomes = () =>
    commands
      .filter((c) => c.type === 'apps.request-settled' || c.type === 'apps.request-refused')
      .map((c) => `${String(c.requestId)}:${c.type === 'apps.request-refused' ? 'refused' : String(c.outcome)}`);
  return { journal, clock, system, commands, ctx, value, state, send, sendOdd, ok, fail, lastOp, reports, outcomes, mark: () => commands.length };
}

test('PROD REMOVED → DOWNLOADING → PRESENT → STARTING → RUNNING, with the right commands', () => {
  const h = harness();
  assert.deepEqual(h.reports(), ['REMOVED'], 'the reconciled state is reported at spawn');
  h.send('REQUEST', { target: 'RUNNING', requestId: 'r1' });
  assert.equal(h.value(), '{"DOWNLOADING":"working"}');
  assert.deepEqual(h.lastOp(), { type: 'docker.pull', appKey: 'k1', appName: 'sensor', stage: 'PROD', opId: 1, version: '1.0.0' });
  h.ok();
  assert.equal(h.state(), 'STARTING', 'PRESENT is passed through');
  assert.deepEqual(h.lastOp(), { type: 'docker.run', appKey: 'k1', appName: 'sensor', stage: 'PROD', opId: 2, version: '1.0.0' });
  h.ok();
  assert.equal(h.value(), '{"RUNNING":"steady"}');
  assert.deepEqual(h.reports(), ['REMOVED', 'DOWNLOADING', 'PRESENT', 'STARTING', 'RUNNING']);
  assert.deepEqual(
    h.commands.map((c) => c.type),
    ['studio.report', 'studio.report', 'docker.pull', 'studio.report', 'studio.report', 'docker.run', 'studio.report', 'apps.request-settled'],
  );
  assert.deepEqual(h.commands.at(-1), {
    type: 'apps.request-settled', appKey: 'k1', stage: 'PROD', requestId: 'r1', target: 'RUNNING', state: 'RUNNING', outcome: 'reached',
  });
  assert.equal(h.commands.find((c) => c.type === 'studio.report' && c.state === 'RUNNING')?.requestId, 'r1');
  assert.equal(AppId.format('PROD', 'k1'), 'app:PROD:k1');
});

test('an app without an image installs the requested version; an installed one keeps its own until an update', () => {
  const h = harness({ initial: 'REMOVED', version: '1.0.0' });
  h.send('REQUEST', { target: 'PRESENT', version: '2.0.0' });
  assert.equal(h.lastOp()?.version, '2.0.0');
  h.ok();
  assert.equal(h.ctx().version, '2.0.0');
  h.send('REQUEST', { target: 'RUNNING', version: '3.0.0' });
  assert.equal(h.lastOp()?.version, '2.0.0', 'a version change goes through request_update');
});

test('RUNNING → STOPPING → PRESENT → DELETING → REMOVED', () => {
  const h = harness({ initial: 'RUNNING' });
  h.send('REQUEST', { target: 'PRESENT', requestId: 'stop' });
  assert.equal(h.state(), 'STOPPING');
  assert.equal(h.lastOp()?.type, 'docker.stop');
  h.ok();
  assert.equal(h.state(), 'PRESENT');
  h.send('REQUEST', { target: 'REMOVED', requestId: 'rm' });
  assert.equal(h.state(), 'DELETING');
  assert.equal(h.lastOp()?.type, 'docker.remove');
  h.ok();
  assert.equal(h.state(), 'REMOVED');
  assert.equal(h.ctx().version, null, 'no image, no installed version');
  assert.deepEqual(h.reports(), ['RUNNING', 'STOPPING', 'PRESENT', 'DELETING', 'REMOVED']);
  assert.deepEqual(h.outcomes(), ['stop:reached', 'rm:reached']);
  h.send('REQUEST', { target: 'UNINSTALLED', requestId: 'un' });
  assert.equal(h.state(), 'DELETING');
  assert.equal(h.lastOp()?.type, 'docker.uninstall');
  h.ok();
  assert.equal(h.state(), 'UNINSTALLED');
});

test('requests mid-transition are queued, latest wins, and applied when the transition ends', () => {
  const h = harness({ initial: 'PRESENT' });
  h.send('REQUEST', { target: 'RUNNING', requestId: 'r1' });
  assert.equal(h.state(), 'STARTING');
  h.send('REQUEST', { target: 'REMOVED', requestId: 'r2' });
  h.send('REQUEST', { target: 'PRESENT', requestId: 'r3' });
  assert.equal(h.state(), 'STARTING', 'STARTING is not cancelable: it finishes first');
  assert.equal(h.ctx().pending?.requestId, 'r3');
  assert.deepEqual(h.outcomes(), ['r2:superseded']);
  h.ok();
  assert.equal(h.state(), 'STOPPING', 'RUNNING is reached, then the queued request takes over');
  assert.deepEqual(h.outcomes(), ['r2:superseded', 'r1:reached']);
  h.ok();
  assert.equal(h.state(), 'PRESENT');
  assert.deepEqual(h.outcomes(), ['r2:superseded', 'r1:reached', 'r3:reached']);
  assert.ok(!h.commands.some((c) => c.type === 'docker.remove'), 'the superseded request never ran');
  assert.equal(h.ctx().pending, null);
});

test('a teardown cancels DOWNLOADING; a pull that won the race lands in PRESENT and is removed', () => {
  const h = harness();
  h.send('REQUEST', { target: 'RUNNING', requestId: 'r1' });
  const pull = h.lastOp()!;
  h.send('REQUEST', { target: 'REMOVED', requestId: 'r2' });
  assert.equal(h.value(), '{"DOWNLOADING":"canceling"}');
  assert.deepEqual(h.commands.at(-1), { type: 'docker.cancel', appKey: 'k1', appName: 'sensor', stage: 'PROD', op: 'pull', opId: pull.opId });
  h.send('OP_FAILED', { op: 'pull', opId: pull.opId as number, reason: 'canceled' });
  assert.equal(h.state(), 'REMOVED');
  assert.equal(h.ctx().failures, 0, 'a cancel is not a failure');
  assert.deepEqual(h.outcomes(), ['r1:superseded', 'r2:reached']);
  assert.match(String(h.commands.findLast((c) => c.type === 'studio.report')?.reason), /DOWNLOADING canceled/);

  const race = harness();
  race.send('REQUEST', { target: 'PRESENT', requestId: 'a' });
  race.send('REQUEST', { target: 'UNINSTALLED', cancel: true, requestId: 'b' });
  race.ok();
  assert.equal(race.state(), 'DELETING', 'the pull finished before the cancel: the image is removed');
  assert.equal(race.lastOp()?.type, 'docker.uninstall');
  race.ok();
  assert.equal(race.state(), 'UNINSTALLED');
  assert.deepEqual(race.outcomes(), ['a:reached', 'b:reached']);
});

test('the update path: UPDATING (old container out, newest pulled) → PRESENT → back to RUNNING; the old image is pruned', () => {
  const h = harness({ initial: 'RUNNING', version: '1.0.0' });
  h.send('REQUEST', { target: 'RUNNING', version: '1.0.0', newestVersion: '2.0.0', requestUpdate: true, requestId: 'u' });
  assert.equal(h.state(), 'UPDATING');
  assert.deepEqual([h.lastOp()?.type, h.lastOp()?.version], ['docker.stop', '1.0.0']);
  h.ok();
  assert.equal(h.state(), 'UPDATING');
  assert.deepEqual([h.lastOp()?.type, h.lastOp()?.version], ['docker.pull', '2.0.0']);
  h.ok();
  assert.equal(h.state(), 'STARTING');
  assert.deepEqual(h.commands.find((c) => c.type === 'docker.prune-old-image'), {
    type: 'docker.prune-old-image', appKey: 'k1', appName: 'sensor', stage: 'PROD', version: '1.0.0', keep: '2.0.0',
  });
  assert.deepEqual([h.lastOp()?.type, h.lastOp()?.version], ['docker.run', '2.0.0']);
  h.ok();
  assert.equal(h.state(), 'RUNNING');
  assert.equal(h.ctx().version, '2.0.0');
  assert.deepEqual(h.reports(), ['RUNNING', 'UPDATING', 'PRESENT', 'STARTING', 'RUNNING']);
  assert.deepEqual(
    h.commands.filter((c) => c.type === 'studio.report').map((c) => c.version),
    ['1.0.0', '1.0.0', '2.0.0', '2.0.0', '2.0.0'],
  );
  // The same request again (a reconnect re-sync) changes nothing: the version matches now.
  h.send('REQUEST', { target: 'RUNNING', version: '1.0.0', newestVersion: '2.0.0', requestUpdate: true, resync: true });
  assert.equal(h.state(), 'RUNNING');
});

test('a request for PRESENT cancels an update midway; the app keeps its old version', () => {
  const h = harness({ initial: 'RUNNING', version: '1.0.0' });
  h.send('REQUEST', { target: 'RUNNING', newestVersion: '2.0.0', requestUpdate: true, requestId: 'u' });
  h.ok(); // the old container is gone; the pull of 2.0.0 is in flight
  h.send('REQUEST', { target: 'PRESENT', requestId: 'p' });
  assert.equal(h.value(), '{"UPDATING":"canceling"}');
  assert.equal(h.commands.at(-1)?.type, 'docker.cancel');
  h.fail('canceled');
  assert.equal(h.state(), 'PRESENT');
  assert.equal(h.ctx().version, '1.0.0');
  assert.ok(!h.commands.some((c) => c.type === 'docker.prune-old-image'));
  assert.deepEqual(h.outcomes(), ['u:superseded', 'p:reached']);
});

test('crash loop: exponential backoff 10, 20, 40 s (capped), then a terminal FAILED with lastError until a new request', () => {
  const h = harness({ initial: 'PRESENT' });
  h.send('REQUEST', { target: 'RUNNING', requestId: 'r1' });
  h.ok();
  const delays: number[] = [];
  for (let n = 1; n <= policy.maxFailures; n++) {
    if (n === policy.maxFailures) h.send('CONTAINER_OOM');
    h.send('CONTAINER_DIED', { exitCode: 137 });
    assert.equal(h.state(), 'FAILED');
    assert.equal(h.ctx().failures, n);
    if (n === policy.maxFailures) break;
    assert.equal(h.value(), '{"FAILED":"backoff"}');
    delays.push(h.ctx().retryDelayMs);
    h.clock.advance(h.ctx().retryDelayMs - 1);
    assert.equal(h.state(), 'FAILED', 'not a millisecond early');
    h.clock.advance(1);
    assert.equal(h.state(), 'STARTING', 'a crash restarts directly: the image is there');
    h.ok();
    assert.equal(h.state(), 'RUNNING');
  }
  assert.deepEqual(delays, [10_000, 20_000, 40_000]);
  assert.equal(h.value(), '{"FAILED":"halted"}');
  assert.equal(h.ctx().lastError, 'container exited with code 137 (out of memory)');
  assert.equal(h.clock.nextDue(), undefined, 'terminal: no retry pending');
  h.clock.advance(24 * 3_600_000);
  assert.equal(h.state(), 'FAILED');
  assert.equal(h.commands.findLast((c) => c.type === 'studio.report')?.reason, 'container exited with code 137 (out of memory)');
  // A reconnect re-sync of the same request does not leave terminal FAILED; a new request does.
  h.send('REQUEST', { target: 'RUNNING', resync: true, requestId: 'sync' });
  assert.equal(h.value(), '{"FAILED":"halted"}');
  h.send('REQUEST', { target: 'RUNNING', requestId: 'r2' });
  assert.equal(h.state(), 'STARTING');
  assert.equal(h.ctx().failures, 0);
  assert.deepEqual(h.outcomes(), ['r1:reached', 'sync:unchanged']);
});

test('crash-loop delays are jittered down, never above the un-jittered value', () => {
  const jittered = { ...policy, retry: DEFAULT_APP_POLICY.retry, maxFailures: 30 };
  for (let seed = 1; seed <= 20; seed++) {
    const h = harness({ initial: 'RUNNING', policy: jittered, seed });
    for (let n = 1; n <= 8; n++) {
      h.send('CONTAINER_DIED', { exitCode: 1 });
      const d = h.ctx().retryDelayMs;
      const raw = Math.min(300_000, 10_000 * 2 ** (n - 1));
      assert.ok(d <= raw && d >= Math.floor(raw * 0.8), `failure ${n}: ${d} not in [0.8, 1] × ${raw}`);
      assert.ok(d >= backoffBounds(jittered.retry).min);
      h.clock.advance(d);
      h.ok();
    }
  }
});

test('the failure count resets after healthyResetMs of healthy running; unhealthy time does not count', () => {
  const h = harness({ initial: 'RUNNING' });
  h.send('CONTAINER_DIED', { exitCode: 1 });
  h.clock.advance(10_000);
  h.ok();
  assert.equal(h.value(), '{"RUNNING":"proving"}');
  h.clock.advance(300_000);
  h.send('HEALTH', { status: 'unhealthy' });
  assert.equal(h.value(), '{"RUNNING":"unhealthy"}');
  h.clock.advance(600_000);
  assert.equal(h.ctx().failures, 1, 'no reset while unhealthy');
  h.send('HEALTH', { status: 'healthy' });
  h.clock.advance(600_000 - 1);
  assert.equal(h.ctx().failures, 1);
  h.clock.advance(1);
  assert.equal(h.ctx().failures, 0);
  assert.equal(h.value(), '{"RUNNING":"steady"}');
  h.send('CONTAINER_DIED', { exitCode: 1 });
  assert.equal(h.ctx().retryDelayMs, 10_000, 'the next crash starts the backoff from the beginning');
});

test('ENGINE_DOWN mid-transition shows the waiting substate, ignores the lost operation, and resumes on ENGINE_UP', () => {
  const h = harness();
  h.send('REQUEST', { target: 'RUNNING', requestId: 'r1' });
  const lost = h.lastOp()!;
  h.send('ENGINE_DOWN', { reason: 'docker.sock: connection refused' });
  assert.equal(h.value(), '{"DOWNLOADING":"waitingForEngine"}');
  assert.equal(h.ctx().engineAvailable, false);
  h.send('OP_FAILED', { op: 'pull', opId: lost.opId as number, reason: 'EOF' });
  assert.equal(h.value(), '{"DOWNLOADING":"waitingForEngine"}', 'a failure caused by the engine is not the app’s');
  assert.equal(h.ctx().failures, 0);
  const before = h.mark();
  h.send('ENGINE_UP');
  assert.equal(h.value(), '{"DOWNLOADING":"working"}');
  const again = h.lastOp()!;
  assert.equal(again.type, 'docker.pull');
  assert.ok((again.opId as number) > (lost.opId as number));
  assert.deepEqual(h.commands.slice(before).map((c) => c.type), ['docker.pull'], 'no new report: still DOWNLOADING');
  h.send('OP_SUCCEEDED', { op: 'pull', opId: lost.opId as number });
  assert.equal(h.state(), 'DOWNLOADING', 'a result for the lost command is ignored');
  h.ok();
  assert.equal(h.state(), 'STARTING');

  // A request at rest while Docker is away starts by waiting, without a command.
  const idle = harness({ initial: 'PRESENT' });
  idle.send('ENGINE_DOWN');
  idle.send('REQUEST', { target: 'RUNNING' });
  assert.equal(idle.value(), '{"STARTING":"waitingForEngine"}');
  assert.equal(idle.lastOp(), undefined);
  idle.clock.advance(3_600_000);
  assert.equal(idle.state(), 'STARTING', 'the start timeout only runs while Docker is there');
  idle.send('ENGINE_UP');
  assert.equal(idle.lastOp()?.type, 'docker.run');
});

test('STARTING that takes longer than startTimeoutMs is a failure', () => {
  const h = harness({ initial: 'PRESENT' });
  h.send('REQUEST', { target: 'RUNNING' });
  h.clock.advance(policy.startTimeoutMs);
  assert.equal(h.state(), 'FAILED');
  assert.equal(h.ctx().lastError, 'the container did not start in time');
  assert.equal(h.ctx().failedIn, 'STARTING');
});

test('late facts about a replaced container do not fail the new one', () => {
  const h = harness({ initial: 'RUNNING' });
  h.send('CONTAINER_DIED', { exitCode: 1 });
  h.clock.advance(10_000);
  const run = h.lastOp()!;
  h.send('OP_SUCCEEDED', { op: 'run', opId: run.opId as number, containerId: 'new' });
  h.send('CONTAINER_GONE', { containerId: 'old' });
  h.send('CONTAINER_DIED', { exitCode: 137, containerId: 'old' });
  assert.equal(h.state(), 'RUNNING');
  h.send('CONTAINER_DIED', { exitCode: 2, containerId: 'new' });
  assert.equal(h.ctx().lastError, 'container exited with code 2');
  h.clock.advance(20_000);
  h.ok(); // an adapter that does not name the container: its facts all count again
  h.send('CONTAINER_DIED', { exitCode: 3, containerId: 'newer' });
  assert.equal(h.ctx().lastError, 'container exited with code 3');
});

test('a CONTAINER_STARTED event also ends STARTING', () => {
  const h = harness({ initial: 'PRESENT' });
  h.send('REQUEST', { target: 'RUNNING' });
  h.send('CONTAINER_STARTED');
  assert.equal(h.state(), 'RUNNING');
  h.ok();
  assert.equal(h.state(), 'RUNNING', 'the late run result is ignored');
});

test('DEV apps go FAILED without retry, and the request is settled as failed', () => {
  const h = harness({ stage: 'DEV', initial: 'TRANSFERED' });
  h.send('REQUEST', { target: 'BUILT', requestId: 'b' });
  assert.equal(h.lastOp()?.type, 'docker.build');
  h.fail('Dockerfile: syntax error');
  assert.equal(h.value(), '{"FAILED":"halted"}');
  assert.equal(h.ctx().lastError, 'build failed: Dockerfile: syntax error');
  assert.equal(h.clock.nextDue(), undefined);
  assert.deepEqual(h.outcomes(), ['b:failed']);
  h.send('REQUEST', { target: 'PRESENT', requestId: 'p' });
  assert.equal(h.state(), 'BUILDING', 'DEV recovery rebuilds, as the Reagent did');

  const dev = harness({ stage: 'DEV', initial: 'REMOVED' });
  dev.send('REQUEST', { target: 'RUNNING', requestId: 'x' });
  assert.equal(dev.state(), 'REMOVED');
  assert.match(String(dev.commands.at(-1)?.reason), /DEV app has no image/);
  assert.deepEqual(dev.outcomes(), ['x:refused']);
});

test('disk emergency: a RUNNING app is stopped to STOPPED, growing requests are refused, and all resumes when it ends', () => {
  const h = harness({ initial: 'RUNNING' });
  h.send('DISK', { emergency: true });
  assert.equal(h.state(), 'STOPPING');
  h.ok();
  assert.equal(h.state(), 'STOPPED');
  assert.match(String(h.commands.findLast((c) => c.type === 'studio.report')?.reason), /disk emergency/);
  h.send('REQUEST', { target: 'RUNNING', requestId: 'r' });
  assert.equal(h.state(), 'STOPPED');
  assert.match(String(h.commands.at(-1)?.reason), /disk emergency: run toward RUNNING would grow the disk/);
  assert.equal(h.ctx().refusal?.cause, 'disk');
  h.send('DISK', { emergency: false });
  assert.equal(h.state(), 'STARTING', 'the kept request is re-driven');
  h.ok();
  assert.equal(h.state(), 'RUNNING');
  assert.deepEqual(h.outcomes(), ['r:refused'], 'one outcome per request');

  const pulling = harness();
  pulling.send('REQUEST', { target: 'PRESENT' });
  pulling.send('DISK', { emergency: true });
  assert.equal(pulling.value(), '{"DOWNLOADING":"canceling"}', 'a pull in flight is canceled');
  pulling.fail('canceled');
  assert.equal(pulling.state(), 'REMOVED');
  assert.equal(pulling.ctx().refusal?.cause, 'disk');
});

test('odd payloads never throw: unknown targets are refused, other odd values are ignored', () => {
  const h = harness({ initial: 'RUNNING' });
  h.sendOdd('REQUEST', { target: 42, requestId: 7 });
  h.sendOdd('REQUEST', { target: 'SLEEPING' });
  h.sendOdd('REQUEST', {});
  h.sendOdd('REQUEST', { target: 'FAILED', requestId: 'f' });
  h.sendOdd('OP_FAILED', { reason: null });
  h.sendOdd('OP_SUCCEEDED', { op: ['pull'] });
  h.sendOdd('HEALTH', { status: 3 });
  h.sendOdd('DISK', { emergency: 'yes' });
  h.sendOdd('OP_PROGRESS', { op: 'pull', current: 10, total: 100 });
  h.sendOdd('NOT_AN_EVENT', { x: 1 });
  assert.equal(h.system.snapshot(AppId.format('PROD', 'k1'))!.status, 'active');
  assert.equal(h.value(), '{"RUNNING":"steady"}');
  assert.deepEqual(h.outcomes(), ['7:refused', 'null:refused', 'null:refused', 'f:refused']);
  h.sendOdd('CONTAINER_DIED', { exitCode: 'x' });
  assert.equal(h.ctx().lastError, 'container exited with code unknown');
});

test('boot: a transient initial state is an interrupted operation (FAILED); a reconciled state is reported as is', () => {
  const h = harness({ initial: 'DOWNLOADING' });
  assert.equal(h.value(), '{"FAILED":"halted"}');
  assert.equal(h.ctx().lastError, 'interrupted while DOWNLOADING');
  h.send('REQUEST', { target: 'RUNNING', resync: true });
  assert.equal(h.state(), 'DOWNLOADING', 'recovery after an interrupted pull pulls again');

  const running = harness({ initial: 'RUNNING' });
  assert.deepEqual(running.reports(), ['RUNNING']);
  running.send('CONTAINER_DIED', { exitCode: 1 });
  assert.equal(running.value(), '{"FAILED":"backoff"}', 'the reconciled state is kept without a request');
});

test('a PROD app that halted FAILED while Docker went away is driven again, with a fresh budget, when the engine is back', () => {
  const h = harness({ initial: 'PRESENT' });
  h.send('REQUEST', { target: 'RUNNING', requestId: 'r1' });
  h.ok();
  // A stopping engine refuses every run: the budget runs out before the event stream notices.
  h.send('CONTAINER_DIED', { exitCode: 0 });
  for (let n = 1; n < policy.maxFailures; n++) {
    h.clock.advance(h.ctx().retryDelayMs);
    assert.equal(h.state(), 'STARTING');
    h.fail('start container: failed to update store for object type *libnetwork.endpoint');
  }
  assert.equal(h.value(), '{"FAILED":"halted"}');
  // An ENGINE_UP without a noted outage (a spurious one) changes nothing.
  h.send('ENGINE_UP');
  assert.equal(h.value(), '{"FAILED":"halted"}');
  h.send('ENGINE_DOWN', { reason: 'event stream failed' });
  assert.equal(h.value(), '{"FAILED":"halted"}');
  h.send('ENGINE_UP');
  assert.equal(h.state(), 'STARTING');
  assert.equal(h.ctx().failures, 0);
  h.ok();
  assert.equal(h.state(), 'RUNNING');
});

test('a DEV app that failed stays FAILED when the engine comes back (DEV apps are never retried on their own)', () => {
  const h = harness({ stage: 'DEV', initial: 'PRESENT' });
  h.send('REQUEST', { target: 'RUNNING', requestId: 'r1' });
  h.fail('no such image');
  assert.equal(h.state(), 'FAILED');
  h.send('ENGINE_DOWN');
  h.send('ENGINE_UP');
  assert.equal(h.state(), 'FAILED');
});
