import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CANCEL_LANDING,
  DISK_GROWING_STEPS,
  planTransition,
  reached,
  stepOps,
  type Plan,
  type PlanInput,
} from '../../machines/app-planner.js';
import {
  APP_STATES,
  CANCELABLE_STATES,
  DISK_GROWING_STATES,
  OPERATION_STATES,
  TRANSIENT_STATES,
  isAppState,
  transientToActualState,
  type AppState,
  type Stage,
} from '../../machines/app-states.js';

// The Reagent's matrix exactly as research/ironflock-reagent.md §3.2 prints it
// (rows: current; columns: requested; the last column: requested = current).
const COLUMNS = ['PRESENT', 'RUNNING', 'REMOVED', 'UNINSTALLED', 'BUILT', 'PUBLISHED', '(same)'] as const;
type Column = (typeof COLUMNS)[number];
const RESEARCH: Record<string, string[]> = {
  REMOVED: ['removedToPresent', 'removedToRunning', '–', 'uninstallApp', 'buildApp', 'publishApp', 'noAction'],
  UNINSTALLED: ['pullApp', 'runApp', '–', '–', 'buildApp', 'publishApp', 'noAction'],
  PRESENT: ['noAction', 'runApp', 'removeApp', 'uninstallApp', 'buildApp', 'publishApp', 'noAction'],
  STOPPED: ['–', 'runApp', 'removeApp', 'uninstallApp', 'buildApp', 'publishApp', 'noAction'],
  FAILED: ['recoverFailToPresent', 'recoverFailToRunning', 'removeApp', 'uninstallApp', 'buildApp', 'publishApp', '–'],
  BUILT: ['noAction', 'runApp', 'removeApp', 'uninstallApp', 'buildApp', 'publishApp', 'buildApp'],
  PUBLISHED: ['noAction', 'runApp', 'removeApp', 'uninstallApp', 'buildApp', 'publishApp', 'publishApp'],
  RUNNING: ['stopApp', 'noAction', 'removeApp', 'uninstallApp', 'stopApp', 'removeAndPublishApp (DEV only)', 'noAction'],
  TRANSFERED: ['pullApp', '–', 'removeApp', 'uninstallApp', '–', '–', '–'],
  TRANSFERING: ['cancelTransfer', '–', 'cancelTransfer', 'cancelTransfer', '–', '–', '–'],
  DOWNLOADING: ['pullApp', '–', 'cancelPull', 'cancelPull', '–', '–', '–'],
  BUILDING: ['–', '–', 'cancelBuild', '–', '–', '–', '–'],
  PUBLISHING: ['–', '–', 'cancelPush', '–', '–', '–', '–'],
  STARTING: ['stopApp', 'runApp', 'removeApp', 'uninstallApp', '–', '–', '–'],
  STOPPING: ['stopApp', 'runApp', 'removeApp', 'uninstallApp', '–', '–', '–'],
  UPDATING: ['cancelUpdate', 'nil', 'cancelUpdateAndRemove', 'cancelUpdateAndUninstall', '–', '–', '–'],
  DELETING: ['nil', 'nil', 'removeApp', 'uninstallApp', '–', '–', '–'],
};

const IN_FLIGHT = new Set(['TRANSFERING', 'DOWNLOADING', 'BUILDING', 'PUBLISHING', 'STARTING', 'STOPPING', 'UPDATING', 'DELETING']);

/** A research cell in our vocabulary: a transition name, or none / wait / refuse. */
function reagentOutcome(cell: string, stage: Stage, row: string): string {
  if (cell === 'noAction') return 'none';
  // Nothing happens: at rest that is "none"; mid-operation the request waits for it (ours queues it).
  if (cell === '–' || cell === 'nil') return IN_FLIGHT.has(row) ? 'wait' : 'none';
  if (cell === 'removedToPresent') return stage === 'PROD' ? 'pull' : 'none';
  if (cell === 'removedToRunning') return 'run';
  if (cell.startsWith('removeAndPublishApp')) return stage === 'DEV' ? 'publish' : 'none';
  if (cell.startsWith('recover')) return 'recover';
  if (cell.startsWith('cancel')) return 'cancel';
  return cell.replace(/App$/, '');
}

