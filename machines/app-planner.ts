// What an app must do to get from its current state to a requested one: the
// Reagent's transition matrix (`apps/state_machine.go`, research §3.2) as a
// pure function. The app statechart asks it at every decision point and walks
// the returned path; the tests hold it against the research table.
//
// A path alternates operation states and the resting state each operation
// lands in (DOWNLOADING→PRESENT, STARTING→RUNNING, ...). The statechart runs
// only the first operation, then plans again from where it landed, so a newer
// request or a failure changes course at the next resting state, and the rest
// of the path is a forecast.
//
// Deviations from the Reagent, each on purpose:
// - One Docker operation per app at a time. A request that arrives while
//   STARTING, STOPPING or DELETING waits for it to end (the Reagent started a
//   second transition there, or dropped the request on its lock).
// - A teardown (REMOVED, UNINSTALLED) cancels any cancelable operation; the
//   Reagent's matrix did so for some rows only (not BUILDING/PUBLISHING→UNINSTALLED).
//   DOWNLOADING→PRESENT waits for the pull in flight instead of pulling again.
// - DEV images come from builds only: REMOVED/UNINSTALLED→PRESENT|RUNNING is
//   refused with a reason for DEV (the Reagent did nothing, or pulled an image
//   that does not exist). TRANSFERED (sources uploaded) builds instead.
// - BUILT and PUBLISHED are DEV operations: refused for PROD apps.
// - FAILED recovery depends on where the app failed: after a runtime failure
//   (STARTING, RUNNING, STOPPING) the image is known to be there and the app
//   restarts directly; otherwise PROD pulls again (a no-op when the image is
//   local) and DEV rebuilds, as the Reagent's recoverFailToPresent did.
// - STOPPED is really used: an app the disk guard stopped (a RUNNING app during a
//   disk emergency goes STOPPING→STOPPED and stays there while the request
//   still says RUNNING). A request for PRESENT turns STOPPED into PRESENT
//   without touching Docker; a request for STOPPED is a request for PRESENT.
// - The disk guard refuses a plan by what its steps do (pull, build, publish,
//   update, start), not by the name of its target: stopping or removing an app
//   during an emergency frees disk, and the Reagent refused the stop (PRESENT
//   is "disk growing").
// - The update override applies to PROD apps whose target keeps an image
//   (PRESENT, RUNNING); the Reagent also pulled the newest image of an app about
//   to be REMOVED.
// - Requesting FAILED is refused: it is an outcome, not a target.
import {
  CANCELABLE_STATES,
  OPERATION_STATES,
  isAppState,
  transientToActualState,
  type AppState,
  type Stage,
} from './app-states.js';

export type Transition =
  | 'pull'
  | 'run'
  | 'build'
  | 'publish'
  | 'stop'
  | 'remove'
  | 'uninstall'
  | 'update'
  | 'cancel'
  | 'recover'
  /** Stop a RUNNING app because the disk is in emergency (lands in STOPPED). */
  | 'hold'
  /** STOPPED to PRESENT: a relabel, nothing to do in Docker. */
  | 'settle';

/** What one Docker command of the app does; see `stepOps`. */
export type DockerOp = 'pull' | 'build' | 'publish' | 'run' | 'stop' | 'remove' | 'uninstall';

export interface PlanInput {
  current: AppState;
  /** The requested wire state as received; normalised here. */
  requested: string;
  stage: Stage;
  requestUpdate: boolean;
  newestVersion: string | null;
  /** The app's version: the installed image's, or the requested one while none is installed. */
  version: string | null;
  diskEmergency: boolean;
  engineAvailable: boolean;
  /** A new request (not a re-drive after a landing, a retry or a resync): it may redo BUILT and PUBLISHED. */
  redo?: boolean;
  /** The request asks to abort the operation in flight (the Reagent's `cancel_transition`). */
  cancel?: boolean;
  /** Where the app was when it last failed; decides how FAILED recovers. */
  failedIn?: AppState | null;
}

export type RefusalCause = 'disk' | 'stage' | 'invalid';

export interface RunPlan {
  kind: 'run';
  transition: Transition;
  /** The states the app will pass through, first step first; ends where the request is met. */
  path: AppState[];
  /** The version the path's pull, build, publish or run uses. */
  version: string | null;
  /** The first step needs Docker and Docker is unreachable: it starts by waiting. */
  waitsForEngine: boolean;
  reason?: string;
}

export type Plan =
  | { kind: 'none' }
  /** An operation is in flight and cannot or need not be aborted: plan again when it ends. */
  | { kind: 'wait'; reason: string }
  | { kind: 'refuse'; reason: string; cause: RefusalCause }
  | RunPlan;

