// Model-based tests of the app statechart: fast-check generates what the
// studio, the Docker adapter, the engine and the disk guard could send, in any
// order; the pure planner is the model the machine's every move is held to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ActorSystem, type Transition } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { replayRecords } from '../../actors/replay.js';
import { builtinMachines } from '../../machines/registry.js';
import type { AppContext, AppPolicy, PlannedRun } from '../../machines/app.js';
import { AppId } from '../../machines/app-id.js';
import { planTransition, reached, stepOps } from '../../machines/app-planner.js';
import { APP_STATES, OPERATION_STATES, isAppState, type AppState, type Stage } from '../../machines/app-states.js';
import type { Command, Json, JournalRecord } from '../../actors/types.js';
import { MemoryJournal } from '../helpers/memory-journal.js';

const policy: AppPolicy = {
  retry: { initialMs: 1_000, maxMs: 8_000, multiplier: 2, jitter: 0.5 },
  maxFailures: 3,
  healthyResetMs: 20_000,
  startTimeoutMs: 5_000,
};

type Step =
  | { kind: 'request'; target: Json; version: Json; newestVersion: Json; requestUpdate: boolean; cancel: boolean; resync: boolean }
  /** The adapter answers the last Docker command it got. */
  | { kind: 'answer'; ok: boolean; reason: string }
  /** A late result for an older command. */
  | { kind: 'stale'; ok: boolean; back: number }
  | { kind: 'event'; type: string; payload: Record<string, Json> }
  | { kind: 'advance'; ms: number };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      target: fc.oneof({ weight: 12, arbitrary: fc.constantFrom<Json>(...APP_STATES) }, { weight: 1, arbitrary: fc.constantFrom<Json>('SLEEPING', 7, null) }),
      version: fc.constantFrom<Json>(null, '1.0.0', '2.0.0'),
      newestVersion: fc.constantFrom<Json>(null, '1.0.0', '2.0.0', '3.0.0'),
      requestUpdate: fc.boolean(),
      cancel: fc.boolean(),
      resync: fc.boolean(),
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('answer' as const), ok: fc.boolean(), reason: fc.constantFrom('canceled', 'pull access denied', 'no space') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stale' as const), ok: fc.boolean(), back: fc.integer({ min: 1, max: 4 }) }) },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.constantFrom('ENGINE_DOWN', 'ENGINE_UP', 'CONTAINER_STARTED', 'CONTAINER_OOM', 'CONTAINER_GONE').map((type) => ({ type, payload: {} })),
      fc.integer({ min: 0, max: 255 }).map((exitCode) => ({ type: 'CONTAINER_DIED', payload: { exitCode } })),
      fc.constantFrom('healthy', 'unhealthy').map((status) => ({ type: 'HEALTH', payload: { status } })),
      fc.boolean().map((emergency) => ({ type: 'DISK', payload: { emergency } })),
      fc.constant({ type: 'OP_PROGRESS', payload: { op: 'pull', current: 1, total: 2 } }),
    ).map((e) => ({ kind: 'event' as const, ...e })),
  },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 30_000 }).map((ms) => ({ kind: 'advance' as const, ms })) },
);

const OP_COMMANDS = new Set(['docker.pull', 'docker.build', 'docker.publish', 'docker.run', 'docker.stop', 'docker.remove', 'docker.uninstall']);

function topOf(value: unknown): string {
  return typeof value === 'string' ? value : Object.keys(value as object)[0]!;
}

function subOf(value: unknown): string | null {
  if (typeof value === 'string') return null;
  const inner = Object.values(value as object)[0];
  return typeof inner === 'string' ? inner : null;
}

function planFields(p: PlannedRun) {
  const { input: _input, ...rest } = p;
  return rest;
}

