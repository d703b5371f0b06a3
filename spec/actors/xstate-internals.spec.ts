// actors/system.ts reads one private field of XState: the system's table of
// scheduled events (`system._snapshot._scheduledEvents`), to learn which event
// a delayed transition is about to schedule when XState calls our clock. If an
// XState upgrade renames or reorders it, timers would be journaled under a
// made-up name and replays would silently stop matching. These tests fail
// first, and say where to look.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createActor, createMachine } from 'xstate';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import type { Json } from '../../actors/types.js';
import { MemoryJournal } from '../helpers/memory-journal.js';
import { studioPolicy } from '../helpers/connection-policy.js';

const WHERE = 'actors/system.ts lastScheduled() relies on it; check the new XState scheduler before upgrading';

test('the XState version is the one whose scheduler internals were checked', () => {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve('xstate/package.json'), 'utf8')) as { version: string };
  assert.match(pkg.version, /^5\.33\./, `xstate ${pkg.version} is not 5.33.x: ${WHERE}`);
});

test('when XState calls the clock, the event it schedules is the last entry of system._snapshot._scheduledEvents', () => {
  const machine = createMachine({
    id: 'pin',
    initial: 'waiting',
    states: { waiting: { after: { 1500: 'late' } }, late: { after: { 250: 'waiting' } } },
  });
  const seen: Array<{ ms: number; entry: unknown }> = [];
  let ref: { system: unknown } | undefined;
  const clock = {
    setTimeout: (_fn: () => void, ms: number) => {
      const system = ref?.system as { _snapshot?: { _scheduledEvents?: Record<string, { id: string; event: { type: string } }> } };
      const table = system._snapshot?._scheduledEvents;
      assert.ok(table && typeof table === 'object', `system._snapshot._scheduledEvents is gone: ${WHERE}`);
      const keys = Object.keys(table);
      seen.push({ ms, entry: keys.length ? table[keys[keys.length - 1]!] : undefined });
      return ms;
    },
    clearTimeout: () => {},
  };
  const actor = createActor(machine, { clock });
  ref = actor;
  actor.start();
  assert.equal(seen.length, 1, 'XState should have scheduled exactly one delayed transition');
  const entry = seen[0]!.entry as { id?: unknown; event?: { type?: unknown } } | undefined;
  assert.equal(seen[0]!.ms, 1500);
  assert.equal(typeof entry?.id, 'string', `scheduled entry has no id: ${WHERE}`);
  assert.equal(entry?.event?.type, 'xstate.after.1500.pin.waiting', `scheduled entry's event changed: ${WHERE}`);
  actor.stop();
});

test('a delayed transition is journaled under XState\'s own event name, not a made-up timer name', () => {
  const journal = new MemoryJournal();
  const clock = new ManualClock(0);
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry: builtinMachines(), random: () => 0.5, run: 'r' });
  system.handle('net', () => {});
  system.spawn('a', 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
  system.send('a', 'test', 'START', {});
  clock.advance(10 * 60_000);
  const timers = journal.records.filter((r) => r.source === 'clock');
  assert.ok(timers.length > 0, 'the connection machine should have fired at least one timer in 10 minutes');
  for (const t of timers) {
    assert.match(t.type, /^xstate\.after\./, `timer journaled as "${t.type}": ${WHERE}`);
  }
});
