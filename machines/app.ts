// One app in one stage (actor id `app:<STAGE>:<appKey>`): the container
// lifecycle as a statechart whose top-level states are the wire states the
// studio sees. Pure like every machine here: Docker work goes out as `docker.*`
// commands, results and engine facts come back as events, time is XState
// `after` on the runtime's clock, jitter is the `rand` stamped on each event.
//
//   resting state --REQUEST--> planTransition() --> path [OP STATE, LANDING, ...]
//   OP STATE: dispatch -> working (emits docker.<op>) --OP_SUCCEEDED--> LANDING (plans again)
//                 |  ^ENGINE_UP                    \--OP_FAILED / died / timeout--> FAILED
//                 v  ENGINE_DOWN                     canceling (docker.cancel) --> cancel landing
//              waitingForEngine
//   FAILED: backoff (PROD, retries left) | blocked (plan refused) | halted (terminal, until a REQUEST)
//   RUNNING: proving (failures reset after healthyResetMs) | steady | unhealthy
//
// A request that arrives mid-operation waits in `pending` (latest wins) and
// is planned at the next resting state; a teardown or a `cancel` aborts a
// cancelable operation first. Every REQUEST gets exactly one outcome command:
// apps.request-settled (reached, superseded, failed, unchanged) or
// apps.request-refused.
//
// Deviations from the Reagent besides the planner's (see app-planner.ts):
// - requests are queued, never dropped on a busy lock;
// - the crash loop is IoT Edge's (see DEFAULT_APP_POLICY) and ends in a
//   terminal FAILED, where the Reagent retried every 5 s·n² (≤ 1 h) forever;
// - a resync (boot projection, reconnect) neither resets the crash loop nor
//   leaves a terminal FAILED; the Reagent cleared the counter on every request;
// - losing the engine is not the app's failure: the operation waits and is
//   issued again (the Reagent failed or canceled it on a blip).
import { assign, enqueueActions, setup } from 'xstate';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import type { RequestEventFields } from './app-request.js';
import { APP_STATES, CANCELABLE_STATES, OPERATION_STATES, isAppState, isStage, type AppState, type Stage } from './app-states.js';
import {
  planTransition,
  reached,
  stepOps,
  type DockerOp,
  type PlanInput,
  type RefusalCause,
  type RunPlan,
} from './app-planner.js';

/** Bump when a change alters behaviour on purpose (recorded journals then refuse to replay). */
export const APP_MACHINE_VERSION = 2;

export interface AppPolicy {
  /** Crash-loop backoff of PROD apps: delay before retry n is initialMs × multiplier^(n-1), capped, jittered down. */
  retry: BackoffPolicy;
  /** Consecutive failures after which a PROD app stays FAILED until a new request. */
  maxFailures: number;
  /** Uptime (healthy) after which the failure count starts from zero again. */
  healthyResetMs: number;
  /** How long STARTING may take before it counts as a failure. */
  startTimeoutMs: number;
}

/**
 * IoT Edge's restart policy (research anchors §4.2): 10 s × 2^n capped at 5 min,
 * failed after MaxRestartCount (its default, 20: about 75 min of retries),
 * counters reset after 10 min up. Jitter 0.2, subtractive: the Reagent's ±20 %
 * spread without ever exceeding the cap. STARTING gets the Reagent's 30 s.
 */
export const DEFAULT_APP_POLICY: AppPolicy = {
  retry: { initialMs: 10_000, maxMs: 300_000, multiplier: 2, jitter: 0.2 },
  maxFailures: 20,
  healthyResetMs: 600_000,
  startTimeoutMs: 30_000,
};

export interface AppInput {
  appKey: string;
  appName: string;
  stage: Stage;
  version?: string | null;
  /** The actual state reconciled at boot; a transient one is taken as an interrupted operation (FAILED). */
  initial?: AppState;
  policy: AppPolicy;
}

type Stamp = { at: number; rand: number };

/** What adapters send. Payloads are JSON; the machine reads every field defensively. */
/** What adapters send (no runtime stamp). */
export type AppInbound =
  /** One declaration, machines/app-request.ts; replayed records are still read defensively (parseRequest). */
  | ({ type: 'REQUEST' } & RequestEventFields)
  /** `containerId`: for `run`, the container it created (engine facts about others are then ignored). */
  | { type: 'OP_SUCCEEDED'; op: DockerOp; opId?: number; containerId?: string }
  | { type: 'OP_FAILED'; op: DockerOp; opId?: number; reason: string }
  | { type: 'OP_PROGRESS'; op: DockerOp; opId?: number; [detail: string]: unknown }
  | { type: 'CONTAINER_STARTED'; containerId?: string }
  /** `exitCode`: absent when the engine did not say (the machine reports the code as unknown). */
  | { type: 'CONTAINER_DIED'; exitCode?: number; containerId?: string }
  | { type: 'CONTAINER_OOM'; containerId?: string }
  | { type: 'CONTAINER_GONE'; containerId?: string }
  | { type: 'HEALTH'; status: 'healthy' | 'unhealthy'; containerId?: string }
  | { type: 'ENGINE_DOWN'; reason?: string }
  | { type: 'ENGINE_UP' }
  | { type: 'DISK'; emergency: boolean };

