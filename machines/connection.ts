// The generic connection lifecycle shared by the studio link (WAMP) and the
// gateway link (gRPC). Pure: commands go out with emit(), transport results
// come back as events, delays come from the policy in the input, jitter from
// the `rand` the runtime stamps on every event.
//
//   idle --START--> connecting --CONNECTED--> connected.alive <-PONG- connected.awaitingPong
//                    |  ^   \                     |  pingInterval ->      | pingInterval (no pong)
//    CONNECT_FAILED, |  |    connectTimeout        DISCONNECTED           v
//    DISCONNECTED    v  |backoff delay             \------------------> backoff
//                  backoff <-----------------------------------------------/
//   STOP from anywhere -> idle (with a `<link>.disconnect` command)
//
// What resets the backoff is the policy's `resetOn`: hoop's gateway link
// resets after a connection that lived `resetAfterMs` ('uptime', hoop #489);
// the studio link after a session its link reported ESTABLISHED (the
// on-connect sequence completed), so the first retry after losing a working
// session waits only the first delay, and the exponent grows only across
// failed attempts in a row.
import { assign, emit, setup } from 'xstate';
import { backoffDelay, type BackoffPolicy } from './backoff.js';

/** Journaled with every spawn; bump when the machine changes what it does (README in spec/fixtures/recordings). */
export const CONNECTION_MACHINE_VERSION = 2;

/** What starts the next backoff from its first delay. */
export type BackoffReset = 'uptime' | 'established';

export interface ConnectionPolicy {
  /** Bound of one attempt; 0 means no bound (the Reagent's `-connTimeout 0`). */
  connectTimeoutMs: number;
  /** Ping interval; a missing pong for one more interval is a dead link. 0 disables it. */
  pingIntervalMs: number;
  backoff: BackoffPolicy;
  /** With `resetOn` 'uptime': a connection that lived at least this long starts the next backoff from scratch. */
  resetAfterMs: number;
  /**
   * 'uptime' (the default; hoop's rule): `resetAfterMs` of connection decides.
   * 'established': a connection the link reported ESTABLISHED on (whatever its
   * age) does, and nothing else; every failed attempt in a row grows the delay.
   */
  resetOn?: BackoffReset;
}

export interface ConnectionInput {
  /** Command prefix of the adapter that owns the transport, e.g. `wamp` or `grpc`. */
  link: string;
  policy: ConnectionPolicy;
}

export interface ConnectionContext extends ConnectionInput {
  /** Attempts since the last reset; the backoff exponent. */
  attempt: number;
  /** Delay chosen for the current backoff (ms). */
  delayMs: number;
  connectedAt: number | null;
  /** The link reported the current connection ESTABLISHED (its own handshake on top of ours completed). */
  established: boolean;
  lastError: string | null;
  /** Successful connects in this run (the studio link re-runs its on-connect sequence each time). */
  sessions: number;
}

/** What a link adapter sends. `code`: the transport's status code, journaled for the inspector; the machine ignores it. */
export type ConnectionInbound =
  | { type: 'START' }
  | { type: 'STOP'; reason?: string }
  | { type: 'CONNECTED' }
  | { type: 'CONNECT_FAILED'; reason: string; code?: string; authFailed?: boolean }
  | { type: 'DISCONNECTED'; reason: string; retryNow?: boolean; code?: string }
  | { type: 'PONG' }
  | { type: 'ESTABLISHED' }
  /**
   * A packet the gateway link refused: journaled for the record; the machine
   * has no transition for it. Its journaled payload also has the packet's
   * `type` (hence the index signature), which the event's own type hides from the machine.
   */
  | { type: 'PACKET_REJECTED'; sid: string | null; reason: string; [field: string]: unknown };

/** What the machine sees: the inbound event stamped by the runtime. */
export type ConnectionEvent = ConnectionInbound & { at: number; rand: number };

/** The command prefixes of the links that run a connection machine (its input's `link`). */
export type LinkPrefix = 'wamp' | 'grpc';

/** What the machine asks of the link `L` that owns the transport. */
export type ConnectionCommand<L extends string = LinkPrefix> = L extends string
  ?
      | { type: `${L}.connect`; attempt: number }
      | { type: `${L}.disconnect`; reason: string }
      | { type: `${L}.ping` }
      | { type: `${L}.online`; session: number }
  : never;

/** Events that may carry a failure reason; timer events carry none. */
function reasonOf(event: { type: string; reason?: unknown }, fallback: string): string {
  return typeof event.reason === 'string' && event.reason !== '' ? event.reason : fallback;
}

function randOf(event: { rand?: unknown }): number {
  return typeof event.rand === 'number' ? event.rand : 0;
}