/** The checks every single event must pass; `fail` names the event. */
function checker(system: ActorSystem, id: string) {
  let prevTop: string | undefined;
  let prevSub: string | null = null;
  let prevPlan = 'null';
  return (t: Transition): void => {
    if (t.actor !== id) return;
    const snap = system.snapshot(id)!;
    const ctx = snap.context as AppContext;
    const top = topOf(snap.value);
    const where = `seq ${t.seq} ${t.type} ${JSON.stringify(t.payload)} → ${t.state}`;
    assert.equal(snap.status, 'active', where);
    assert.ok(isAppState(top), `${where}: ${top} is not a wire state`);

    // Every change of the top-level state is reported, in order, and the last report is the state now.
    const reports = t.commands.filter((c) => c.type === 'studio.report').map((c) => c.state as string);
    const seen = prevTop === undefined ? reports : [prevTop, ...reports];
    for (let i = 1; i < seen.length; i++) {
      if (seen[i] === seen[i - 1]) assert.equal(t.type, 'REQUEST', `${where}: ${seen[i]} reported twice in a row`);
    }
    assert.equal(seen.at(-1), top, `${where}: last report ${String(seen.at(-1))}, state ${top}`);

    // A new plan is exactly what the planner says for its recorded input, made where the app was.
    const planJson = JSON.stringify(ctx.plan);
    if (ctx.plan !== null && planJson !== prevPlan) {
      assert.deepEqual(planTransition(ctx.plan.input), planFields(ctx.plan), `${where}: plan differs from the model`);
      assert.equal(ctx.plan.input.requested, ctx.desired?.target, `${where}: planned for another request`);
      const from = ctx.plan.input.current;
      const first = ctx.plan.path[0];
      const pairs = seen.slice(1).map((s, i) => [seen[i], s]);
      assert.ok(pairs.some(([a, b]) => a === from && b === first), `${where}: plan from ${from} to ${first} but reports ${seen.join('>')}`);
    }
    prevPlan = planJson;

    // Docker commands: at most one operation per event, the one the plan's current step names.
    const ops = t.commands.filter((c) => OP_COMMANDS.has(c.type));
    assert.ok(ops.length <= 1, `${where}: ${ops.length} operations at once`);
    for (const c of ops) {
      const op = c.type.slice('docker.'.length);
      assert.ok(OPERATION_STATES.has(top as AppState) && subOf(snap.value) === 'working', `${where}: ${c.type} outside an operation state`);
      assert.ok(ctx.plan !== null && ctx.plan.path[0] === top, `${where}: ${c.type} without a plan for ${top}`);
      assert.equal(ctx.op?.id, c.opId);
      assert.equal(op, stepOps(top as AppState, ctx.plan.path[1])[ctx.op!.index], `${where}: ${op} is not the step's operation`);
      // The previous operation is over: answered by this very event, lost with the engine, or timed out.
      if (prevSub === 'working' || prevSub === 'canceling') {
        assert.ok(['OP_SUCCEEDED', 'OP_FAILED', 'CONTAINER_STARTED'].includes(t.type) || t.source === 'clock', `${where}: a second operation in flight`);
      }
    }
    for (const c of t.commands.filter((c) => c.type === 'docker.cancel')) {
      assert.ok(ctx.cancel !== null, `${where}: cancel without a cancel plan`);
      assert.deepEqual(planTransition(ctx.cancel.input), planFields(ctx.cancel));
      assert.equal(ctx.cancel.transition, 'cancel');
      assert.equal(ctx.cancel.input.current, top);
      assert.equal(c.op, ctx.op?.name);
    }
    if (t.commands.some((c) => c.type === 'docker.prune-old-image')) assert.equal(prevTop, 'UPDATING', `${where}: prune outside an update`);

    // Without an engine no operation goes to Docker (the prune is housekeeping the adapter may defer),
    // and an operation state shows that it waits.
    if (!ctx.engineAvailable) {
      const sent = t.commands.filter((c) => OP_COMMANDS.has(c.type) || c.type === 'docker.cancel');
      assert.deepEqual(sent, [], `${where}: a Docker operation while the engine is down`);
      if (OPERATION_STATES.has(top as AppState)) assert.equal(subOf(snap.value), 'waitingForEngine', where);
    }

    // At rest, nothing is in flight and nothing is lost: the request is met, refused with a reason, or the app failed.
    const restingIdle = !OPERATION_STATES.has(top as AppState) && subOf(snap.value) !== 'backoff';
    if (restingIdle) {
      assert.equal(ctx.pending, null, `${where}: a queued request at rest`);
      assert.equal(ctx.op, null, `${where}: an operation at rest`);
      const d = ctx.desired;
      const accounted =
        d === null || reached(top as AppState, d.target) || ctx.refusal !== null || (top === 'FAILED' && ctx.lastError !== null);
      assert.ok(accounted, `${where}: idle in ${top} while ${d?.target} was asked, with no refusal or error`);
    }
    prevTop = top;
    prevSub = subOf(snap.value);
  };
}

interface Run {
  records: JournalRecord[];
  outcomes: Map<string, string[]>;
  sent: string[];
}