/** What the machine sees: the inbound event stamped by the runtime. */
export type AppEvent = Stamp & AppInbound;

/** A type alias, not an interface: commands must fit the runtime's `Command` index signature. */
type AppRef = {
  appKey: string;
  appName: string;
  stage: Stage;
};

export type RequestOutcome = 'reached' | 'superseded' | 'failed' | 'unchanged';

/**
 * What the machine asks of adapters. The Docker adapter's side of the contract:
 * - runs one app's commands one after another (a per-app queue), and answers
 *   each operation with OP_SUCCEEDED or OP_FAILED carrying its `op` and `opId`;
 * - `docker.pull` makes image `version` present (no network when it is local);
 * - `docker.run` replaces the app's container with a new one from the local image
 *   (restart policy "no": restarts are ours) and starts it; fails if the image is missing;
 * - `docker.stop` stops and removes the container, keeping image and data
 *   (PRESENT means "image, no running container");
 * - `docker.remove` removes container and image; `docker.uninstall` also the app's
 *   data, build files and ports; `docker.build` / `docker.publish` are the DEV build
 *   and the release build + push;
 * - `docker.cancel` aborts `op`, whose own result (usually OP_FAILED "canceled") follows;
 * - `docker.prune-old-image` is best effort, unanswered, and may wait for the engine;
 * - sends ENGINE_DOWN before failing operations because Docker is unreachable;
 * - names the container in OP_SUCCEEDED of `run` and in engine facts (`containerId`)
 *   when it can: facts about a container a later run replaced are then ignored.
 */
export type AppCommand =
  | (AppRef & { type: `docker.${DockerOp}`; opId: number; version: string | null })
  | (AppRef & { type: 'docker.cancel'; op: DockerOp; opId: number })
  | (AppRef & { type: 'docker.prune-old-image'; version: string; keep: string | null })
  | {
      type: 'studio.report';
      appKey: string;
      stage: Stage;
      state: AppState;
      version: string | null;
      reason?: string;
      requestId?: string;
    }
  | {
      type: 'apps.request-settled';
      appKey: string;
      stage: Stage;
      requestId: string | null;
      target: AppState;
      state: AppState;
      outcome: RequestOutcome;
      reason?: string;
    }
  | { type: 'apps.request-refused'; appKey: string; stage: Stage; requestId: string | null; target: string; reason: string };

export interface AppRequest {
  target: AppState;
  version: string | null;
  newestVersion: string | null;
  requestUpdate: boolean;
  cancel: boolean;
  resync: boolean;
  requestId: string | null;
  /** No outcome sent yet. */
  open: boolean;
}

/** A plan being walked, with the planner input it came from (the inspector shows why). */
export type PlannedRun = RunPlan & { input: PlanInput };

export interface OpInFlight {
  name: DockerOp;
  /** Echoed by the adapter as `opId`; results of older commands are ignored. */
  id: number;
  /** Position in `stepOps` of the current step. */
  index: number;
  version: string | null;
}

export interface AppContext {
  appKey: string;
  appName: string;
  stage: Stage;
  policy: AppPolicy;
  /** The reconciled state this actor started from. */
  bootState: AppState;
  /** The installed image's version, or the one to install while there is none. */
  version: string | null;
  desired: AppRequest | null;
  /** A request that arrived mid-operation; planned at the next resting state. */
  pending: AppRequest | null;
  plan: PlannedRun | null;
  cancel: PlannedRun | null;
  op: OpInFlight | null;
  opSeq: number;
  /** The container our last run created, when the adapter said. */
  containerId: string | null;
  engineAvailable: boolean;
  diskEmergency: boolean;
  /** Consecutive failures since the last request or healthy reset. */
  failures: number;
  retryDelayMs: number;
  failedIn: AppState | null;
  lastError: string | null;
  refusal: { reason: string; cause: RefusalCause } | null;
  health: 'healthy' | 'unhealthy' | null;
  oom: boolean;
  /** Why the next reported state changes; sent with that report. */
  note: string | null;
}