interface Deviation {
  why: string;
  ours: (stage: Stage, row: string, col: Column) => string | undefined;
}

/** Where ours differs from the Reagent on purpose (see the header of machines/app-planner.ts). */
const DEVIATIONS: Deviation[] = [
  {
    why: 'BUILT and PUBLISHED are DEV operations: a PROD app asking for them is refused with a reason',
    ours: (stage, row, col) => {
      const target = col === '(same)' ? row : col;
      return stage === 'PROD' && !IN_FLIGHT.has(row) && (target === 'BUILT' || target === 'PUBLISHED') ? 'refuse' : undefined;
    },
  },
  {
    why: 'a DEV app without an image cannot be pulled: refused (the Reagent did nothing or pulled a missing image)',
    ours: (stage, row, col) =>
      stage === 'DEV' && (row === 'REMOVED' || row === 'UNINSTALLED') && (col === 'PRESENT' || col === 'RUNNING') ? 'refuse' : undefined,
  },
  {
    why: 'STOPPED (held by the disk guard) becomes PRESENT when PRESENT is requested, without a Docker operation',
    ours: (_stage, row, col) => (row === 'STOPPED' && col === 'PRESENT' ? 'settle' : undefined),
  },
  {
    why: 'FAILED is an outcome: requesting it is refused',
    ours: (_stage, row, col) => (row === 'FAILED' && col === '(same)' ? 'refuse' : undefined),
  },
  {
    why: 'TRANSFERED (DEV sources uploaded) builds toward PRESENT/RUNNING/BUILT and publishes; the Reagent pulled or did nothing',
    ours: (stage, row, col) => {
      if (row !== 'TRANSFERED') return undefined;
      if (stage === 'DEV' && (col === 'PRESENT' || col === 'RUNNING' || col === 'BUILT')) return 'build';
      if (stage === 'DEV' && col === 'PUBLISHED') return 'publish';
      return stage === 'PROD' && col === 'RUNNING' ? 'run' : undefined;
    },
  },
  {
    why: 'one Docker operation per app at a time: a request meeting STARTING, STOPPING, DELETING or a pull toward PRESENT waits for it',
    ours: (_stage, row, col) =>
      row === 'STARTING' || row === 'STOPPING' || row === 'DELETING' || (row === 'DOWNLOADING' && col === 'PRESENT') ? 'wait' : undefined,
  },
  {
    why: 'a teardown cancels every cancelable operation (the Reagent forgot BUILDING and PUBLISHING toward UNINSTALLED)',
    ours: (_stage, row, col) => ((row === 'BUILDING' || row === 'PUBLISHING') && col === 'UNINSTALLED' ? 'cancel' : undefined),
  },
];

const STAGES: Stage[] = ['PROD', 'DEV'];

function matrixInput(stage: Stage, current: AppState, requested: string): PlanInput {
  return {
    current,
    requested,
    stage,
    requestUpdate: false,
    newestVersion: null,
    version: '1.0.0',
    diskEmergency: false,
    engineAvailable: true,
    redo: true,
    cancel: false,
    failedIn: null,
  };
}

function outcomeOf(plan: Plan): string {
  return plan.kind === 'run' ? plan.transition : plan.kind;
}

test('the planner reproduces the research matrix cell by cell, except for the listed deviations', () => {
  const used = new Set<Deviation>();
  let cells = 0;
  for (const stage of STAGES) {
    for (const [row, cellsOfRow] of Object.entries(RESEARCH)) {
      cellsOfRow.forEach((cell, i) => {
        const col = COLUMNS[i]!;
        const requested = col === '(same)' ? row : col;
        const reagent = reagentOutcome(cell, stage, row);
        const deviation = DEVIATIONS.find((d) => d.ours(stage, row, col) !== undefined);
        const expected = deviation?.ours(stage, row, col) ?? reagent;
        if (deviation && expected !== reagent) used.add(deviation);
        const plan = planTransition(matrixInput(stage, row as AppState, requested));
        assert.equal(outcomeOf(plan), expected, `${stage} ${row} → ${col}: Reagent ${cell}${deviation ? `; deviation: ${deviation.why}` : ''}`);
        cells++;
      });
    }
  }
  assert.equal(cells, 2 * 17 * 7);
  for (const d of DEVIATIONS) assert.ok(used.has(d), `deviation "${d.why}" no longer differs from the Reagent anywhere: remove it`);
});