const PULL: AppState[] = ['DOWNLOADING', 'PRESENT'];
const START: AppState[] = ['STARTING', 'RUNNING'];
const STOP: AppState[] = ['STOPPING', 'PRESENT'];
const HOLD: AppState[] = ['STOPPING', 'STOPPED'];
const REMOVE: AppState[] = ['DELETING', 'REMOVED'];
const UNINSTALL: AppState[] = ['DELETING', 'UNINSTALLED'];
const BUILD: AppState[] = ['BUILDING', 'BUILT'];
const PUBLISH: AppState[] = ['PUBLISHING', 'PUBLISHED'];
const UPDATE: AppState[] = ['UPDATING', 'PRESENT'];

/** Steps that write to the disk: refused while it is in emergency. */
export const DISK_GROWING_STEPS: ReadonlySet<AppState> = new Set<AppState>([
  'DOWNLOADING',
  'BUILDING',
  'PUBLISHING',
  'UPDATING',
  'STARTING',
]);

/** Where a canceled operation leaves the app (the Reagent's cancel* functions). */
export const CANCEL_LANDING: Readonly<Partial<Record<AppState, AppState>>> = {
  DOWNLOADING: 'REMOVED',
  BUILDING: 'REMOVED',
  PUBLISHING: 'REMOVED',
  TRANSFERING: 'REMOVED',
  UPDATING: 'PRESENT',
};

/** Failures after which the image is known to be on the device. */
const RUNTIME_FAILURES: ReadonlySet<AppState> = new Set<AppState>(['STARTING', 'RUNNING', 'STOPPING']);

const REDOABLE: ReadonlySet<AppState> = new Set<AppState>(['BUILT', 'PUBLISHED']);

const NONE: Plan = { kind: 'none' };

const DEV_NO_IMAGE = 'a DEV app has no image to pull: it is built on the device from uploaded sources (request BUILT)';
const PROD_NO_BUILD = 'a PROD app is pulled from the registry: BUILT and PUBLISHED are DEV operations';
const DISK_HOLD = 'disk emergency: the app is stopped until the disk recovers';

/** The state a request really asks for: transient names and STOPPED mean where they lead. */
export function requestTarget(requested: AppState): AppState {
  const actual = transientToActualState(requested);
  return actual === 'STOPPED' ? 'PRESENT' : actual;
}

/** Whether an app in `state` meets a request for `requested` (the matrix's noAction cells). */
export function reached(state: AppState, requested: AppState): boolean {
  if (state === requested) return true;
  const target = requestTarget(requested);
  if (target === 'PRESENT') return state === 'PRESENT' || state === 'BUILT' || state === 'PUBLISHED';
  if (target === 'REMOVED') return state === 'REMOVED' || state === 'UNINSTALLED';
  return state === target;
}

/** The Docker operations one step runs, in order, from an operation state to its landing. */
export function stepOps(state: AppState, landing: AppState | undefined): DockerOp[] {
  switch (state) {
    case 'DOWNLOADING':
      return ['pull'];
    case 'BUILDING':
      return ['build'];
    case 'PUBLISHING':
      return ['publish'];
    case 'STARTING':
      return ['run'];
    case 'STOPPING':
      return ['stop'];
    case 'DELETING':
      return landing === 'UNINSTALLED' ? ['uninstall'] : ['remove'];
    case 'UPDATING':
      // The Reagent's order: the old container goes first, so a canceled
      // update truly lands in PRESENT (old image, no container).
      return ['stop', 'pull'];
    default:
      return [];
  }
}

export function planTransition(input: PlanInput): Plan {
  if (!isAppState(input.requested)) {
    return refuse('invalid', `unknown app state ${JSON.stringify(input.requested)}`);
  }
  const requested = input.requested;
  const target = requestTarget(requested);
  if (target === 'FAILED') return refuse('invalid', 'FAILED is an outcome, not a state one can request');
  const { current } = input;

  if (OPERATION_STATES.has(current) || current === 'TRANSFERING') return planInFlight(input, requested, target);
  if (input.diskEmergency && current === 'RUNNING') return emergencyStop(input, target);
  if (wantsUpdate(input, target)) {
    return guardDisk(run('update', target === 'RUNNING' ? [...UPDATE, ...START] : UPDATE, input, input.newestVersion), input, target);
  }
  if (requested === current && !(input.redo === true && REDOABLE.has(current))) return NONE;
  return guardDisk(restingRow(input, target), input, target);
}

function wantsUpdate(i: PlanInput, target: AppState): boolean {
  return (
    i.stage === 'PROD' &&
    i.requestUpdate &&
    typeof i.newestVersion === 'string' &&
    i.newestVersion !== '' &&
    i.newestVersion !== i.version &&
    (target === 'PRESENT' || target === 'RUNNING')
  );
}

