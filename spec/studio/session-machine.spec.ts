import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ActorSystem } from '../../actors/system.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import { DEFAULT_STUDIO_SESSION_POLICY, type SessionStep, type StudioSessionContext, type StudioSessionInbound } from '../../machines/studio-session.js';
import { planReconciliation } from '../../machines/studio-reconcile.js';
import { APP_STATES, type AppState } from '../../machines/app-states.js';
import type { Command, Json } from '../../actors/types.js';
import { actorId, type PayloadArg } from '../../actors/contracts.js';
import { MemoryJournal } from '../helpers/memory-journal.js';

function harness() {
  const journal = new MemoryJournal();
  const clock = new ManualClock(1_000_000);
  const system = new ActorSystem({ journal, clock, registry: builtinMachines(), random: () => 0.5, run: 'test', replay: false });
  const commands: Command[] = [];
  system.subscribe((t) => commands.push(...t.commands));
  const id = actorId('studio-session', 's');
  system.spawn(id, 'studio-session', { serial: 'SER', policy: { ...DEFAULT_STUDIO_SESSION_POLICY } });
  const send = <T extends StudioSessionInbound['type']>(type: T, ...payload: PayloadArg<StudioSessionInbound, T>) => system.send(id, 'wamp', type, ...payload);
  const state = () => JSON.stringify(system.snapshot('s')!.value);
  const ctx = () => system.snapshot('s')!.context as StudioSessionContext;
  const last = () => commands.at(-1);
  const done = (session: number, step: SessionStep, extra: Record<string, Json> = {}) => send('STEP_DONE', { session, step, ...extra });
  const failed = (session: number, step: SessionStep, retryable = false) => send('STEP_FAILED', { session, step, reason: `${step} broke`, retryable });
  return { system, clock, commands, send, state, ctx, last, done, failed };
}

/** Runs a fresh session through the whole sequence. */
function reachOnline(h: ReturnType<typeof harness>, session = 1): void {
  h.send('SESSION_OPENED', { session, wampSession: 900 + session });
  for (const step of ['guard', 'testament', 'configuring', 'register', 'describe', 'sync', 'connected'] as const) h.done(session, step);
}

test('each session runs guard, testament, CONFIGURING, registration, metadata, sync, CONNECTED in that order, then heartbeats every 30 s', () => {
  const h = harness();
  reachOnline(h);
  assert.deepEqual(
    h.commands.map((c) => (c.type === 'studio.status' ? `status:${String(c.status)}` : c.type)),
    ['studio.guard', 'studio.testament', 'status:CONFIGURING', 'studio.register', 'studio.describe', 'studio.sync', 'status:CONNECTED', 'studio.ready'],
  );
  assert.equal(h.state(), '{"online":"idle"}');
  assert.equal(h.commands.find((c) => c.type === 'studio.testament')?.wampSession, 901);
  h.clock.advance(29_999);
  assert.equal(h.last()?.type, 'studio.ready');
  h.clock.advance(1);
  assert.equal(h.last()?.type, 'studio.heartbeat');
  h.done(1, 'heartbeat');
  h.clock.advance(30_000);
  assert.equal(h.commands.filter((c) => c.type === 'studio.heartbeat').length, 2);
});

test('two heartbeat failures in a row drop the session; one failure between successes does not', () => {
  const h = harness();
  reachOnline(h);
  h.clock.advance(30_000);
  h.failed(1, 'heartbeat');
  assert.equal(h.state(), '{"online":"idle"}');
  h.clock.advance(30_000);
  h.done(1, 'heartbeat');
  h.clock.advance(30_000);
  h.failed(1, 'heartbeat');
  assert.equal(h.state(), '{"online":"idle"}', 'the count restarted after a success');
  h.clock.advance(30_000);
  h.failed(1, 'heartbeat');
  assert.equal(h.state(), '"dropping"');
  assert.deepEqual([h.last()?.type, h.last()?.reason], ['studio.drop', 'heartbeat failed twice in a row: link lost']);
  h.send('SESSION_CLOSED', { session: 1 });
  assert.equal(h.state(), '"offline"');
});

