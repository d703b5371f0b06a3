import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ActorSystem } from '../../actors/system.js';
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
  const system = new ActorSystem({ journal, clock, registry: builtinMachines(), random, run: 'test', replay: false });
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
  | { kind: 'event'; type: 'START' | 'STOP' | 'CONNECTED' | 'PONG' }
  | { kind: 'event'; type: 'CONNECT_FAILED' | 'DISCONNECTED'; reason: string; retryNow: boolean }
  | { kind: 'advance'; ms: number };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  fc.constantFrom('START', 'STOP', 'CONNECTED', 'PONG').map((type) => ({ kind: 'event', type }) as Step),
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
      }
      // Every connect command is answered by at most one connected session at a time.
      const connects = h.commands.filter((c) => c.type === 'net.connect').length;
      assert.ok(h.ctx().sessions <= connects);
    }),
    { numRuns: 300 },
  );
});
