// What the studio link does with each WAMP session the connection statechart
// opens: the Reagent's on-connect sequence, then the heartbeat. Pure: each step
// is a `studio.<step>` command the WAMP adapter runs (every call bounded by
// -respTimeout), and its outcome comes back as STEP_DONE / STEP_FAILED carrying
// the session number, so answers from a session that is already gone are ignored.
//
//   offline --SESSION_OPENED--> guard --> testament --> configuring --> registering
//     ^                          |  ^ already exists: wait 1 s, up to 8 tries   |
//     |                          v  |                                             v
//     |                        guardWait                            describing --> syncing --> announcing
//     |                                                                                           |
//     +--SESSION_CLOSED (any state)                         online.idle <--heartbeat ok-- online.beating
//                                                             |  every 30 s --------------------^
//     dropping (studio.drop) <-- guard failed otherwise, register failed, 2 heartbeats failed in a row
//     duplicate (studio.duplicate) <-- guard refused as "already exists" 8 times in a row: the link gives up
//
// Steps and what a failure means:
// - guard: register `re.mgmt.<serial>.wamp_connection_established` without
//   force_reregister, before anything else of this session reaches the router
//   (the device API goes with force_reregister and would evict another
//   device's). "already exists" is retried 8 times 1 s apart (our previous
//   session may not be reaped yet); the eighth refusal in a row means another
//   device holds this serial: `studio.duplicate`, and the link stops the
//   daemon with exit 1, as the Reagent does. Any other guard failure drops the
//   session and the connection statechart backs off.
// - testament, status, describe (metadata, architecture, app credential key),
//   sync (requested app states + reconciliation): failures are noted and the
//   sequence goes on; the next connect runs them again.
// - register (the device API and the log meta subscriptions): without it the
//   device is unreachable, so a failure drops the session.
// - heartbeat: `update_device_status` every 30 s; two failures in a row mean
//   the link is lost even if the socket looks alive.
import { assign, emit, setup } from 'xstate';

export const STUDIO_SESSION_VERSION = 2;

export interface StudioSessionPolicy {
  heartbeatIntervalMs: number;
  /** Consecutive heartbeat failures that count as a lost link. */
  heartbeatMaxFailures: number;
  guardRetryMs: number;
  /** Refusals ("already exists") of the duplicate-serial guard in a row before the link gives up. */
  guardMaxAttempts: number;
}

/** The Reagent's numbers (messenger/wamp.go, agent.go). */
export const DEFAULT_STUDIO_SESSION_POLICY: StudioSessionPolicy = {
  heartbeatIntervalMs: 30_000,
  heartbeatMaxFailures: 2,
  guardRetryMs: 1_000,
  guardMaxAttempts: 8,
};

export const SEQUENCE_STEPS = ['guard', 'testament', 'configuring', 'register', 'describe', 'sync', 'connected'] as const;
export type SessionStep = (typeof SEQUENCE_STEPS)[number] | 'heartbeat';

export type DeviceStatus = 'CONFIGURING' | 'CONNECTED';

export interface StudioSessionInput {
  serial: string;
  policy: StudioSessionPolicy;
}

export interface StudioSessionContext extends StudioSessionInput {
  /** Number of the live session (the connection statechart's count), null while offline. */
  session: number | null;
  /** The router's WAMP session id, as reported in the testament and status calls. */
  wampSession: number | null;
  guardAttempts: number;
  heartbeatFailures: number;
  /** Non-fatal step failures of the current session, for the inspector and the log. */
  notes: string[];
  /** Why the last session was dropped by us, if it was. */
  dropReason: string | null;
  /** Sessions that reached `online`. */
  onlineCount: number;
}

type Stamp = { at: number; rand: number };
/** What adapters send (no runtime stamp). */
export type StudioSessionInbound =
  | { type: 'SESSION_OPENED'; session: number; wampSession: number }
  | { type: 'SESSION_CLOSED'; session?: number; reason?: string }
  | { type: 'STEP_DONE'; session: number; step: SessionStep; [detail: string]: unknown }
  | { type: 'STEP_FAILED'; session: number; step: SessionStep; reason: string; retryable?: boolean };

/** What the machine sees: the inbound event stamped by the runtime. */
export type StudioSessionEvent = Stamp & StudioSessionInbound;

export type StudioSessionCommand =
  | { type: 'studio.guard'; session: number; attempt: number }
  | { type: 'studio.testament'; session: number; wampSession: number }
  | { type: 'studio.status'; session: number; wampSession: number; status: DeviceStatus }
  | { type: 'studio.register'; session: number }
  | { type: 'studio.describe'; session: number }
  | { type: 'studio.sync'; session: number }
  | { type: 'studio.ready'; session: number }
  | { type: 'studio.heartbeat'; session: number; wampSession: number }
  | { type: 'studio.drop'; session: number; reason: string }
  | { type: 'studio.duplicate'; session: number; serial: string; attempts: number; reason: string };