function atOf(event: { at?: unknown }): number | null {
  return typeof event.at === 'number' ? event.at : null;
}

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    input: {} as ConnectionInput,
    events: {} as ConnectionEvent,
    emitted: {} as ConnectionCommand<string>,
  },
  delays: {
    connectTimeout: ({ context }) => context.policy.connectTimeoutMs,
    pingInterval: ({ context }) => context.policy.pingIntervalMs,
    backoffDelay: ({ context }) => context.delayMs,
  },
  guards: {
    hasConnectTimeout: ({ context }) => context.policy.connectTimeoutMs > 0,
    pingEnabled: ({ context }) => context.policy.pingIntervalMs > 0,
    wantsImmediateRetry: ({ event }) => event.type === 'DISCONNECTED' && event.retryNow === true,
  },
  actions: {
    requestConnect: emit(({ context }) => ({ type: `${context.link}.connect`, attempt: context.attempt })),
    requestDisconnect: emit(({ context }) => ({ type: `${context.link}.disconnect`, reason: context.lastError ?? 'stopped' })),
    requestPing: emit(({ context }) => ({ type: `${context.link}.ping` })),
    announceConnected: emit(({ context }) => ({ type: `${context.link}.online`, session: context.sessions })),
    countAttempt: assign({ attempt: ({ context }) => context.attempt + 1 }),
    markConnected: assign({
      connectedAt: ({ event }) => atOf(event),
      established: () => false,
      lastError: () => null,
      sessions: ({ context }) => context.sessions + 1,
    }),
    markEstablished: assign({ established: () => true }),
    /**
     * Records why the link failed and picks the next delay. The end of a
     * connection that counts as a success under `resetOn` resets the exponent,
     * so one flap after a day online does not wait the maximum.
     */
    scheduleRetry: assign(({ context, event }) => {
      const at = atOf(event);
      const reset =
        (context.policy.resetOn ?? 'uptime') === 'established'
          ? context.established
          : context.connectedAt !== null && at !== null && at - context.connectedAt >= context.policy.resetAfterMs;
      const attempt = reset ? 1 : Math.max(1, context.attempt);
      return {
        attempt,
        connectedAt: null,
        established: false,
        lastError: reasonOf(event, context.lastError ?? 'connection failed'),
        delayMs: backoffDelay(context.policy.backoff, attempt, randOf(event)),
      };
    }),
    failWith: assign((_, params: { reason: string }) => ({ lastError: params.reason })),
    retryImmediately: assign({ attempt: () => 0, delayMs: () => 0, connectedAt: () => null, established: () => false }),
    forget: assign({ attempt: () => 0, connectedAt: () => null, established: () => false, lastError: () => null, delayMs: () => 0 }),
  },
}).createMachine({
  id: 'connection',
  initial: 'idle',
  context: ({ input }) => ({
    link: input.link,
    policy: input.policy,
    attempt: 0,
    delayMs: 0,
    connectedAt: null,
    established: false,
    lastError: null,
    sessions: 0,
  }),
  states: {
    idle: {
      on: { START: 'connecting' },
    },
    connecting: {
      entry: ['countAttempt', 'requestConnect'],
      after: {
        connectTimeout: {
          guard: 'hasConnectTimeout',
          target: 'backoff',
          actions: [{ type: 'failWith', params: { reason: 'connect timeout' } }, 'requestDisconnect', 'scheduleRetry'],
        },
      },
      on: {
        CONNECTED: 'connected',
        CONNECT_FAILED: { target: 'backoff', actions: 'scheduleRetry' },
        DISCONNECTED: { target: 'backoff', actions: 'scheduleRetry' },
        STOP: { target: 'idle', actions: ['requestDisconnect', 'forget'] },
      },
    },
    connected: {
      entry: ['markConnected', 'announceConnected'],
      initial: 'alive',
      states: {
        alive: {
          after: { pingInterval: { guard: 'pingEnabled', target: 'awaitingPong' } },
          on: { PONG: { target: 'alive', reenter: true } },
        },
        awaitingPong: {
          entry: 'requestPing',
          after: {
            pingInterval: {
              target: '#connection.backoff',
              actions: [{ type: 'failWith', params: { reason: 'ping timeout' } }, 'requestDisconnect', 'scheduleRetry'],
            },
          },
          on: { PONG: 'alive' },
        },
      },
      on: {
        ESTABLISHED: { actions: 'markEstablished' },
        DISCONNECTED: [
          { guard: 'wantsImmediateRetry', target: 'connecting', actions: 'retryImmediately' },
          { target: 'backoff', actions: 'scheduleRetry' },
        ],
        STOP: { target: 'idle', actions: ['requestDisconnect', 'forget'] },
      },
    },
    backoff: {
      after: { backoffDelay: 'connecting' },
      on: {
        STOP: { target: 'idle', actions: 'forget' },
      },
    },
  },
});

export type ConnectionMachine = typeof connectionMachine;