test('the intermediate states of each transition are the Reagent’s (§3.2)', () => {
  const path = (stage: Stage, current: AppState, requested: string, extra: Partial<PlanInput> = {}) => {
    const plan = planTransition({ ...matrixInput(stage, current, requested), ...extra });
    return plan.kind === 'run' ? plan.path.join(' ') : plan.kind;
  };
  assert.equal(path('DEV', 'REMOVED', 'BUILT'), 'BUILDING BUILT');
  assert.equal(path('PROD', 'REMOVED', 'PRESENT'), 'DOWNLOADING PRESENT');
  assert.equal(path('PROD', 'REMOVED', 'RUNNING'), 'DOWNLOADING PRESENT STARTING RUNNING');
  assert.equal(path('PROD', 'PRESENT', 'RUNNING'), 'STARTING RUNNING');
  assert.equal(path('PROD', 'RUNNING', 'PRESENT'), 'STOPPING PRESENT');
  assert.equal(path('PROD', 'PRESENT', 'REMOVED'), 'DELETING REMOVED');
  assert.equal(path('PROD', 'RUNNING', 'UNINSTALLED'), 'DELETING UNINSTALLED');
  assert.equal(path('DEV', 'BUILT', 'PUBLISHED'), 'PUBLISHING PUBLISHED');
  assert.equal(path('DEV', 'RUNNING', 'PUBLISHED'), 'STOPPING PRESENT PUBLISHING PUBLISHED');
  assert.equal(path('PROD', 'DOWNLOADING', 'REMOVED'), 'REMOVED');
  assert.equal(path('PROD', 'DOWNLOADING', 'UNINSTALLED'), 'REMOVED DELETING UNINSTALLED');
  assert.equal(path('PROD', 'UPDATING', 'PRESENT', { version: '1', newestVersion: '2' }), 'PRESENT');
  assert.equal(path('PROD', 'RUNNING', 'RUNNING', { requestUpdate: true, newestVersion: '2.0.0' }), 'UPDATING PRESENT STARTING RUNNING');
  assert.equal(path('PROD', 'RUNNING', 'PRESENT', { requestUpdate: true, newestVersion: '2.0.0' }), 'UPDATING PRESENT');
  // FAILED recovery: after a crash the image is there; after a failed pull it is pulled again.
  assert.equal(path('PROD', 'FAILED', 'RUNNING', { failedIn: 'RUNNING' }), 'STARTING RUNNING');
  assert.equal(path('PROD', 'FAILED', 'RUNNING', { failedIn: 'DOWNLOADING' }), 'DOWNLOADING PRESENT STARTING RUNNING');
  assert.equal(path('PROD', 'FAILED', 'PRESENT', { failedIn: 'RUNNING' }), 'STOPPING PRESENT');
  assert.equal(path('DEV', 'FAILED', 'PRESENT'), 'BUILDING BUILT');
  assert.equal(path('PROD', 'RUNNING', 'RUNNING', { diskEmergency: true }), 'STOPPING STOPPED');
  assert.equal(path('PROD', 'STOPPED', 'RUNNING', { diskEmergency: true }), 'refuse');
});

