import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import { backoffBounds, backoffDelay } from '../../machines/backoff.js';
import type { ConnectionContext, ConnectionPolicy } from '../../machines/connection.js';
import type { Command, Json } from '../../actors/types.js';
import { MemoryJournal } from '../helpers/memory-journal.js';
import { arbPolicy, studioPolicy } from '../helpers/connection-policy.js';

const LEGAL = new Set(['"idle"', '"connecting"', '"backoff"', '{"connected":"alive"}', '{"connected":"awaitingPong"}']);

function harness(policy: ConnectionPolicy, seed = 1) {
  const journal = new MemoryJournal();
  const clock = new ManualClock(1_000_000);
  let s = seed;
  const random = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry: builtinMachines(), random, run: 'test', replay: false });
  const commands: Command[] = [];
  system.subscribe((t) => commands.push(...t.commands));
  system.spawn('link', 'connection', { link: 'net', policy: policy as unknown as Json });
  const ctx = () => system.snapshot('link')!.context as ConnectionContext;
  const state = () => JSON.stringify(system.snapshot('link')!.value);
  return { journal, clock, system, commands, ctx, state, send: (type: string, payload: Record<string, Json> = {}) => system.send('link', 'net', type, payload) };
}

test('a start dials, a connect goes online, a ping without pong is a dead link within two intervals', () => {
  const h = harness(studioPolicy);
  h.send('START');
  assert.equal(h.state(), '"connecting"');
  assert.deepEqual(h.commands.map((c) => c.type), ['net.connect']);
  h.send('CONNECTED');
  assert.equal(h.state(), '{"connected":"alive"}');
  h.clock.advance(5000);
  assert.equal(h.state(), '{"connected":"awaitingPong"}');
  assert.equal(h.commands.at(-1)?.type, 'net.ping');
  h.send('PONG');
  assert.equal(h.state(), '{"connected":"alive"}');
  // Silence from here: detected after one interval of waiting for the ping plus one for the pong.
  h.clock.advance(2 * 5000 - 1);
  assert.equal(h.state(), '{"connected":"awaitingPong"}');
  h.clock.advance(1);
  assert.equal(h.state(), '"backoff"');
  assert.equal(h.ctx().lastError, 'ping timeout');
  assert.deepEqual(h.commands.slice(-1).map((c) => [c.type, c.reason]), [['net.disconnect', 'ping timeout']]);
});

test('an attempt that does not finish within connectTimeout is abandoned and retried after a backoff', () => {
  const h = harness(studioPolicy);
  h.send('START');
  h.clock.advance(1250);
  assert.equal(h.state(), '"backoff"');
  assert.equal(h.ctx().lastError, 'connect timeout');
  const delay = h.ctx().delayMs;
  assert.ok(delay >= 800 && delay <= 1000, `first delay ${delay} within [800, 1000]`);
  h.clock.advance(delay);
  assert.equal(h.state(), '"connecting"');
  assert.equal(h.ctx().attempt, 2);
});

test('connectTimeout 0 and pingInterval 0 mean no bound and no ping, as in the Reagent', () => {
  const h = harness({ ...studioPolicy, connectTimeoutMs: 0, pingIntervalMs: 0 });
  h.send('START');
  h.clock.advance(3_600_000);
  assert.equal(h.state(), '"connecting"');
  h.send('CONNECTED');
  h.clock.advance(3_600_000);
  assert.equal(h.state(), '{"connected":"alive"}');
  assert.ok(!h.commands.some((c) => c.type === 'net.ping'));
});

