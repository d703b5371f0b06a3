import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { actualState, planBoot, type AppFacts } from '../../apps/boot-plan.js';
import type { AppRequestRow } from '../../apps/projection.js';
import type { OurContainer } from '../../adapters/docker/types.js';
import { APP_STATES, OPERATION_STATES, type AppState } from '../../machines/app-states.js';

function row(appKey: string, stage: 'DEV' | 'PROD', appName: string, target: AppState, state: AppState | null = null): AppRequestRow {
  return { appKey, stage, appName, target, version: '1.0.0', payload: { target, appName }, state, stateVersion: state ? '1.0.0' : null, updatedSeq: 1 };
}

function container(appKey: string, stage: 'DEV' | 'PROD', appName: string, state: OurContainer['state']): OurContainer {
  return { id: `id-${appKey}`, name: `${stage.toLowerCase()}_${appKey}_${appName.toLowerCase()}`, appKey, stage, appName, image: 'x', state, status: '', createdAt: 0 };
}

const NO: AppFacts = { imagePresent: false, archivePresent: false };
const IMAGE: AppFacts = { imagePresent: true, archivePresent: false };

test('actual states from Docker facts, as the Reagent corrects them at boot', () => {
  const prod = { stage: 'PROD' as const, last: 'RUNNING' as const };
  assert.equal(actualState(prod, container('1', 'PROD', 'a', 'running'), IMAGE), 'RUNNING');
  assert.equal(actualState(prod, container('1', 'PROD', 'a', 'exited'), IMAGE), 'PRESENT', 'an exited container (reboot) is not a failure');
  assert.equal(actualState(prod, undefined, IMAGE), 'PRESENT', 'a removed container: the image is still there');
  assert.equal(actualState({ stage: 'PROD', last: 'DOWNLOADING' }, undefined, NO), 'REMOVED', 'a pull interrupted by the reboot');
  assert.equal(actualState({ stage: 'DEV', last: 'BUILT' }, undefined, IMAGE), 'BUILT', 'a DEV build is not redone');
  assert.equal(actualState({ stage: 'DEV', last: 'BUILDING' }, undefined, { imagePresent: false, archivePresent: true }), 'TRANSFERED');
  assert.equal(actualState({ stage: 'PROD', last: 'BUILT' }, undefined, IMAGE), 'PRESENT');
});

test('containers of our naming scheme without a standing request are orphans; the others belong to their app', () => {
  const rows = [row('1', 'PROD', 'alpha', 'RUNNING', 'RUNNING'), row('2', 'DEV', 'beta', 'RUNNING', 'RUNNING')];
  const plan = planBoot(
    rows,
    [container('1', 'PROD', 'alpha', 'exited'), container('2', 'PROD', 'beta', 'running'), container('3', 'PROD', 'ghost', 'running')],
    (r) => (r.appKey === '1' ? IMAGE : NO),
  );
  assert.deepEqual(plan.orphans.map((o) => o.name), ['prod_2_beta', 'prod_3_ghost'], 'same key in the other stage is another app');
  assert.deepEqual(
    plan.apps.map((a) => [a.actorId, a.initial, a.container?.name ?? null]),
    [
      ['app:PROD:1', 'PRESENT', 'prod_1_alpha'],
      ['app:DEV:2', 'REMOVED', null],
    ],
  );
});

test('property: boot never starts an app in an operation state, and every container is either an app\'s or an orphan', () => {
  const state = fc.constantFrom(...APP_STATES);
  const cstate = fc.constantFrom<OurContainer['state']>('created', 'running', 'exited', 'dead', 'paused', 'restarting', 'removing');
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.record({ key: fc.integer({ min: 1, max: 20 }), stage: fc.constantFrom<'DEV' | 'PROD'>('DEV', 'PROD'), last: fc.option(state), target: state }), {
        selector: (r) => `${r.stage}:${r.key}`,
        maxLength: 8,
      }),
      fc.array(fc.record({ key: fc.integer({ min: 1, max: 20 }), stage: fc.constantFrom<'DEV' | 'PROD'>('DEV', 'PROD'), state: cstate }), { maxLength: 8 }),
      fc.boolean(),
      fc.boolean(),
      (rs, cs, imagePresent, archivePresent) => {
        const rows = rs.map((r) => row(String(r.key), r.stage, 'app', r.target, r.last));
        const containers = cs.map((c) => container(String(c.key), c.stage, 'app', c.state));
        const plan = planBoot(rows, containers, () => ({ imagePresent, archivePresent }));
        for (const a of plan.apps) assert.ok(!OPERATION_STATES.has(a.initial), a.initial);
        const owned = plan.apps.filter((a) => a.container).length;
        const matching = containers.filter((c) => rows.some((r) => r.appKey === c.appKey && r.stage === c.stage)).length;
        assert.equal(plan.orphans.length, containers.length - matching);
        assert.ok(owned <= matching);
      },
    ),
  );
});
