// The record of one gateway session (one `gateway.session_id`): opened or
// refused, its TCP sub-connections with their byte counts, the exit of an
// exec, and how it ended. It commands nothing; it exists so a session's
// lifecycle is in the journal, replayable and visible in the inspector.
// Relayed bytes themselves never pass through here, only their counts.
//
//   opening -OPENED-> open -CLOSED-> closed
//      \-OPEN_FAILED / CLOSED ----------^
import { assign, setup } from 'xstate';

// v2: interactive terminals (TERMINAL_STARTED / TERMINAL_EXITED, context `terminal`).
export const GATEWAY_SESSION_MACHINE_VERSION = 2;

export interface GatewaySessionInput {
  sid: string;
  /** `gateway.connection_type`: tcp, postgres, command-line, ... */
  connectionType: string;
  connectionName: string;
  verb: string;
  userEmail: string;
}

export interface GatewaySessionContext extends GatewaySessionInput {
  openConnections: number;
  totalConnections: number;
  /** Totals of the connections closed so far: gateway -> target and target -> gateway. */
  bytesIn: number;
  bytesOut: number;
  exitCode: number | null;
  /** The PTY size at spawn when the session is an interactive terminal; null for exec and relays. */
  terminal: { rows: number; cols: number } | null;
  endReason: string | null;
  /** The last few problems (bounded: a session with a flapping target must not grow without end). */
  errors: string[];
}

type Stamp = { at: number; rand: number };
/** What adapters send (no runtime stamp). */
export type GatewaySessionInbound =
  | { type: 'OPENED'; target: string }
  | { type: 'OPEN_FAILED'; reason: string }
  | { type: 'CONNECTION_OPENED'; connection: string }
  | { type: 'CONNECTION_CLOSED'; connection: string; bytesIn: number; bytesOut: number; reason: string }
  | { type: 'EXEC_STARTED'; program: string; args: number }
  | { type: 'EXEC_EXITED'; exitCode: number; stdinBytes: number; stdoutBytes: number; stderrBytes: number }
  | { type: 'TERMINAL_STARTED'; program: string; args: number; rows: number; cols: number }
  | { type: 'TERMINAL_EXITED'; exitCode: number; stdinBytes: number; stdoutBytes: number }
  | { type: 'ERROR'; reason: string }
  | { type: 'CLOSED'; reason: string; exitCode: number | null };

/** What the machine sees: the inbound event stamped by the runtime. */
export type GatewaySessionEvent = Stamp & GatewaySessionInbound;

const MAX_ERRORS = 5;

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function addError(errors: string[], reason: unknown): string[] {
  return [...errors, String(reason)].slice(-MAX_ERRORS);
}

/** The machine only keeps account of a session: it asks for nothing. */
export type GatewaySessionCommand = never;

export const gatewaySessionMachine = setup({
  types: {
    context: {} as GatewaySessionContext,
    input: {} as GatewaySessionInput,
    events: {} as GatewaySessionEvent,
  },
  actions: {
    connectionOpened: assign(({ context }) => ({
      openConnections: context.openConnections + 1,
      totalConnections: context.totalConnections + 1,
    })),
    connectionClosed: assign(({ context, event }) => {
      if (event.type !== 'CONNECTION_CLOSED') return {};
      const failed = event.reason !== 'closed' && event.reason !== 'client closed' && event.reason !== 'target closed';
      return {
        openConnections: Math.max(0, context.openConnections - 1),
        bytesIn: context.bytesIn + num(event.bytesIn),
        bytesOut: context.bytesOut + num(event.bytesOut),
        errors: failed ? addError(context.errors, `connection ${event.connection}: ${event.reason}`) : context.errors,
      };
    }),
    execExited: assign(({ context, event }) =>
      event.type === 'EXEC_EXITED'
        ? { exitCode: event.exitCode, bytesIn: context.bytesIn + num(event.stdinBytes), bytesOut: context.bytesOut + num(event.stdoutBytes) + num(event.stderrBytes) }
        : {},
    ),
    terminalStarted: assign(({ event }) => (event.type === 'TERMINAL_STARTED' ? { terminal: { rows: num(event.rows), cols: num(event.cols) } } : {})),
    terminalExited: assign(({ context, event }) =>
      event.type === 'TERMINAL_EXITED'
        ? { exitCode: event.exitCode, bytesIn: context.bytesIn + num(event.stdinBytes), bytesOut: context.bytesOut + num(event.stdoutBytes) }
        : {},
    ),
    recordError: assign(({ context, event }) => ({ errors: addError(context.errors, 'reason' in event ? event.reason : event.type) })),
    recordEnd: assign(({ context, event }) =>
      event.type === 'CLOSED' ? { endReason: event.reason, exitCode: event.exitCode ?? context.exitCode, openConnections: 0 } : {},
    ),
  },
}).createMachine({
  id: 'gateway-session',
  initial: 'opening',
  context: ({ input }) => ({
    ...input,
    openConnections: 0,
    totalConnections: 0,
    bytesIn: 0,
    bytesOut: 0,
    exitCode: null,
    terminal: null,
    endReason: null,
    errors: [],
  }),
  states: {
    opening: {
      on: {
        OPENED: 'open',
        OPEN_FAILED: { target: 'closed', actions: ['recordError', assign({ endReason: ({ event }) => event.reason, exitCode: () => 254 })] },
        CLOSED: { target: 'closed', actions: 'recordEnd' },
      },
    },
    open: {
      on: {
        CONNECTION_OPENED: { actions: 'connectionOpened' },
        CONNECTION_CLOSED: { actions: 'connectionClosed' },
        EXEC_STARTED: {},
        EXEC_EXITED: { actions: 'execExited' },
        TERMINAL_STARTED: { actions: 'terminalStarted' },
        TERMINAL_EXITED: { actions: 'terminalExited' },
        ERROR: { actions: 'recordError' },
        CLOSED: { target: 'closed', actions: 'recordEnd' },
      },
    },
    closed: { type: 'final' },
  },
});

export type GatewaySessionMachine = typeof gatewaySessionMachine;
