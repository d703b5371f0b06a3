// The self-update's arithmetic, pure like backoff.ts: version order, the
// Reagent's update channel, and what a start does when an update is on
// probation (README, "Self-update"). The statechart (update.ts) and the
// start guard (adapters/update/guard.ts) both decide with these.

/** `x.y.z`, optional `-pre.release` and `+build`, as semver 2.0.0 says. */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

export function isSemver(text: string): boolean {
  return text.length <= 64 && SEMVER.test(text);
}

/** Semver precedence: negative, 0 or positive; null when either is not a version. Build metadata is ignored. */
export function compareSemver(a: string, b: string): number | null {
  const x = a.length <= 64 ? SEMVER.exec(a) : null;
  const y = b.length <= 64 ? SEMVER.exec(b) : null;
  if (!x || !y) return null;
  for (let i = 1; i <= 3; i++) {
    const d = Number(x[i]) - Number(y[i]);
    if (d !== 0) return Math.sign(d);
  }
  const px = x[4];
  const py = y[4];
  if (px === undefined || py === undefined) return px === py ? 0 : px === undefined ? 1 : -1;
  const ix = px.split('.');
  const iy = py.split('.');
  for (let i = 0; i < Math.max(ix.length, iy.length); i++) {
    const p = ix[i];
    const q = iy[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const np = /^\d+$/.test(p);
    const nq = /^\d+$/.test(q);
    if (np && nq) {
      const d = Number(p) - Number(q);
      if (d !== 0) return Math.sign(d);
    } else if (np !== nq) return np ? -1 : 1;
    else if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

export function isNewer(latest: string, current: string): boolean {
  return (compareSemver(latest, current) ?? 0) > 0;
}

export type Channel = 'production' | 'test' | 'local';

/**
 * The update channel: the .flock's `environment`; else `-env` when given on
 * the command line; else the Reagent's fallback on the endpoint (`datapods`:
 * test, `record-evolution`: production, anything else: local); without a
 * .flock, `-env` (default production).
 */
export function updateChannel(input: { flockEnvironment?: string | undefined; endpoint?: string | undefined; envFlag: Channel; envFlagGiven: boolean }): Channel {
  const e = input.flockEnvironment;
  if (e === 'production' || e === 'test' || e === 'local') return e;
  if (input.envFlagGiven || input.endpoint === undefined) return input.envFlag;
  if (input.endpoint.includes('datapods')) return 'test';
  if (input.endpoint.includes('record-evolution')) return 'production';
  return 'local';
}

// ---- the update state file and the start guard ------------------------------

export type UpdatePhase = 'downloading' | 'swapping' | 'probation' | 'committed' | 'rolled back';
export const UPDATE_PHASES: readonly UpdatePhase[] = ['downloading', 'swapping', 'probation', 'committed', 'rolled back'];

/** `<agentDir>/update-state.json`. */
export interface UpdateState {
  phase: UpdatePhase;
  /** The version that was running, and the one installed. */
  from: string;
  to: string;
  /** ISO 8601 of the last change. */
  at: string;
  /** Starts of `to` since the swap (probation). */
  attempts: number;
  /** systemd's INVOCATION_ID of the last counted start: the pre-start guard and the daemon count one start once. */
  lastInvocation: string | null;
  /** How long each start of `to` has to become ready (and link up). */
  probationMs: number;
  /** Links that must be up before `to` is committed: all of them, or any one. */
  links: string[];
  linksMode: 'all' | 'any';
  /** Versions that failed probation here: never installed again. */
  blacklist: string[];
  /** Why the last update ended as it did (rolled back, refused). */
  reason: string | null;
}

/** Starts of a new version that may fail (crash, or stopped before deciding) before it is rolled back. */
export const MAX_PROBATION_STARTS = 3;

export type StartRole =
  /** The daemon itself, at start, before anything else. */
  | 'daemon'
  /** `reagent update-guard`, run by the last good version before the daemon starts (systemd ExecStartPre). */
  | 'guard';

export type GuardVerdict =
  /** No update is waiting to be judged. `state` is set when the file needs rewriting (an interrupted swap). */
  | { kind: 'none'; state?: UpdateState }
  /** This start of `to` is counted; the daemon runs its probation (or, as the guard, lets it start). */
  | { kind: 'probation'; state: UpdateState }
  /** `to` used up its starts: restore `from`, blacklist `to`. */
  | { kind: 'rollback'; state: UpdateState }
  /** A version other than the one on probation is starting (a person ran another binary): no count, no decision. */
  | { kind: 'bystander'; note: string };

export interface GuardInput {
  state: UpdateState | null;
  role: StartRole;
  /** The starting daemon's version (role 'daemon'). */
  version: string;
  /** systemd's INVOCATION_ID, or null outside systemd. */
  invocation: string | null;
  /** Which version `<agentDir>/current` points to now (null: no link). */
  currentTarget: string | null;
  now: string;
  maxStarts?: number;
}

export function guardAtStart(input: GuardInput): GuardVerdict {
  const max = input.maxStarts ?? MAX_PROBATION_STARTS;
  let state = input.state;
  if (!state) return { kind: 'none' };
  if (state.phase === 'swapping') {
    // The swap is one rename: either it happened (then `to` is on probation) or not.
    if (input.currentTarget === state.to) state = { ...state, phase: 'probation', attempts: 0, lastInvocation: null, at: input.now };
    else return { kind: 'none', state: { ...state, phase: 'rolled back', reason: 'interrupted before the swap; the running version stays', at: input.now } };
  }
  if (state.phase !== 'probation') return { kind: 'none' };
  if (input.role === 'daemon' && input.version !== state.to) {
    return { kind: 'bystander', note: `version ${state.to} is on probation, but this is ${input.version}: nothing is counted or decided until ${state.to} starts` };
  }
  const counted = input.invocation !== null && input.invocation === state.lastInvocation;
  const next: UpdateState = counted ? state : { ...state, attempts: state.attempts + 1, lastInvocation: input.invocation, at: input.now };
  if (next.attempts > max) {
    return {
      kind: 'rollback',
      state: {
        ...next,
        phase: 'rolled back',
        blacklist: [...new Set([...next.blacklist, next.to])],
        reason: `${next.to} was started ${max} times without becoming ready${next.links.length ? ' with its links up' : ''}; ${next.from} is restored`,
        at: input.now,
      },
    };
  }
  return { kind: 'probation', state: next };
}

/** Whether `to` passed probation: ready, and the links it must have. */
export function probationPassed(ready: boolean, links: Readonly<Record<string, boolean>>, need: readonly string[], mode: 'all' | 'any'): boolean {
  if (!ready) return false;
  if (need.length === 0) return true;
  return mode === 'all' ? need.every((l) => links[l] === true) : need.some((l) => links[l] === true);
}