test('the backoff grows to its cap and resets after a connection that lived long enough', () => {
  const policy: ConnectionPolicy = { ...studioPolicy, connectTimeoutMs: 0, pingIntervalMs: 0, backoff: { initialMs: 2000, maxMs: 8000, multiplier: 2, jitter: 0 } };
  const h = harness(policy);
  h.send('START');
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    h.send('CONNECT_FAILED', { reason: 'refused' });
    delays.push(h.ctx().delayMs);
    h.clock.advance(h.ctx().delayMs);
  }
  assert.deepEqual(delays, [2000, 4000, 8000, 8000, 8000], 'hoop: 2, 4, 8, 8 ... s');
  h.send('CONNECTED');
  h.clock.advance(60_000);
  h.send('PONG');
  h.send('DISCONNECTED', { reason: 'eof' });
  assert.equal(h.ctx().delayMs, 2000, 'a minute online resets the exponent');
});

test('retryNow reconnects at once (hoop: a Canceled stream)', () => {
  const h = harness(studioPolicy);
  h.send('START');
  h.send('CONNECTED');
  h.send('DISCONNECTED', { reason: 'canceled', retryNow: true });
  assert.equal(h.state(), '"connecting"');
});

test('STOP from anywhere goes idle and leaves no timer behind', () => {
  const h = harness(studioPolicy);
  h.send('START');
  h.send('CONNECT_FAILED', { reason: 'x' });
  h.send('STOP');
  assert.equal(h.state(), '"idle"');
  assert.equal(h.clock.nextDue(), undefined);
});

test('backoffDelay stays within its bounds for any policy, attempt and randomness', () => {
  fc.assert(
    fc.property(arbPolicy, fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (p, attempt, r) => {
      const d = backoffDelay(p.backoff, attempt, r);
      const b = backoffBounds(p.backoff);
      return d >= b.min && d <= b.max;
    }),
  );
});

type Step =
  | { kind: 'event'; type: 'START' | 'STOP' | 'CONNECTED' | 'PONG' | 'ESTABLISHED' }
  | { kind: 'event'; type: 'CONNECT_FAILED' | 'DISCONNECTED'; reason: string; retryNow: boolean }
  | { kind: 'advance'; ms: number };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  fc.constantFrom('START', 'STOP', 'CONNECTED', 'PONG', 'ESTABLISHED').map((type) => ({ kind: 'event', type }) as Step),
  fc
    .record({ type: fc.constantFrom('CONNECT_FAILED', 'DISCONNECTED'), reason: fc.string({ maxLength: 8 }), retryNow: fc.boolean() })
    .map((e) => ({ kind: 'event', ...e }) as Step),
  fc.integer({ min: 0, max: 40_000 }).map((ms) => ({ kind: 'advance', ms }) as Step),
);

test('for any sequence of connect/fail/timeout/close events the machine stays in a legal state with bounded backoff', () => {
  fc.assert(
    fc.property(arbPolicy, fc.array(arbStep, { maxLength: 60 }), fc.integer(), (policy, steps, seed) => {
      const h = harness(policy, seed);
      const bounds = backoffBounds(policy.backoff);
      for (const step of steps) {
        if (step.kind === 'advance') h.clock.advance(step.ms);
        else if (step.type === 'CONNECT_FAILED' || step.type === 'DISCONNECTED') {
          h.send(step.type, { reason: step.reason, retryNow: step.retryNow });
        } else h.send(step.type);
        const snap = h.system.snapshot('link')!;
        assert.equal(snap.status, 'active');
        assert.ok(LEGAL.has(h.state()), `illegal state ${h.state()}`);
        const c = h.ctx();
        assert.ok(c.attempt >= 0);
        if (h.state() === '"backoff"') {
          assert.ok(c.delayMs >= bounds.min && c.delayMs <= bounds.max, `delay ${c.delayMs} outside [${bounds.min}, ${bounds.max}]`);
          const due = h.clock.nextDue();
          assert.ok(due !== undefined, 'a backoff always has a timer that ends it');
        }
        if (h.state() === '"idle"') assert.equal(h.clock.nextDue(), undefined, 'idle holds no timers');
        // ESTABLISHED means something only about the connection it arrived on.
        if (!h.state().includes('connected')) assert.equal(c.established, false, `established while ${h.state()}`);
      }
      // Every connect command is answered by at most one connected session at a time.
      const connects = h.commands.filter((c) => c.type === 'net.connect').length;
      assert.ok(h.ctx().sessions <= connects);
    }),
    { numRuns: 300 },
  );
});