test('the duplicate-serial guard is retried 8 times, 1 s apart; the eighth refusal gives the link up (another device holds the serial)', () => {
  const h = harness();
  h.send('SESSION_OPENED', { session: 1, wampSession: 5 });
  for (let i = 1; i < 8; i++) {
    h.failed(1, 'guard', true);
    assert.equal(h.state(), '"guardWait"');
    h.clock.advance(999);
    assert.equal(h.state(), '"guardWait"', '1 s apart, not sooner');
    h.clock.advance(1);
    assert.equal(h.state(), '"guard"');
  }
  assert.equal(h.commands.filter((c) => c.type === 'studio.guard').length, 8);
  h.failed(1, 'guard', true);
  assert.equal(h.state(), '"duplicate"');
  assert.deepEqual({ ...h.last(), reason: undefined }, { type: 'studio.duplicate', session: 1, serial: 'SER', attempts: 8, reason: undefined });
  assert.match(String(h.last()?.reason), /guard failed/);
  // Nothing but the guard ever went out on this session: no testament, no status, no device API.
  assert.deepEqual([...new Set(h.commands.map((c) => c.type))], ['studio.guard', 'studio.duplicate']);
  h.send('SESSION_CLOSED', { session: 1 });
  assert.equal(h.state(), '"duplicate"', 'the state says why the link ended');
  assert.equal(h.ctx().session, null);
});

test('a guard refused 7 times and then failing otherwise drops the session (backoff, no exit)', () => {
  const h = harness();
  h.send('SESSION_OPENED', { session: 1, wampSession: 5 });
  for (let i = 1; i < 8; i++) {
    h.failed(1, 'guard', true);
    h.clock.advance(1000);
  }
  h.failed(1, 'guard', false);
  assert.equal(h.state(), '"dropping"');
  assert.equal(h.last()?.type, 'studio.drop');
});

test('a guard that succeeds on a retry carries on; a non-retryable guard failure drops at once', () => {
  const h = harness();
  h.send('SESSION_OPENED', { session: 1, wampSession: 5 });
  h.failed(1, 'guard', true);
  h.clock.advance(1000);
  h.done(1, 'guard');
  assert.equal(h.state(), '"testament"');
  const g = harness();
  g.send('SESSION_OPENED', { session: 1, wampSession: 5 });
  g.failed(1, 'guard', false);
  assert.equal(g.state(), '"dropping"');
});

test('optional steps failing are noted and the sequence goes on; a failed registration drops the session', () => {
  const h = harness();
  h.send('SESSION_OPENED', { session: 1, wampSession: 5 });
  h.done(1, 'guard');
  h.failed(1, 'testament');
  h.failed(1, 'configuring');
  assert.equal(h.state(), '"registering"');
  h.failed(1, 'register');
  assert.equal(h.state(), '"dropping"');
  assert.deepEqual(h.ctx().notes, ['testament: testament broke', 'configuring: configuring broke']);
});

test('answers from a session that is gone are ignored; a new session starts the sequence over', () => {
  const h = harness();
  h.send('SESSION_OPENED', { session: 1, wampSession: 5 });
  h.done(1, 'guard');
  h.send('SESSION_CLOSED', { session: 1 });
  assert.equal(h.state(), '"offline"');
  h.done(1, 'testament');
  assert.equal(h.state(), '"offline"');
  h.send('SESSION_OPENED', { session: 2, wampSession: 6 });
  h.done(1, 'guard');
  assert.equal(h.state(), '"guard"', 'a late answer of session 1 does not move session 2');
  h.done(2, 'guard');
  assert.equal(h.state(), '"testament"');
  h.send('SESSION_CLOSED', { session: 1 });
  assert.equal(h.state(), '"testament"', 'closing an old session number changes nothing');
});

const STEPS = ['guard', 'testament', 'configuring', 'register', 'describe', 'sync', 'connected', 'heartbeat'] as const;
const arbEvent = fc.oneof(
  fc.record({ type: fc.constant('SESSION_OPENED'), session: fc.integer({ min: 1, max: 3 }), wampSession: fc.nat() }),
  fc.record({ type: fc.constant('SESSION_CLOSED'), session: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ type: fc.constant('STEP_DONE'), session: fc.integer({ min: 1, max: 3 }), step: fc.constantFrom(...STEPS) }),
  fc.record({ type: fc.constant('STEP_FAILED'), session: fc.integer({ min: 1, max: 3 }), step: fc.constantFrom(...STEPS), reason: fc.string(), retryable: fc.boolean() }),
  fc.record({ type: fc.constant('advance'), ms: fc.integer({ min: 0, max: 40_000 }) }),
);