function execute(stage: Stage, initial: AppState, steps: Step[], seed: number): Run {
  const journal = new MemoryJournal();
  const clock = new ManualClock(1_700_000_000_000);
  let s = seed >>> 0;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry: builtinMachines(), random, run: `model-${seed}` });
  const id = AppId.format(stage, 'k');
  const commands: Command[] = [];
  const outcomes = new Map<string, string[]>();
  const sent: string[] = [];
  system.subscribe(checker(system, id));
  system.subscribe((t) => {
    for (const c of t.commands) {
      commands.push(c);
      if (c.type === 'apps.request-settled' || c.type === 'apps.request-refused') {
        const key = String(c.requestId);
        outcomes.set(key, [...(outcomes.get(key) ?? []), c.type === 'apps.request-refused' ? 'refused' : String(c.outcome)]);
      }
    }
  });
  system.spawn(id, 'app', { appKey: 'k', appName: 'app', stage, version: '1.0.0', initial, policy } as unknown as Json);
  const send = (type: string, payload: Record<string, Json>) => system.send(id, 'model', type, payload);
  const opCommands = () => commands.filter((c) => OP_COMMANDS.has(c.type));
  const answer = (c: Command | undefined, ok: boolean, reason: string) => {
    if (!c) return;
    const op = c.type.slice('docker.'.length);
    send(ok ? 'OP_SUCCEEDED' : 'OP_FAILED', ok ? { op, opId: c.opId as number } : { op, opId: c.opId as number, reason });
  };

  for (const step of steps) {
    if (step.kind === 'request') {
      const requestId = `r${sent.length + 1}`;
      sent.push(requestId);
      const { kind: _k, ...payload } = step;
      send('REQUEST', { ...payload, requestId });
    } else if (step.kind === 'answer') answer(opCommands().at(-1), step.ok, step.reason);
    else if (step.kind === 'stale') answer(opCommands().at(-1 - step.back), step.ok, 'late');
    else if (step.kind === 'event') send(step.type, step.payload);
    else clock.advance(step.ms);
  }

  // Drain: Docker comes back and does everything asked of it; timers run out.
  send('ENGINE_UP', {});
  for (let i = 0; i < 200; i++) {
    const snap = system.snapshot(id)!;
    const ctx = snap.context as AppContext;
    if (ctx.op !== null && OPERATION_STATES.has(topOf(snap.value) as AppState)) answer(opCommands().at(-1), true, '');
    else if (!clock.step()) break;
  }
  const snap = system.snapshot(id)!;
  const top = topOf(snap.value) as AppState;
  assert.ok(!OPERATION_STATES.has(top) && subOf(snap.value) !== 'backoff', `drained to ${JSON.stringify(snap.value)}`);
  assert.equal(clock.nextDue(), undefined, 'nothing left to wait for');
  system.close();
  return { records: journal.records, outcomes, sent };
}

const arbRun = fc.record({
  stage: fc.constantFrom<Stage>('PROD', 'DEV'),
  initial: fc.constantFrom<AppState>(...APP_STATES),
  steps: fc.array(arbStep, { minLength: 5, maxLength: 80, size: 'max' }),
  seed: fc.integer(),
});

test('for generated sequences the machine follows the planner, reports every change, and never loses a request', () => {
  fc.assert(
    fc.property(arbRun, ({ stage, initial, steps, seed }) => {
      const run = execute(stage, initial, steps, seed);
      for (const requestId of run.sent) {
        assert.equal(run.outcomes.get(requestId)?.length, 1, `${requestId}: outcomes ${JSON.stringify(run.outcomes.get(requestId))}`);
      }
    }),
    { numRuns: 300 },
  );
});

test('for generated sequences, record then replay reproduces every recorded outcome', () => {
  fc.assert(
    fc.property(arbRun, ({ stage, initial, steps, seed }) => {
      const { records } = execute(stage, initial, steps, seed);
      const report = replayRecords(records, { registry: builtinMachines() });
      assert.equal(report.verdict, 'reproduced', JSON.stringify(report.divergence));
      assert.equal(report.events, records.length);
    }),
    { numRuns: 150 },
  );
});

test('the generated runs reach the interesting corners (a check on the generator, not the machine)', () => {
  const corners = new Map<string, number>();
  const count = (k: string) => corners.set(k, (corners.get(k) ?? 0) + 1);
  fc.assert(
    fc.property(arbRun, ({ stage, initial, steps, seed }) => {
      const { records } = execute(stage, initial, steps, seed);
      for (const r of records) {
        if (r.state?.includes('waitingForEngine')) count('waitingForEngine');
        if (r.state?.includes('canceling')) count('canceling');
        if (r.state?.includes('halted') && r.cmds.includes('studio.report')) count('halted');
        if (r.state?.includes('"STOPPED"')) count('STOPPED');
        if (r.cmds.includes('docker.prune-old-image')) count('update');
        if (r.source === 'clock' && r.state?.includes('STARTING')) count('retry');
      }
    }),
    { numRuns: 300, seed: 42 },
  );
  for (const k of ['waitingForEngine', 'canceling', 'halted', 'STOPPED', 'update', 'retry']) {
    assert.ok((corners.get(k) ?? 0) > 0, `no generated run reached ${k}`);
  }
});