// ---- what resets the backoff (studio: a completed session; gateway: hoop's 60 s) ----

/** One connect attempt and how it ends. */
type Round =
  | { kind: 'fail'; how: 'refused' | 'timeout' }
  | { kind: 'session'; livedMs: number; established: boolean; end: 'closed' | 'pingTimeout' };

const arbRound: fc.Arbitrary<Round> = fc.oneof(
  fc.record({ kind: fc.constant('fail' as const), how: fc.constantFrom('refused' as const, 'timeout' as const) }),
  fc.record({
    kind: fc.constant('session' as const),
    livedMs: fc.integer({ min: 0, max: 120_000 }),
    established: fc.boolean(),
    end: fc.constantFrom('closed' as const, 'pingTimeout' as const),
  }),
);

/** Every delay `backoffDelay` can pick at this exponent (the jitter is drawn by the runtime). */
function delayRange(policy: ConnectionPolicy, level: number): [number, number] {
  const b = policy.backoff;
  const cap = Math.min(b.maxMs, b.initialMs * Math.pow(b.multiplier, level - 1));
  return [Math.round(cap * (1 - b.jitter)), Math.round(cap)];
}

/**
 * Plays the rounds and returns, for each, the delay the machine chose and the
 * exponent the rule says applies: a successful session (under the policy's
 * `resetOn`) starts over at 1, anything else is one more failure in a row.
 */
function playRounds(policy: ConnectionPolicy, rounds: Round[], seed: number): Array<{ round: Round; delay: number; level: number }> {
  const h = harness(policy, seed);
  const out: Array<{ round: Round; delay: number; level: number }> = [];
  let level = 0;
  h.send('START');
  for (const round of rounds) {
    assert.equal(h.state(), '"connecting"');
    let reset = false;
    if (round.kind === 'fail') {
      if (round.how === 'refused' || policy.connectTimeoutMs <= 0) h.send('CONNECT_FAILED', { reason: 'refused' });
      else h.clock.advance(policy.connectTimeoutMs);
    } else {
      h.send('CONNECTED');
      if (round.established) h.send('ESTABLISHED');
      // Alive for livedMs: each ping answered just before it would time out.
      const step = policy.pingIntervalMs > 0 ? 2 * policy.pingIntervalMs - 1 : round.livedMs;
      let lived = 0;
      while (lived < round.livedMs) {
        const d = Math.min(step, round.livedMs - lived);
        h.clock.advance(d);
        lived += d;
        h.send('PONG');
      }
      const pingTimeout = round.end === 'pingTimeout' && policy.pingIntervalMs > 0;
      if (pingTimeout) h.clock.advance(2 * policy.pingIntervalMs);
      else h.send('DISCONNECTED', { reason: 'closed' });
      // 'uptime' reads the age from the event that ended the connection; a timer carries none.
      const uptimeReset = !pingTimeout && round.livedMs >= policy.resetAfterMs;
      reset = (policy.resetOn ?? 'uptime') === 'established' ? round.established : uptimeReset;
    }
    assert.equal(h.state(), '"backoff"');
    level = reset ? 1 : level + 1;
    out.push({ round, delay: h.ctx().delayMs, level });
    h.clock.advance(h.ctx().delayMs);
  }
  h.system.close();
  return out;
}

test('studio policy: the first retry after a session that completed the on-connect sequence comes within 1 s, whatever failed before', async () => {
  const { studioConnectionPolicy, STUDIO_BACKOFF } = await import('../../adapters/wamp/studio-link.js');
  const policy = studioConnectionPolicy({ connTimeoutMs: 1250, ppTimeoutMs: 5000 });
  assert.equal(policy.resetOn, 'established');
  assert.equal(STUDIO_BACKOFF.initialMs, 1000);
  fc.assert(
    fc.property(fc.array(arbRound, { minLength: 1, maxLength: 25 }), fc.integer(), (rounds, seed) => {
      for (const r of playRounds(policy, rounds, seed)) {
        if (r.round.kind === 'session' && r.round.established) {
          assert.ok(r.delay <= 1000 && r.delay >= 700, `first retry after a working session: ${r.delay} ms`);
        }
      }
    }),
    { numRuns: 200 },
  );
});