test('the update override: request_update with another newest version, unless the target is a teardown or the app is DEV', () => {
  const base = { ...matrixInput('PROD', 'RUNNING', 'RUNNING'), requestUpdate: true, newestVersion: '2.0.0' };
  const plan = planTransition(base);
  assert.equal(plan.kind === 'run' && plan.transition, 'update');
  assert.equal(plan.kind === 'run' && plan.version, '2.0.0', 'the path pulls the newest version');
  assert.equal(outcomeOf(planTransition({ ...base, newestVersion: '1.0.0' })), 'none', 'same version: nothing to update');
  assert.equal(outcomeOf(planTransition({ ...base, requested: 'REMOVED' })), 'remove', 'a removal does not pull first');
  assert.equal(outcomeOf(planTransition({ ...base, requested: 'UNINSTALLED' })), 'uninstall');
  assert.equal(outcomeOf(planTransition({ ...base, stage: 'DEV' })), 'none', 'DEV images are built, never updated');
  assert.equal(outcomeOf(planTransition({ ...base, current: 'FAILED' })), 'update', 'an update is a way out of FAILED');
  const midUpdate = { ...base, current: 'UPDATING' as AppState, requested: 'PRESENT', version: '1.0.0' };
  assert.equal(outcomeOf(planTransition(midUpdate)), 'wait', 'a request that still wants this update lets it finish');
  assert.equal(outcomeOf(planTransition({ ...midUpdate, requestUpdate: false })), 'cancel', 'cancelUpdate');
});

test('cancellation: cancelable states only, on a teardown, on request, or for the disk', () => {
  for (const current of APP_STATES) {
    const plan = planTransition({ ...matrixInput('PROD', current, 'RUNNING'), cancel: true });
    if (plan.kind === 'run' && plan.transition === 'cancel') {
      assert.ok(CANCELABLE_STATES.has(current), `${current} is not cancelable`);
      assert.equal(plan.path[0], CANCEL_LANDING[current]);
      assert.equal(plan.waitsForEngine, false, 'landing needs no engine');
    }
  }
  const disk = planTransition({ ...matrixInput('PROD', 'DOWNLOADING', 'RUNNING'), diskEmergency: true });
  assert.equal(outcomeOf(disk), 'cancel', 'a pull in flight is canceled when the disk runs out');
  assert.equal(outcomeOf(planTransition(matrixInput('PROD', 'DOWNLOADING', 'DOWNLOADING'))), 'wait', 'requesting the step in flight');
});

test('the helper sets are the Reagent’s', () => {
  assert.deepEqual([...TRANSIENT_STATES].sort(), [
    'BUILDING', 'BUILT', 'DELETING', 'DOWNLOADING', 'PUBLISHED', 'PUBLISHING', 'STARTING', 'STOPPING', 'TRANSFERED', 'TRANSFERING', 'UPDATING',
  ]);
  assert.deepEqual([...CANCELABLE_STATES].sort(), ['BUILDING', 'DOWNLOADING', 'PUBLISHING', 'TRANSFERING', 'UPDATING']);
  assert.deepEqual([...DISK_GROWING_STATES].sort(), ['BUILDING', 'BUILT', 'DOWNLOADING', 'PRESENT', 'PUBLISHED', 'PUBLISHING', 'RUNNING', 'UPDATING']);
  const mapped = Object.fromEntries(APP_STATES.map((s) => [s, transientToActualState(s)]).filter(([a, b]) => a !== b));
  assert.deepEqual(mapped, {
    BUILDING: 'PRESENT', TRANSFERED: 'PRESENT', DOWNLOADING: 'PRESENT', TRANSFERING: 'PRESENT',
    PUBLISHING: 'PRESENT', UPDATING: 'PRESENT', STOPPING: 'PRESENT', DELETING: 'REMOVED', STARTING: 'RUNNING',
  });
});

// ---- properties over every input -------------------------------------------

const arbState = fc.constantFrom(...APP_STATES);
const arbVersion = fc.option(fc.constantFrom('1.0.0', '1.1.0', '2.0.0', ''), { nil: null });
const arbInput: fc.Arbitrary<PlanInput> = fc.record({
  current: arbState,
  requested: fc.oneof({ weight: 8, arbitrary: arbState }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }),
  stage: fc.constantFrom<Stage>('DEV', 'PROD'),
  requestUpdate: fc.boolean(),
  newestVersion: arbVersion,
  version: arbVersion,
  diskEmergency: fc.boolean(),
  engineAvailable: fc.boolean(),
  redo: fc.boolean(),
  cancel: fc.boolean(),
  failedIn: fc.option(arbState, { nil: null }),
});