/** Rows of the matrix for an app at rest (nothing in flight). */
function restingRow(i: PlanInput, target: AppState): Plan {
  const dev = i.stage === 'DEV';
  switch (target) {
    case 'REMOVED':
      return i.current === 'REMOVED' || i.current === 'UNINSTALLED' ? NONE : run('remove', REMOVE, i);
    case 'UNINSTALLED':
      return i.current === 'UNINSTALLED' ? NONE : run('uninstall', UNINSTALL, i);
    case 'BUILT':
      if (!dev) return refuse('stage', PROD_NO_BUILD);
      // The Reagent's stopApp: the build follows from PRESENT.
      return i.current === 'RUNNING' ? run('stop', [...STOP, ...BUILD], i) : run('build', BUILD, i);
    case 'PUBLISHED':
      if (!dev) return refuse('stage', PROD_NO_BUILD);
      return run('publish', i.current === 'RUNNING' ? [...STOP, ...PUBLISH] : PUBLISH, i);
    case 'PRESENT':
      return toPresent(i, dev);
    case 'RUNNING':
      return toRunning(i, dev);
    default:
      return refuse('invalid', `${target} is not a state one can request`);
  }
}

function toPresent(i: PlanInput, dev: boolean): Plan {
  switch (i.current) {
    case 'PRESENT':
    case 'BUILT':
    case 'PUBLISHED':
      return NONE;
    case 'RUNNING':
      return run('stop', STOP, i);
    case 'STOPPED':
      return run('settle', ['PRESENT'], i);
    case 'FAILED':
      if (ranBefore(i)) return run('recover', STOP, i);
      return run('recover', dev ? BUILD : PULL, i);
    case 'TRANSFERED':
      return dev ? run('build', BUILD, i) : run('pull', PULL, i);
    default:
      return dev ? refuse('stage', DEV_NO_IMAGE) : run('pull', PULL, i);
  }
}

function toRunning(i: PlanInput, dev: boolean): Plan {
  switch (i.current) {
    case 'RUNNING':
      return NONE;
    case 'PRESENT':
    case 'BUILT':
    case 'PUBLISHED':
    case 'STOPPED':
      return run('run', START, i);
    case 'FAILED':
      return run('recover', dev || ranBefore(i) ? START : [...PULL, ...START], i);
    case 'TRANSFERED':
      return dev ? run('build', [...BUILD, ...START], i) : run('run', [...PULL, ...START], i);
    default:
      return dev ? refuse('stage', DEV_NO_IMAGE) : run('run', [...PULL, ...START], i);
  }
}

function ranBefore(i: PlanInput): boolean {
  return i.failedIn !== undefined && i.failedIn !== null && RUNTIME_FAILURES.has(i.failedIn);
}

/** A RUNNING app during a disk emergency: it stops, whatever else was asked. */
function emergencyStop(i: PlanInput, target: AppState): Plan {
  if (target === 'REMOVED') return run('remove', REMOVE, i);
  if (target === 'UNINSTALLED') return run('uninstall', UNINSTALL, i);
  if (target === 'PRESENT') return run('stop', STOP, i);
  return run('hold', HOLD, i, i.version, DISK_HOLD);
}

/** A request that meets an operation in flight: abort it (cancelable ones only) or let it finish. */
function planInFlight(i: PlanInput, requested: AppState, target: AppState): Plan {
  const wait: Plan = { kind: 'wait', reason: `${i.current} is in progress; the request applies when it ends` };
  const landing = CANCEL_LANDING[i.current];
  if (requested === i.current || landing === undefined || !CANCELABLE_STATES.has(i.current)) return wait;
  const teardown = target === 'REMOVED' || target === 'UNINSTALLED';
  const abandonsUpdate = i.current === 'UPDATING' && target === 'PRESENT' && !wantsUpdate(i, target);
  const abandonsTransfer = i.current === 'TRANSFERING' && target === 'PRESENT';
  const forDisk = i.diskEmergency && DISK_GROWING_STEPS.has(i.current);
  if (!(i.cancel === true || teardown || abandonsUpdate || abandonsTransfer || forDisk)) return wait;
  const next = planTransition({ ...i, current: landing, redo: false, cancel: false, failedIn: null });
  const rest = next.kind === 'run' ? next.path : [];
  const reason = forDisk ? `disk emergency: ${i.current} canceled` : `${i.current} canceled by a request for ${requested}`;
  return { ...run('cancel', [landing, ...rest], i, i.version, reason), waitsForEngine: false };
}

function guardDisk(plan: Plan, i: PlanInput, target: AppState): Plan {
  if (plan.kind !== 'run' || !i.diskEmergency) return plan;
  const growing = plan.path.find((s) => DISK_GROWING_STEPS.has(s));
  if (growing === undefined) return plan;
  return refuse(
    'disk',
    `disk emergency: ${plan.transition} toward ${target} would grow the disk (${growing}); ` +
      'the request is kept and retried when the disk recovers',
  );
}

function run(transition: Transition, path: AppState[], i: PlanInput, version = i.version, reason?: string): RunPlan {
  const first = path[0];
  const plan: RunPlan = {
    kind: 'run',
    transition,
    path: [...path],
    version,
    waitsForEngine: !i.engineAvailable && first !== undefined && OPERATION_STATES.has(first),
  };
  if (reason !== undefined) plan.reason = reason;
  return plan;
}

function refuse(cause: RefusalCause, reason: string): Plan {
  return { kind: 'refuse', reason, cause };
}