test('studio policy: failed attempts in a row (sessions that never completed the on-connect sequence included) grow the delay as before, up to the cap', async () => {
  const { studioConnectionPolicy } = await import('../../adapters/wamp/studio-link.js');
  fc.assert(
    fc.property(
      fc.record({ connTimeoutMs: fc.integer({ min: 0, max: 5000 }), ppTimeoutMs: fc.oneof(fc.constant(0), fc.integer({ min: 2000, max: 10_000 })) }),
      fc.array(arbRound, { minLength: 1, maxLength: 20 }),
      fc.integer(),
      (flags, rounds, seed) => {
        const policy = studioConnectionPolicy(flags);
        for (const r of playRounds(policy, rounds, seed)) {
          const [min, max] = delayRange(policy, r.level);
          assert.ok(r.delay >= min && r.delay <= max, `round ${JSON.stringify(r.round)} at exponent ${r.level}: ${r.delay} outside [${min}, ${max}]`);
        }
      },
    ),
    { numRuns: 200 },
  );
  // The doubling itself, jitter aside: 1, 2, 4, 8 s after failures in a row; a long session that never got ESTABLISHED resets nothing.
  const flat = { ...studioConnectionPolicy({ connTimeoutMs: 1000, ppTimeoutMs: 0 }), backoff: { initialMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0 } };
  const delays = playRounds(flat, [
    { kind: 'fail', how: 'refused' },
    { kind: 'fail', how: 'timeout' },
    { kind: 'session', livedMs: 90_000, established: false, end: 'closed' },
    { kind: 'fail', how: 'refused' },
    { kind: 'session', livedMs: 10, established: true, end: 'closed' },
    { kind: 'fail', how: 'refused' },
  ], 1).map((r) => r.delay);
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 1000, 2000]);
});

test('gateway policy unchanged: hoop 2/4/8 s, reset only by a connection that lived 60 s, ESTABLISHED changes nothing', async () => {
  const { GATEWAY_POLICY } = await import('../../adapters/grpc/gateway-link.js');
  assert.equal(GATEWAY_POLICY.resetOn ?? 'uptime', 'uptime');
  assert.deepEqual(GATEWAY_POLICY.backoff, { initialMs: 2000, maxMs: 8000, multiplier: 2, jitter: 0.2 });
  assert.equal(GATEWAY_POLICY.resetAfterMs, 60_000);
  fc.assert(
    fc.property(fc.array(arbRound, { minLength: 1, maxLength: 25 }), fc.integer(), (rounds, seed) => {
      for (const r of playRounds(GATEWAY_POLICY, rounds, seed)) {
        const [min, max] = delayRange(GATEWAY_POLICY, r.level);
        assert.ok(r.delay >= min && r.delay <= max, `round ${JSON.stringify(r.round)} at exponent ${r.level}: ${r.delay} outside [${min}, ${max}]`);
      }
    }),
    { numRuns: 200 },
  );
  const flat: ConnectionPolicy = { ...GATEWAY_POLICY, connectTimeoutMs: 15_000, backoff: { ...GATEWAY_POLICY.backoff, jitter: 0 } };
  const delays = playRounds(flat, [
    { kind: 'fail', how: 'refused' },
    { kind: 'fail', how: 'timeout' },
    { kind: 'session', livedMs: 10, established: true, end: 'closed' },
    { kind: 'fail', how: 'refused' },
    { kind: 'session', livedMs: 60_000, established: false, end: 'closed' },
    { kind: 'fail', how: 'refused' },
  ], 1).map((r) => r.delay);
  assert.deepEqual(delays, [2000, 4000, 8000, 8000, 2000, 4000]);
});