/** States the app rests in; the others run one Docker operation each. */
const RESTING: AppState[] = ['REMOVED', 'UNINSTALLED', 'PRESENT', 'STOPPED', 'BUILT', 'PUBLISHED', 'TRANSFERED', 'RUNNING', 'FAILED'];
const OPERATIONS: AppState[] = APP_STATES.filter((s) => OPERATION_STATES.has(s));
/** Where a plan's first step can go: an operation, or STOPPED→PRESENT without one. */
const FIRST_STEPS: AppState[] = [...OPERATIONS, 'PRESENT'];
const LANDINGS: AppState[] = ['PRESENT', 'BUILT', 'PUBLISHED', 'RUNNING', 'REMOVED', 'UNINSTALLED', 'STOPPED'];
const CANCEL_LANDINGS: AppState[] = ['REMOVED', 'PRESENT'];
const CANCELABLE_OPS: ReadonlySet<DockerOp> = new Set<DockerOp>(['pull', 'build', 'publish']);
const NO_IMAGE: ReadonlySet<AppState> = new Set<AppState>(['REMOVED', 'UNINSTALLED', 'TRANSFERED']);
/** A request the machine adopts as its own at boot: keep the reconciled state. */
const KEEPABLE: ReadonlySet<AppState> = new Set<AppState>(['PRESENT', 'RUNNING', 'REMOVED', 'UNINSTALLED', 'BUILT', 'PUBLISHED']);

// ---- reading payloads: never throw, odd values become "absent" -------------

type Fields = Record<string, unknown>;

