// The app state vocabulary of the IronFlock wire (`common/constants.go` in the
// Reagent): these strings travel to the studio in `update_app_on_device` and are
// the top-level state names of the app statechart, so they are spelled exactly
// as the backend expects, `TRANSFERED` with one R included.

export const APP_STATES = [
  'PRESENT',
  'REMOVED',
  'UNINSTALLED',
  'FAILED',
  'BUILT',
  'BUILDING',
  'TRANSFERED',
  'TRANSFERING',
  'PUBLISHING',
  'PUBLISHED',
  'DOWNLOADING',
  'STARTING',
  'STOPPING',
  'STOPPED',
  'UPDATING',
  'DELETING',
  'RUNNING',
] as const;

export type AppState = (typeof APP_STATES)[number];

export const STAGES = ['DEV', 'PROD'] as const;
export type Stage = (typeof STAGES)[number];

const STATE_SET: ReadonlySet<string> = new Set(APP_STATES);

export function isAppState(value: unknown): value is AppState {
  return typeof value === 'string' && STATE_SET.has(value);
}

export function isStage(value: unknown): value is Stage {
  return value === 'DEV' || value === 'PROD';
}

/** The Reagent's `IsTransientState`, kept for wire compatibility (BUILT and PUBLISHED included). */
export const TRANSIENT_STATES: ReadonlySet<AppState> = new Set<AppState>([
  'BUILDING',
  'BUILT',
  'TRANSFERED',
  'DELETING',
  'TRANSFERING',
  'PUBLISHING',
  'PUBLISHED',
  'DOWNLOADING',
  'STOPPING',
  'UPDATING',
  'STARTING',
]);

/** The Reagent's `IsCancelableState`: a request may abort these midway. */
export const CANCELABLE_STATES: ReadonlySet<AppState> = new Set<AppState>([
  'BUILDING',
  'PUBLISHING',
  'DOWNLOADING',
  'TRANSFERING',
  'UPDATING',
]);

/** The Reagent's `IsDiskGrowingState`: targets it refuses while the disk is in emergency. */
export const DISK_GROWING_STATES: ReadonlySet<AppState> = new Set<AppState>([
  'RUNNING',
  'PRESENT',
  'BUILT',
  'BUILDING',
  'PUBLISHING',
  'PUBLISHED',
  'DOWNLOADING',
  'UPDATING',
]);

/**
 * States during which a Docker operation of ours is in flight. Unlike the
 * Reagent's transient set, BUILT, PUBLISHED and TRANSFERED are resting states
 * here: nothing runs while an app sits in them.
 */
export const OPERATION_STATES: ReadonlySet<AppState> = new Set<AppState>([
  'DOWNLOADING',
  'BUILDING',
  'PUBLISHING',
  'STARTING',
  'STOPPING',
  'UPDATING',
  'DELETING',
]);

/**
 * The Reagent's `TransientToActualState`, applied to an incoming *requested*
 * state: a request names where the app should end up, never a step on the way.
 */
export function transientToActualState(state: AppState): AppState {
  switch (state) {
    case 'BUILDING':
    case 'TRANSFERED':
    case 'DOWNLOADING':
    case 'TRANSFERING':
    case 'PUBLISHING':
    case 'UPDATING':
    case 'STOPPING':
      return 'PRESENT';
    case 'DELETING':
      return 'REMOVED';
    case 'STARTING':
      return 'RUNNING';
    default:
      return state;
  }
}