/** An outcome of `step` in the live session; anything else is a late answer from a dead one. */
function isOutcome(context: StudioSessionContext, event: StudioSessionEvent, step: SessionStep): boolean {
  return (event.type === 'STEP_DONE' || event.type === 'STEP_FAILED') && event.session === context.session && event.step === step;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' && v !== '' ? v : fallback;
}

export const studioSessionMachine = setup({
  types: {
    context: {} as StudioSessionContext,
    input: {} as StudioSessionInput,
    events: {} as StudioSessionEvent,
    emitted: {} as StudioSessionCommand,
  },
  delays: {
    guardRetry: ({ context }) => context.policy.guardRetryMs,
    heartbeatInterval: ({ context }) => context.policy.heartbeatIntervalMs,
  },
  guards: {
    outcomeOf: ({ context, event }, params: { step: SessionStep }) => isOutcome(context, event, params.step),
    guardMayRetry: ({ context, event }) =>
      isOutcome(context, event, 'guard') &&
      event.type === 'STEP_FAILED' &&
      event.retryable === true &&
      context.guardAttempts < context.policy.guardMaxAttempts,
    guardExhausted: ({ context, event }) => isOutcome(context, event, 'guard') && event.type === 'STEP_FAILED' && event.retryable === true,
    heartbeatsExhausted: ({ context, event }) =>
      isOutcome(context, event, 'heartbeat') && context.heartbeatFailures + 1 >= context.policy.heartbeatMaxFailures,
    isCurrentOrUnnumbered: ({ context, event }) => event.type === 'SESSION_CLOSED' && (event.session === undefined || event.session === context.session),
  },
  actions: {
    begin: assign(({ event }) => {
      const e = event as { session?: unknown; wampSession?: unknown };
      return {
        session: num(e.session) ?? 0,
        wampSession: num(e.wampSession),
        guardAttempts: 0,
        heartbeatFailures: 0,
        notes: [] as string[],
        dropReason: null,
      };
    }),
    end: assign({ session: () => null, wampSession: () => null, guardAttempts: () => 0, heartbeatFailures: () => 0 }),
    countGuard: assign({ guardAttempts: ({ context }) => context.guardAttempts + 1 }),
    note: assign({
      notes: ({ context, event }) => {
        const e = event as { step?: unknown; reason?: unknown };
        return [...context.notes, `${str(e.step, 'step')}: ${str(e.reason, 'failed')}`].slice(-20);
      },
    }),
    heartbeatOk: assign({ heartbeatFailures: () => 0 }),
    heartbeatFailed: assign({ heartbeatFailures: ({ context }) => context.heartbeatFailures + 1 }),
    countOnline: assign({ onlineCount: ({ context }) => context.onlineCount + 1 }),
    setDropReason: assign((_, params: { reason: string }) => ({ dropReason: params.reason })),
    dropFromFailure: assign({
      dropReason: ({ event }) => {
        const e = event as { step?: unknown; reason?: unknown };
        return `${str(e.step, 'step')} failed: ${str(e.reason, 'unknown error')}`;
      },
    }),
    requestGuard: emit(({ context }) => ({ type: 'studio.guard' as const, session: context.session ?? 0, attempt: context.guardAttempts })),
    requestTestament: emit(({ context }) => ({ type: 'studio.testament' as const, session: context.session ?? 0, wampSession: context.wampSession ?? 0 })),
    requestStatus: emit(({ context }, params: { status: DeviceStatus }) => ({
      type: 'studio.status' as const,
      session: context.session ?? 0,
      wampSession: context.wampSession ?? 0,
      status: params.status,
    })),
    requestRegister: emit(({ context }) => ({ type: 'studio.register' as const, session: context.session ?? 0 })),
    requestDescribe: emit(({ context }) => ({ type: 'studio.describe' as const, session: context.session ?? 0 })),
    requestSync: emit(({ context }) => ({ type: 'studio.sync' as const, session: context.session ?? 0 })),
    announceReady: emit(({ context }) => ({ type: 'studio.ready' as const, session: context.session ?? 0 })),
    requestHeartbeat: emit(({ context }) => ({ type: 'studio.heartbeat' as const, session: context.session ?? 0, wampSession: context.wampSession ?? 0 })),
    requestDrop: emit(({ context }) => ({ type: 'studio.drop' as const, session: context.session ?? 0, reason: context.dropReason ?? 'dropped' })),
    giveUp: emit(({ context }) => ({
      type: 'studio.duplicate' as const,
      session: context.session ?? 0,
      serial: context.serial,
      attempts: context.guardAttempts,
      reason: context.dropReason ?? 'duplicate serial',
    })),
  },
}).createMachine({
  id: 'studioSession',
  initial: 'offline',
  context: ({ input }) => ({
    serial: input.serial,
    policy: input.policy,
    session: null,
    wampSession: null,
    guardAttempts: 0,
    heartbeatFailures: 0,
    notes: [],
    dropReason: null,
    onlineCount: 0,
  }),
  on: {
    // A new session always starts the sequence over, whatever the old one was doing.
    SESSION_OPENED: { target: '.guard', actions: 'begin', reenter: true },
    SESSION_CLOSED: { guard: 'isCurrentOrUnnumbered', target: '.offline', actions: 'end' },
  },
  states: {
    offline: {},
    guard: {
      entry: ['countGuard', 'requestGuard'],
      on: {
        STEP_DONE: { guard: { type: 'outcomeOf', params: { step: 'guard' } }, target: 'testament' },
        STEP_FAILED: [
          { guard: 'guardMayRetry', target: 'guardWait' },
          { guard: 'guardExhausted', target: 'duplicate', actions: 'dropFromFailure' },
          { guard: { type: 'outcomeOf', params: { step: 'guard' } }, target: 'dropping', actions: 'dropFromFailure' },
        ],
      },
    },
    guardWait: {
      after: { guardRetry: 'guard' },
    },
    testament: {
      entry: 'requestTestament',
      on: {
        STEP_DONE: { guard: { type: 'outcomeOf', params: { step: 'testament' } }, target: 'configuring' },
        STEP_FAILED: { guard: { type: 'outcomeOf', params: { step: 'testament' } }, target: 'configuring', actions: 'note' },
      },
    },
    configuring: {
      entry: { type: 'requestStatus', params: { status: 'CONFIGURING' } },
      on: {
        STEP_DONE: { guard: { type: 'outcomeOf', params: { step: 'configuring' } }, target: 'registering' },
        STEP_FAILED: { guard: { type: 'outcomeOf', params: { step: 'configuring' } }, target: 'registering', actions: 'note' },
      },
    },
    registering: {
      entry: 'requestRegister',
      on: {
        STEP_DONE: { guard: { type: 'outcomeOf', params: { step: 'register' } }, target: 'describing' },
        STEP_FAILED: { guard: { type: 'outcomeOf', params: { step: 'register' } }, target: 'dropping', actions: 'dropFromFailure' },
      },
    },
    describing: {
      entry: 'requestDescribe',
      on: {
        STEP_DONE: { guard: { type: 'outcomeOf', params: { step: 'describe' } }, target: 'syncing' },
        STEP_FAILED: { guard: { type: 'outcomeOf', params: { step: 'describe' } }, target: 'syncing', actions: 'note' },
      },
    },
    syncing: {
      entry: 'requestSync',
      on: {
        STEP_DONE: { guard: { type: 'outcomeOf', params: { step: 'sync' } }, target: 'announcing' },
        STEP_FAILED: { guard: { type: 'outcomeOf', params: { step: 'sync' } }, target: 'announcing', actions: 'note' },
      },
    },
    announcing: {
      entry: { type: 'requestStatus', params: { status: 'CONNECTED' } },
      on: {
        STEP_DONE: { guard: { type: 'outcomeOf', params: { step: 'connected' } }, target: 'online' },
        STEP_FAILED: { guard: { type: 'outcomeOf', params: { step: 'connected' } }, target: 'online', actions: 'note' },
      },
    },
    online: {
      entry: ['countOnline', 'announceReady'],
      initial: 'idle',
      states: {
        idle: {
          after: { heartbeatInterval: 'beating' },
        },
        beating: {
          entry: 'requestHeartbeat',
          on: {
            STEP_DONE: { guard: { type: 'outcomeOf', params: { step: 'heartbeat' } }, target: 'idle', actions: 'heartbeatOk' },
            STEP_FAILED: [
              {
                guard: 'heartbeatsExhausted',
                target: '#studioSession.dropping',
                actions: ['heartbeatFailed', { type: 'setDropReason', params: { reason: 'heartbeat failed twice in a row: link lost' } }],
              },
              { guard: { type: 'outcomeOf', params: { step: 'heartbeat' } }, target: 'idle', actions: ['heartbeatFailed', 'note'] },
            ],
          },
        },
      },
    },
    dropping: {
      entry: 'requestDrop',
    },
    // Stays here when the session closes: the inspector and a replay show why the link ended.
    duplicate: {
      entry: 'giveUp',
      on: { SESSION_CLOSED: { actions: 'end' } },
    },
  },
});

export type StudioSessionMachine = typeof studioSessionMachine;