function text(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function idOf(v: unknown): string | null {
  if (typeof v === 'string' && v !== '') return v;
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : null;
}

function randOf(e: Fields): number {
  return typeof e.rand === 'number' && Number.isFinite(e.rand) ? e.rand : 0;
}

type Parsed = { ok: true; request: AppRequest } | { ok: false; requestId: string | null; target: string; reason: string };

function parseRequest(e: Fields): Parsed {
  const requestId = idOf(e.requestId);
  if (!isAppState(e.target)) {
    const target = typeof e.target === 'string' ? e.target : String(JSON.stringify(e.target));
    return { ok: false, requestId, target, reason: `unknown app state ${target}` };
  }
  return {
    ok: true,
    request: {
      target: e.target,
      version: text(e.version),
      newestVersion: text(e.newestVersion),
      requestUpdate: e.requestUpdate === true,
      cancel: e.cancel === true,
      resync: e.resync === true,
      requestId,
      open: true,
    },
  };
}

/** A resync that says what the machine already works toward changes nothing. */
function isRepeat(r: AppRequest, basis: AppRequest | null): boolean {
  return (
    r.resync &&
    !r.cancel &&
    basis !== null &&
    basis.target === r.target &&
    basis.version === r.version &&
    basis.newestVersion === r.newestVersion &&
    basis.requestUpdate === r.requestUpdate
  );
}

function appliesAsNew(ctx: AppContext, e: Fields): boolean {
  const p = parseRequest(e);
  return p.ok && !isRepeat(p.request, ctx.desired);
}

function isCurrentOp(ctx: AppContext, e: Fields): boolean {
  return ctx.op !== null && e.op === ctx.op.name && (e.opId === undefined || e.opId === ctx.op.id);
}

/** Facts about a container we replaced arrive late; they are not about the app any more. */
function aboutOurContainer(ctx: AppContext, e: Fields): boolean {
  const id = text(e.containerId);
  return id === null || ctx.containerId === null || id === ctx.containerId;
}

function isLastOp(ctx: AppContext, state: AppState): boolean {
  return ctx.op !== null && ctx.plan !== null && ctx.op.index >= stepOps(state, ctx.plan.path[1]).length - 1;
}

function failureReason(ctx: AppContext, e: Fields): string {
  switch (e.type) {
    case 'OP_FAILED':
      return `${String(e.op)} failed: ${text(e.reason) ?? 'no reason given'}`;
    case 'CONTAINER_DIED': {
      const code = typeof e.exitCode === 'number' ? String(e.exitCode) : 'unknown';
      return `container exited with code ${code}${ctx.oom ? ' (out of memory)' : ''}`;
    }
    case 'CONTAINER_GONE':
      return 'container removed outside the agent';
    default:
      return 'failed';
  }
}

// ---- decisions: pure functions of the context, applied by the actions ------

interface Decision {
  patch: Partial<AppContext>;
  emits: AppCommand[];
}

function planInput(ctx: AppContext, current: AppState, r: AppRequest, redo: boolean, diskEmergency = ctx.diskEmergency): PlanInput {
  return {
    current,
    requested: r.target,
    stage: ctx.stage,
    requestUpdate: r.requestUpdate,
    newestVersion: r.newestVersion,
    // Without an image there is nothing installed to keep: the request names what to install.
    version: NO_IMAGE.has(current) ? (r.version ?? ctx.version) : (ctx.version ?? r.version),
    diskEmergency,
    engineAvailable: ctx.engineAvailable,
    redo,
    cancel: r.cancel,
    failedIn: ctx.failedIn,
  };
}

function settled(ctx: AppContext, r: AppRequest, state: AppState, outcome: RequestOutcome, reason?: string): AppCommand {
  const c: AppCommand = {
    type: 'apps.request-settled',
    appKey: ctx.appKey,
    stage: ctx.stage,
    requestId: r.requestId,
    target: r.target,
    state,
    outcome,
  };
  if (reason !== undefined) c.reason = reason;
  return c;
}

function refused(ctx: AppContext, requestId: string | null, target: string, reason: string): AppCommand {
  return { type: 'apps.request-refused', appKey: ctx.appKey, stage: ctx.stage, requestId, target, reason };
}

function report(ctx: AppContext, state: AppState): AppCommand {
  const c: AppCommand = {
    type: 'studio.report',
    appKey: ctx.appKey,
    stage: ctx.stage,
    state,
    version: ctx.version ?? ctx.desired?.version ?? null,
  };
  if (ctx.note !== null) c.reason = ctx.note;
  if (ctx.desired?.requestId) c.requestId = ctx.desired.requestId;
  return c;
}

/** Plans from a resting state toward `ctx.desired` and settles or refuses it when that is the outcome. */
function decide(ctx: AppContext, state: AppState, redo: boolean): Decision {
  const r = ctx.desired;
  if (r === null) return { patch: { plan: null, refusal: null }, emits: [] };
  const input = planInput(ctx, state, r, redo);
  const plan = planTransition(input);
  if (plan.kind === 'run') return { patch: { plan: { ...plan, input }, refusal: null }, emits: [] };
  if (plan.kind === 'refuse') {
    const emits = r.open ? [refused(ctx, r.requestId, r.target, plan.reason)] : [];
    return { patch: { plan: null, refusal: { reason: plan.reason, cause: plan.cause }, desired: { ...r, open: false } }, emits };
  }
  const done = r.open && reached(state, r.target);
  return {
    patch: { plan: null, refusal: null, ...(done ? { desired: { ...r, open: false } } : {}) },
    emits: done ? [settled(ctx, r, state, 'reached')] : [],
  };
}

/** Arrival in a resting state: the queued request (if any) takes over, then plan again. */
function land(ctx: AppContext, state: AppState): Decision {
  const emits: AppCommand[] = [];
  let next = ctx;
  let redo = false;
  if (ctx.pending !== null) {
    const old = ctx.desired;
    if (old?.open) emits.push(settled(ctx, old, state, reached(state, old.target) ? 'reached' : 'superseded'));
    next = { ...ctx, desired: ctx.pending, pending: null, failures: 0 };
    redo = !ctx.pending.resync;
  } else if (state === 'FAILED') {
    // Failures wait for their backoff or stay; they are not re-planned on arrival.
    return { patch: { plan: null }, emits };
  }
  const d = decide(next, state, redo);
  const patch: Partial<AppContext> = { desired: next.desired, pending: null, failures: next.failures, ...d.patch };
  return { patch, emits: [...emits, ...d.emits] };
}

/** A request at rest: it replaces the desired state at once. */
function adopt(ctx: AppContext, state: AppState, e: Fields): Decision {
  const p = parseRequest(e);
  if (!p.ok) return { patch: {}, emits: [refused(ctx, p.requestId, p.target, p.reason)] };
  const r = p.request;
  if (isRepeat(r, ctx.desired)) return { patch: {}, emits: [settled(ctx, r, state, 'unchanged')] };
  const emits: AppCommand[] = ctx.desired?.open ? [settled(ctx, ctx.desired, state, 'superseded')] : [];
  const next: AppContext = { ...ctx, desired: r, failures: 0 };
  const d = decide(next, state, !r.resync);
  // The Reagent's noAction re-notifies the current state.
  if (d.patch.plan === null && d.patch.refusal === null) d.emits.push(report({ ...next, ...d.patch }, state));
  return { patch: { desired: r, failures: 0, ...d.patch }, emits: [...emits, ...d.emits] };
}

/** A request mid-operation: queued, latest wins. */
function enqueueRequest(ctx: AppContext, state: AppState, e: Fields): Decision {
  const p = parseRequest(e);
  if (!p.ok) return { patch: {}, emits: [refused(ctx, p.requestId, p.target, p.reason)] };
  const r = p.request;
  if (isRepeat(r, ctx.pending ?? ctx.desired)) return { patch: {}, emits: [settled(ctx, r, state, 'unchanged')] };
  const emits = ctx.pending?.open ? [settled(ctx, ctx.pending, state, 'superseded')] : [];
  return { patch: { pending: r }, emits };
}

/** The planner's verdict on the operation in flight, for the request that now leads. */
function cancelPlan(ctx: AppContext, state: AppState, r: AppRequest | null, diskEmergency: boolean): PlannedRun | null {
  if (r === null) return null;
  const input = planInput(ctx, state, r, false, diskEmergency);
  const plan = planTransition(input);
  return plan.kind === 'run' && plan.transition === 'cancel' ? { ...plan, input } : null;
}

function requestCancels(ctx: AppContext, state: AppState, e: Fields): boolean {
  const p = parseRequest(e);
  if (!p.ok || isRepeat(p.request, ctx.pending ?? ctx.desired)) return false;
  return cancelPlan(ctx, state, p.request, ctx.diskEmergency) !== null;
}

function diskCancels(ctx: AppContext, state: AppState, e: Fields): boolean {
  return e.emergency === true && cancelPlan(ctx, state, ctx.pending ?? ctx.desired, true) !== null;
}

// ---- the statechart --------------------------------------------------------

type StateParams = { state: AppState };

const RUNNING_AT_REST = resting('RUNNING');

interface Enqueue {
  assign(patch: Partial<AppContext>): void;
  emit(command: AppCommand): void;
}

/** Applies a decision in an action: its context patch, then its commands. */
function apply(enqueue: Enqueue, d: Decision): void {
  enqueue.assign(d.patch);
  for (const c of d.emits) enqueue.emit(c);
}

export const appMachine = setup({
  types: {
    context: {} as AppContext,
    input: {} as AppInput,
    events: {} as AppEvent,
    emitted: {} as AppCommand,
  },
  delays: {
    retryDelay: ({ context }) => context.retryDelayMs,
    healthyReset: ({ context }) => context.policy.healthyResetMs,
    startTimeout: ({ context }) => context.policy.startTimeoutMs,
  },
  guards: {
    bootIs: ({ context }, p: StateParams) => context.bootState === p.state,
    planStartsAt: ({ context }, p: StateParams) => context.plan !== null && context.plan.path[0] === p.state,
    /** The last operation of the step succeeded and the plan lands in `state`. */
    succeededTo: ({ context, event }, p: StateParams & { from: AppState }) =>
      isCurrentOp(context, event) && isLastOp(context, p.from) && context.plan?.path[1] === p.state,
    succeededMore: ({ context, event }, p: { from: AppState }) => isCurrentOp(context, event) && !isLastOp(context, p.from),
    isCurrentOp: ({ context, event }) => isCurrentOp(context, event),
    aboutOurContainer: ({ context, event }) => aboutOurContainer(context, event),
    canceledTo: ({ context, event }, p: StateParams) =>
      isCurrentOp(context, event) && context.cancel !== null && context.cancel.path[0] === p.state,
    engineDownTo: ({ context }, p: StateParams) =>
      !context.engineAvailable && context.cancel !== null && context.cancel.path[0] === p.state,
    engineDown: ({ context }) => !context.engineAvailable,
    requestCancels: ({ context, event }, p: StateParams) => requestCancels(context, p.state, event),
    diskCancels: ({ context, event }, p: StateParams) => diskCancels(context, p.state, event),
    requestApplies: ({ context, event }) => appliesAsNew(context, event),
    restBlocked: ({ context }) => context.plan === null && context.refusal !== null,
    restRetry: ({ context }) =>
      context.plan === null &&
      context.desired !== null &&
      context.stage === 'PROD' &&
      context.failures > 0 &&
      context.failures < context.policy.maxFailures,
    restHalt: ({ context }) => context.plan === null,
    engineBackForPROD: ({ context }) => !context.engineAvailable && context.stage === 'PROD' && context.desired !== null,
    provingNeeded: ({ context }) => context.plan === null && context.failures > 0,
    isHealthy: ({ event }) => event.type === 'HEALTH' && event.status === 'healthy',
    isUnhealthy: ({ event }) => event.type === 'HEALTH' && event.status === 'unhealthy',
  },
  actions: {
    report: enqueueActions(({ context, enqueue }, p: StateParams) => {
      enqueue.emit(report(context, p.state));
      if (context.note !== null) enqueue.assign({ note: null });
    }),
    land: enqueueActions(({ context, enqueue }, p: StateParams) => apply(enqueue, land(context, p.state))),
    adopt: enqueueActions(({ context, event, enqueue }, p: StateParams) => apply(enqueue, adopt(context, p.state, event))),
    retry: enqueueActions(({ context, enqueue }) => apply(enqueue, decide(context, 'FAILED', false))),
    // Failures while Docker went away (a run refused by a stopping engine) say nothing about
    // the app: once the engine is back, a PROD app gets a fresh budget and is driven again.
    retryAfterEngine: enqueueActions(({ context, enqueue }) => {
      const fresh: AppContext = { ...context, engineAvailable: true, failures: 0 };
      const d = decide(fresh, 'FAILED', false);
      apply(enqueue, { patch: { engineAvailable: true, failures: 0, ...d.patch }, emits: d.emits });
    }),
    diskReplan: enqueueActions(({ context, event, enqueue }, p: StateParams) => {
      if (event.type !== 'DISK' || typeof event.emergency !== 'boolean' || event.emergency === context.diskEmergency) return;
      const d = decide({ ...context, diskEmergency: event.emergency }, p.state, false);
      apply(enqueue, { patch: { diskEmergency: event.emergency, ...d.patch }, emits: d.emits });
    }),
    queue: enqueueActions(({ context, event, enqueue }, p: StateParams) => apply(enqueue, enqueueRequest(context, p.state, event))),
    beginCancel: assign({
      cancel: ({ context }, p: StateParams) => cancelPlan(context, p.state, context.pending ?? context.desired, context.diskEmergency),
    }),
    issueCancel: enqueueActions(({ context, enqueue }) => {
      const op = context.op;
      if (op === null || !context.engineAvailable || !CANCELABLE_OPS.has(op.name)) return;
      enqueue.emit({ type: 'docker.cancel', appKey: context.appKey, appName: context.appName, stage: context.stage, op: op.name, opId: op.id });
    }),
    landCanceled: assign(({ context }) => ({ op: null, note: context.cancel?.reason ?? 'canceled', cancel: null })),
    beginStep: assign((_, p: StateParams) => ({ op: null, ...(p.state === 'STARTING' ? { oom: false, health: null } : {}) })),
    issueOp: enqueueActions(({ context, enqueue }, p: StateParams) => {
      const plan = context.plan;
      if (plan === null) return;
      const index = context.op?.index ?? 0;
      const name = stepOps(p.state, plan.path[1])[index];
      if (name === undefined) return;
      const teardown = name === 'stop' || name === 'remove' || name === 'uninstall';
      const version = teardown ? (context.version ?? plan.version) : plan.version;
      const id = context.opSeq + 1;
      enqueue.assign({ opSeq: id, op: { name, id, index, version } });
      enqueue.emit({ type: `docker.${name}`, appKey: context.appKey, appName: context.appName, stage: context.stage, opId: id, version });
    }),
    nextOp: assign({ op: ({ context }) => (context.op ? { ...context.op, index: context.op.index + 1 } : null) }),
    completeOp: enqueueActions(({ context, event, enqueue }, p: StateParams) => {
      const op = context.op;
      // A new container replaces whatever we knew, named or not.
      const started = p.state === 'STARTING' ? { containerId: text('containerId' in event ? event.containerId : undefined) } : {};
      let version = context.version;
      if (op?.name === 'pull' || op?.name === 'build') version = op.version;
      if (op?.name === 'remove' || op?.name === 'uninstall') version = null;
      if (p.state === 'UPDATING' && context.version !== null && context.version !== version) {
        enqueue.emit({
          type: 'docker.prune-old-image',
          appKey: context.appKey,
          appName: context.appName,
          stage: context.stage,
          version: context.version,
          keep: version,
        });
      }
      enqueue.assign({ version, op: null, cancel: null, note: context.plan?.reason ?? null, ...started });
    }),
    fail: assign(({ context, event }, p: StateParams & { reason?: string }) => {
      const reason = p.reason ?? failureReason(context, event);
      const failures = context.failures + 1;
      return {
        failures,
        lastError: reason,
        note: reason,
        failedIn: p.state,
        retryDelayMs: context.stage === 'PROD' ? backoffDelay(context.policy.retry, failures, randOf(event)) : 0,
        op: null,
        plan: null,
        cancel: null,
        refusal: null,
      };
    }),
    settleFailed: enqueueActions(({ context, enqueue }) => {
      const r = context.desired;
      if (r === null || !r.open) return;
      enqueue.emit(settled(context, r, 'FAILED', 'failed', context.lastError ?? undefined));
      enqueue.assign({ desired: { ...r, open: false } });
    }),
    resetFailures: assign({ failures: 0 }),
    noteEngine: assign({ engineAvailable: ({ event }) => event.type !== 'ENGINE_DOWN' }),
    noteDisk: assign({
      diskEmergency: ({ context, event }) =>
        event.type === 'DISK' && typeof event.emergency === 'boolean' ? event.emergency : context.diskEmergency,
    }),
    noteOom: assign({ oom: ({ context, event }) => context.oom || aboutOurContainer(context, event) }),
    noteHealth: assign({
      health: ({ context, event }) =>
        event.type === 'HEALTH' && (event.status === 'healthy' || event.status === 'unhealthy') ? event.status : context.health,
    }),
  },
}).createMachine({
  id: 'app',
  initial: 'boot',
  context: ({ input }) => initialContext(input),
  on: {
    ENGINE_DOWN: { actions: 'noteEngine' },
    ENGINE_UP: { actions: 'noteEngine' },
    DISK: { actions: 'noteDisk' },
    CONTAINER_OOM: { actions: 'noteOom' },
    HEALTH: { actions: 'noteHealth' },
  },
  states: {
    // The only node that is not a wire state: left in the same step the actor starts.
    boot: {
      always: RESTING.map((state) => ({ guard: { type: 'bootIs' as const, params: { state } }, target: state })),
    },
    ...Object.fromEntries(RESTING.filter((s) => s !== 'RUNNING' && s !== 'FAILED').map((s) => [s, resting(s)])),
    RUNNING: {
      ...RUNNING_AT_REST,
      initial: 'checking',
      states: {
        checking: { always: [{ guard: 'provingNeeded', target: 'proving' }, { target: 'steady' }] },
        proving: {
          after: { healthyReset: { target: 'steady', actions: 'resetFailures' } },
          on: { HEALTH: { guard: 'isUnhealthy', target: 'unhealthy', actions: 'noteHealth' } },
        },
        steady: { on: { HEALTH: { guard: 'isUnhealthy', target: 'unhealthy', actions: 'noteHealth' } } },
        unhealthy: { on: { HEALTH: { guard: 'isHealthy', target: 'checking', actions: 'noteHealth' } } },
      },
      on: {
        ...RUNNING_AT_REST.on,
        CONTAINER_DIED: { guard: 'aboutOurContainer', target: 'FAILED', actions: { type: 'fail', params: { state: 'RUNNING' } } },
        CONTAINER_GONE: { guard: 'aboutOurContainer', target: 'FAILED', actions: { type: 'fail', params: { state: 'RUNNING' } } },
      },
    },
    FAILED: {
      ...resting('FAILED'),
      initial: 'resting',
      states: {
        resting: {
          always: [
            { guard: 'restBlocked', target: 'blocked' },
            { guard: 'restRetry', target: 'backoff' },
            { guard: 'restHalt', target: 'halted' },
          ],
        },
        backoff: { after: { retryDelay: { target: 'resting', actions: 'retry' } } },
        blocked: { on: { DISK: { actions: { type: 'diskReplan', params: { state: 'FAILED' } } } } },
        halted: { entry: 'settleFailed' },
      },
      on: {
        REQUEST: [
          { guard: 'requestApplies', target: '.resting', actions: { type: 'adopt', params: { state: 'FAILED' } } },
          { actions: { type: 'adopt', params: { state: 'FAILED' } } },
        ],
        DISK: { actions: 'noteDisk' },
        ENGINE_UP: [{ guard: 'engineBackForPROD', target: '.resting', actions: 'retryAfterEngine' }, { actions: 'noteEngine' }],
      },
    },
    ...Object.fromEntries(OPERATIONS.map((s) => [s, operation(s)])),
  },
});

export type AppMachine = typeof appMachine;

function initialContext(input: AppInput): AppContext {
  const stage: Stage = isStage(input?.stage) ? input.stage : 'PROD';
  const initial = isAppState(input?.initial) ? input.initial : 'REMOVED';
  const interrupted = !RESTING.includes(initial);
  const bootState: AppState = interrupted ? 'FAILED' : initial;
  const version = text(input?.version);
  return {
    appKey: String(input?.appKey ?? ''),
    appName: String(input?.appName ?? ''),
    stage,
    policy: { ...DEFAULT_APP_POLICY, ...(input?.policy ?? {}) },
    bootState,
    version,
    desired: KEEPABLE.has(bootState)
      ? { target: bootState, version, newestVersion: null, requestUpdate: false, cancel: false, resync: true, requestId: null, open: false }
      : null,
    pending: null,
    plan: null,
    cancel: null,
    op: null,
    opSeq: 0,
    containerId: null,
    engineAvailable: true,
    diskEmergency: false,
    failures: 0,
    retryDelayMs: 0,
    failedIn: interrupted ? initial : null,
    lastError: interrupted ? `interrupted while ${initial}` : null,
    refusal: null,
    health: null,
    oom: false,
    note: interrupted ? `interrupted while ${initial}` : null,
  };
}

/** A resting state: report, take the queued request, plan, and jump to the plan's first step. */
function resting(state: AppState) {
  return {
    entry: [
      { type: 'report' as const, params: { state } },
      { type: 'land' as const, params: { state } },
    ],
    always: FIRST_STEPS.filter((s) => s !== state).map((s) => ({
      guard: { type: 'planStartsAt' as const, params: { state: s } },
      target: `#app.${s}`,
    })),
    on: {
      REQUEST: { actions: { type: 'adopt' as const, params: { state } } },
      DISK: { actions: { type: 'diskReplan' as const, params: { state } } },
    },
  };
}

/** An operation state: runs the step's Docker operations one by one, waits out an absent engine, cancels. */
function operation(state: AppState) {
  const p = { state };
  const advance = LANDINGS.map((to) => ({
    guard: { type: 'succeededTo' as const, params: { state: to, from: state } },
    target: `#app.${to}`,
    actions: { type: 'completeOp' as const, params: p },
  }));
  const more = {
    guard: { type: 'succeededMore' as const, params: { from: state } },
    target: '.dispatch',
    actions: 'nextOp' as const,
  };
  const cancelLand = (guard: 'canceledTo' | 'engineDownTo') =>
    CANCEL_LANDINGS.map((to) => ({
      guard: { type: guard, params: { state: to } },
      target: `#app.${to}`,
      actions: 'landCanceled' as const,
    }));
  const failHere = { type: 'fail' as const, params: p };
  const cancelable = CANCELABLE_STATES.has(state);
  return {
    entry: [
      { type: 'report' as const, params: p },
      { type: 'beginStep' as const, params: p },
    ],
    initial: 'dispatch',
    states: {
      dispatch: { always: [{ guard: 'engineDown' as const, target: 'waitingForEngine' }, { target: 'working' }] },
      working: {
        entry: { type: 'issueOp' as const, params: p },
        ...(state === 'STARTING'
          ? {
              after: {
                startTimeout: {
                  target: '#app.FAILED',
                  actions: { type: 'fail' as const, params: { state, reason: 'the container did not start in time' } },
                },
              },
            }
          : {}),
        on: {
          ENGINE_DOWN: { target: 'waitingForEngine', actions: 'noteEngine' as const },
          OP_FAILED: { guard: 'isCurrentOp' as const, target: '#app.FAILED', actions: failHere },
        },
      },
      // The operation died with the engine (or never started): it is issued again, with a new id, when Docker is back.
      waitingForEngine: {
        on: { ENGINE_UP: { target: 'working', actions: 'noteEngine' as const } },
      },
      ...(cancelable
        ? {
            canceling: {
              entry: 'issueCancel' as const,
              always: cancelLand('engineDownTo'),
              on: {
                OP_SUCCEEDED: [...advance, ...cancelLand('canceledTo')],
                OP_FAILED: cancelLand('canceledTo'),
                // The operation died with the engine: `always` lands once the engine is noted down.
                ENGINE_DOWN: { actions: 'noteEngine' as const },
                REQUEST: { actions: { type: 'queue' as const, params: p } },
                DISK: { actions: 'noteDisk' as const },
              },
            },
          }
        : {}),
    },
    on: {
      OP_SUCCEEDED: [more, ...advance],
      ...(state === 'STARTING'
        ? { CONTAINER_STARTED: { target: '#app.RUNNING', actions: { type: 'completeOp' as const, params: p } } }
        : {}),
      REQUEST: cancelable
        ? [
            {
              guard: { type: 'requestCancels' as const, params: p },
              target: '.canceling',
              actions: [
                { type: 'queue' as const, params: p },
                { type: 'beginCancel' as const, params: p },
              ],
            },
            { actions: { type: 'queue' as const, params: p } },
          ]
        : { actions: { type: 'queue' as const, params: p } },
      DISK: cancelable
        ? [
            {
              guard: { type: 'diskCancels' as const, params: p },
              target: '.canceling',
              actions: ['noteDisk' as const, { type: 'beginCancel' as const, params: p }],
            },
            { actions: 'noteDisk' as const },
          ]
        : { actions: 'noteDisk' as const },
    },
  };
}
