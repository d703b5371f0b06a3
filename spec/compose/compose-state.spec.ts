// The compose project's state from its containers (machines/compose-state.ts):
// properties over arbitrary container lists, plus the cases the issue names.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { composeState, failedExitCode, failedService, type ComposeContainer } from '../../machines/compose-state.js';

const STATES = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'] as const;
const container: fc.Arbitrary<ComposeContainer> = fc.record(
  { state: fc.constantFrom(...STATES), exitCode: fc.integer({ min: -1, max: 255 }) },
  { requiredKeys: ['state'] },
);

describe('compose state', () => {
  it('the cases of the issue: RUNNING, FAILED on a non-zero exit, PRESENT otherwise, nothing when empty', () => {
    assert.equal(composeState([{ state: 'running' }, { state: 'running' }]), 'RUNNING');
    assert.equal(composeState([{ state: 'running' }, { state: 'exited', exitCode: 3 }]), 'FAILED');
    assert.equal(composeState([{ state: 'running' }, { state: 'exited', exitCode: 0 }]), 'RUNNING');
    assert.equal(composeState([{ state: 'exited', exitCode: 0 }, { state: 'created' }]), 'PRESENT');
    assert.equal(composeState([{ state: 'restarting' }]), 'FAILED');
    assert.equal(composeState([]), null);
    assert.equal(failedExitCode([{ state: 'running' }, { state: 'exited', exitCode: 3 }]), 3);
  });

  it('FAILED exactly when some service failed; else RUNNING exactly when some runs; else PRESENT', () => {
    fc.assert(
      fc.property(fc.array(container, { maxLength: 12 }), (cs) => {
        const s = composeState(cs);
        if (cs.length === 0) return s === null;
        if (cs.some(failedService)) return s === 'FAILED';
        if (cs.some((c) => c.state === 'running')) return s === 'RUNNING';
        return s === 'PRESENT';
      }),
    );
  });

  it('does not depend on the order of the containers', () => {
    fc.assert(
      fc.property(fc.array(container, { maxLength: 12 }), fc.integer(), (cs, seed) => {
        const shuffled = [...cs].sort((a, b) => ((JSON.stringify(a).length * 31 + seed) % 7) - ((JSON.stringify(b).length * 31 + seed) % 7));
        return composeState(shuffled) === composeState(cs);
      }),
    );
  });

  it('a clean exit (0) is never a failure, any other exit code is', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1, max: 255 }), (code) => failedService({ state: 'exited', exitCode: code }) === (code !== 0)),
    );
  });
});