/** Where an operation state lands. */
const LANDS: Partial<Record<AppState, AppState[]>> = {
  DOWNLOADING: ['PRESENT'],
  BUILDING: ['BUILT'],
  PUBLISHING: ['PUBLISHED'],
  STARTING: ['RUNNING'],
  STOPPING: ['PRESENT', 'STOPPED'],
  UPDATING: ['PRESENT'],
  DELETING: ['REMOVED', 'UNINSTALLED'],
};

test('for any current and requested state the plan ends where the request is met, or is none, wait or a reasoned refusal', () => {
  fc.assert(
    fc.property(arbInput, (input) => {
      const frozen = Object.freeze({ ...input });
      const plan = planTransition(frozen);
      const inFlight = OPERATION_STATES.has(input.current) || input.current === 'TRANSFERING';
      switch (plan.kind) {
        case 'refuse':
          assert.ok(plan.reason.length > 10, 'a refusal says why');
          return;
        case 'wait':
          assert.ok(inFlight, `wait only while an operation is in flight (${input.current})`);
          return;
        case 'none':
          assert.ok(!inFlight && isAppState(input.requested) && reached(input.current, input.requested), `none at ${input.current} for ${input.requested}`);
          return;
        case 'run': {
          assert.ok(isAppState(input.requested));
          assert.ok(plan.path.length > 0 && plan.path.every(isAppState));
          const last = plan.path.at(-1)!;
          if (plan.transition === 'cancel') {
            assert.equal(plan.path[0], CANCEL_LANDING[input.current]);
            if (plan.path.length > 1) assert.ok(reached(last, input.requested));
          } else if (plan.transition === 'hold') {
            assert.ok(input.diskEmergency && last === 'STOPPED');
          } else {
            assert.ok(!inFlight, 'only cancellations start mid-operation');
            assert.ok(reached(last, input.requested), `${plan.path.join('>')} does not meet ${input.requested}`);
          }
          // Every operation lands in its resting state, and every step names its Docker operations.
          plan.path.forEach((s, i) => {
            if (!OPERATION_STATES.has(s)) return;
            const landing = plan.path[i + 1];
            assert.ok(landing !== undefined && LANDS[s]!.includes(landing), `${s} must land, got ${String(landing)}`);
            assert.ok(stepOps(s, landing).length > 0);
          });
          assert.equal(plan.waitsForEngine, plan.transition !== 'cancel' && !input.engineAvailable && OPERATION_STATES.has(plan.path[0]!));
        }
      }
    }),
    { numRuns: 5000 },
  );
});

test('a disk emergency never plans a step that writes to the disk, nor a target only such a step reaches', () => {
  fc.assert(
    fc.property(arbInput, (input) => {
      const plan = planTransition({ ...input, diskEmergency: true });
      if (plan.kind !== 'run') return;
      for (const s of plan.path) assert.ok(!DISK_GROWING_STEPS.has(s), `${s} in ${plan.path.join('>')}`);
      // PRESENT may still be reached, but only by stopping, a cancel landing or a relabel: they free disk.
      assert.ok(!['RUNNING', 'BUILT', 'PUBLISHED'].includes(plan.path.at(-1)!));
    }),
    { numRuns: 3000 },
  );
});

test('the rest of a path is what the planner says again at each resting state on the way', () => {
  fc.assert(
    fc.property(arbInput, (input) => {
      const plan = planTransition(input);
      if (plan.kind !== 'run' || plan.transition === 'cancel') return;
      plan.path.forEach((s, i) => {
        if (OPERATION_STATES.has(s) || i === plan.path.length - 1) return;
        const again = planTransition({ ...input, current: s, version: plan.version, redo: false, cancel: false });
        assert.equal(again.kind, 'run', `at ${s}`);
        assert.deepEqual(again.kind === 'run' && again.path, plan.path.slice(i + 1), `from ${s} of ${plan.path.join('>')}`);
      });
    }),
    { numRuns: 3000 },
  );
});