test('property: any event sequence keeps the machine in a known state, commands name the live session, online only after CONNECTED, give-up only after 8 guard refusals', () => {
  const known = new Set([
    '"offline"', '"guard"', '"guardWait"', '"testament"', '"configuring"', '"registering"', '"describing"', '"syncing"', '"announcing"',
    '{"online":"idle"}', '{"online":"beating"}', '"dropping"', '"duplicate"',
  ]);
  fc.assert(
    fc.property(fc.array(arbEvent, { maxLength: 60 }), (events) => {
      const h = harness();
      for (const e of events) {
        const before = h.commands.length;
        if (e.type === 'advance') h.clock.advance(e.ms);
        else h.send(e.type, e as unknown as Record<string, Json>);
        assert.ok(known.has(h.state()), `unknown state ${h.state()}`);
        const session = h.ctx().session;
        for (const c of h.commands.slice(before)) {
          assert.equal(c.session, session, `${c.type} for session ${String(c.session)} while ${String(session)} is live`);
          if (c.type === 'studio.ready') {
            const prior = h.commands.slice(0, h.commands.indexOf(c)).filter((x) => x.session === session);
            assert.ok(prior.some((x) => x.type === 'studio.status' && x.status === 'CONNECTED'), 'ready only after the CONNECTED status');
          }
          if (c.type === 'studio.duplicate') {
            // The session's commands since it opened: its guards, and nothing else went to the router.
            const opened = h.commands.slice(0, h.commands.indexOf(c)).filter((x) => x.session === session);
            const sinceOpen = opened.slice(opened.map((x) => x.type === 'studio.guard' && x.attempt === 1).lastIndexOf(true));
            assert.deepEqual(sinceOpen.map((x) => x.type), Array(DEFAULT_STUDIO_SESSION_POLICY.guardMaxAttempts).fill('studio.guard'));
          }
        }
        if (h.state() === '"offline"') assert.equal(session, null);
      }
      h.system.close();
    }),
    { numRuns: 300 },
  );
});

test('property: the link gives up exactly when the guard is refused as "already exists" 8 times in a row in one session', () => {
  const outcome = fc.constantFrom('refused' as const, 'failed' as const, 'done' as const);
  fc.assert(
    fc.property(fc.array(fc.oneof({ weight: 6, arbitrary: fc.constant('refused' as const) }, { weight: 1, arbitrary: outcome }), { minLength: 1, maxLength: 12 }), (outcomes) => {
      const h = harness();
      h.send('SESSION_OPENED', { session: 1, wampSession: 5 });
      let expected = '"guard"';
      for (const [i, o] of outcomes.entries()) {
        if (h.state() !== '"guard"') break;
        if (o === 'done') h.done(1, 'guard');
        else h.failed(1, 'guard', o === 'refused');
        const refusedInARow = outcomes.slice(0, i + 1).every((x) => x === 'refused') ? i + 1 : 0;
        expected = o === 'done' ? '"testament"' : o === 'failed' ? '"dropping"' : refusedInARow >= 8 ? '"duplicate"' : '"guardWait"';
        assert.equal(h.state(), expected);
        h.clock.advance(1000);
      }
      const gaveUp = h.commands.some((c) => c.type === 'studio.duplicate');
      assert.equal(gaveUp, expected === '"duplicate"');
      if (gaveUp) assert.equal(h.commands.filter((c) => c.type === 'studio.guard').length, 8);
      h.system.close();
    }),
    { numRuns: 300 },
  );
});

test('reconciliation: the cloud wins for PROD (except DEV workflow targets), DEV apps are never overwritten, the last listing wins', () => {
  const plan = planReconciliation([
    { appKey: 1, stage: 'PROD', targetState: 'RUNNING' as AppState },
    { appKey: 2, stage: 'DEV', targetState: 'RUNNING' as AppState },
    { appKey: 3, stage: 'PROD', targetState: 'BUILT' as AppState },
    { appKey: 1, stage: 'PROD', targetState: 'PRESENT' as AppState },
  ]);
  assert.deepEqual(plan.apply, [{ appKey: 1, stage: 'PROD', targetState: 'PRESENT' }]);
  assert.deepEqual(plan.skipped.map((s) => `${s.appKey}:${s.reason}`).sort(), ['1:listed-again', '2:dev-app', '3:dev-workflow-target']);
  fc.assert(
    fc.property(
      fc.array(fc.record({ appKey: fc.integer({ min: 1, max: 5 }), stage: fc.constantFrom('DEV' as const, 'PROD' as const), targetState: fc.constantFrom(...APP_STATES) })),
      (entries) => {
        const p = planReconciliation(entries);
        assert.equal(p.apply.length + p.skipped.length, entries.length);
        assert.ok(p.apply.every((e) => e.stage === 'PROD' && e.targetState !== 'BUILT' && e.targetState !== 'PUBLISHED'));
        const keys = p.apply.map((e) => e.appKey);
        assert.equal(new Set(keys).size, keys.length, 'one request per app');
      },
    ),
  );
});
