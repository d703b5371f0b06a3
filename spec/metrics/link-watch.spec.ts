// A link "works" once its transport is connected AND its on-connect sequence
// (the studio link's `studio:session`) is online: the self-update probation
// and reagent_link_up must not count a bare WAMP session as a working link.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Transition } from '../../actors/system.js';
import { LinkWatch, type LinkStatus } from '../../adapters/metrics/link-watch.js';

function fakeSystem() {
  const listeners = new Set<(t: Transition) => void>();
  let seq = 0;
  return {
    system: {
      subscribe: (l: (t: Transition) => void) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      snapshot: () => undefined,
      actorIds: () => [],
      machineOf: () => undefined,
    },
    emit(actor: string, machine: string, state: unknown) {
      const t: Transition = { seq: ++seq, actor, machine, source: 'test', type: 'X', at: seq, payload: {}, state: JSON.stringify(state), commands: [] };
      for (const l of listeners) l(t);
    },
  };
}

test('the studio link works only once its session is online; the gateway link as soon as it is connected', () => {
  const f = fakeSystem();
  const watch = new LinkWatch(f.system as never, 0);
  const seen: Array<Pick<LinkStatus, 'name' | 'phase' | 'working'>> = [];
  watch.onChange((s) => seen.push({ name: s.name, phase: s.phase, working: s.working }));

  f.emit('studio:session', 'studio-session', 'offline');
  f.emit('studio:connection', 'connection', { connected: 'alive' });
  f.emit('studio:session', 'studio-session', 'registering');
  assert.deepEqual(watch.all().map((s) => [s.name, s.phase, s.working]), [['studio', 'connected', false]]);
  f.emit('studio:session', 'studio-session', { online: 'idle' });
  assert.deepEqual(watch.all().map((s) => [s.name, s.working]), [['studio', true]]);
  assert.deepEqual(seen.at(-1), { name: 'studio', phase: 'connected', working: true }, 'the change is told');

  f.emit('gateway', 'connection', { connected: 'alive' });
  assert.equal(watch.all().find((s) => s.name === 'gateway')!.working, true);

  f.emit('studio:connection', 'connection', 'backoff');
  assert.equal(watch.all().find((s) => s.name === 'studio')!.working, false);
  watch.close();
});
