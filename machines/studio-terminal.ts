// One studio terminal (the Reagent's §7.4): a shell in an app's container
// (request_terminal_session → start_terminal_session) or on the device
// (init_device_terminal). The machine decides the teardown, so it is bounded
// and replayable: any reason to close (stop_terminal_session, the frontend's
// registration gone, the link lost, the shell's EOF) hangs the shell up, and
// the Reagent's 5 s grace later it is killed. Bytes never pass through here.
//
//   requested -STARTED-> running -CLOSE-> closing -ENDED / after grace (kill)-> closed
//        \------------- CLOSE / ENDED / not started within 60 s ----------------^
//
// Commands: terminal.hangup, terminal.kill, terminal.release (all {sessionId}).
import { assign, emit, setup } from 'xstate';

export const STUDIO_TERMINAL_MACHINE_VERSION = 1;

/** The Reagent's grace periods for drain and EOF. */
export const TERMINAL_GRACE_MS = 5_000;
/** A container terminal requested but never started gives its slot back after this. */
export const TERMINAL_START_TIMEOUT_MS = 60_000;

export interface StudioTerminalInput {
  sessionId: string;
  kind: 'container' | 'device';
  /** The app container, for a container terminal. */
  container: string | null;
  /** `caller_authid` of who asked for it. */
  caller: string;
  graceMs: number;
}

export interface StudioTerminalContext extends StudioTerminalInput {
  /** The frontend's registration whose disappearance ends a container terminal. */
  registrationId: number | null;
  endReason: string | null;
  bytesIn: number;
  bytesOut: number;
}

type Stamp = { at: number; rand: number };
/** What adapters send (no runtime stamp). */
export type StudioTerminalInbound =
  | { type: 'STARTED'; registrationId: number | null }
  | { type: 'CLOSE'; reason: string }
  | { type: 'ENDED'; reason: string; bytesIn: number; bytesOut: number };

/** What the machine sees: the inbound event stamped by the runtime. */
export type StudioTerminalEvent = Stamp & StudioTerminalInbound;

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** What the machine asks of the terminal adapter. */
export type StudioTerminalCommand =
  | { type: 'terminal.hangup'; sessionId: string }
  | { type: 'terminal.kill'; sessionId: string }
  | { type: 'terminal.release'; sessionId: string };

export const studioTerminalMachine = setup({
  types: {
    context: {} as StudioTerminalContext,
    input: {} as StudioTerminalInput,
    events: {} as StudioTerminalEvent,
    emitted: {} as StudioTerminalCommand,
  },
  delays: {
    grace: ({ context }) => Math.max(0, num(context.graceMs)),
    startTimeout: TERMINAL_START_TIMEOUT_MS,
  },
  actions: {
    noteReason: assign(({ context, event }) => ({ endReason: context.endReason ?? ('reason' in event ? String(event.reason) : event.type) })),
    noteBytes: assign(({ event }) => (event.type === 'ENDED' ? { bytesIn: num(event.bytesIn), bytesOut: num(event.bytesOut) } : {})),
    hangup: emit(({ context }) => ({ type: 'terminal.hangup', sessionId: context.sessionId })),
    kill: emit(({ context }) => ({ type: 'terminal.kill', sessionId: context.sessionId })),
    release: emit(({ context }) => ({ type: 'terminal.release', sessionId: context.sessionId })),
  },
}).createMachine({
  id: 'studio-terminal',
  initial: 'requested',
  context: ({ input }) => ({ ...input, registrationId: null, endReason: null, bytesIn: 0, bytesOut: 0 }),
  states: {
    requested: {
      on: {
        STARTED: { target: 'running', actions: assign({ registrationId: ({ event }) => (typeof event.registrationId === 'number' ? event.registrationId : null) }) },
        CLOSE: { target: 'closing', actions: 'noteReason' },
        ENDED: { target: 'closed', actions: ['noteReason', 'noteBytes'] },
      },
      // Nothing runs yet: a request nobody starts is dropped without a hangup.
      after: { startTimeout: { target: 'closed', actions: assign({ endReason: () => 'never started' }) } },
    },
    running: {
      on: {
        CLOSE: { target: 'closing', actions: 'noteReason' },
        ENDED: { target: 'closed', actions: ['noteReason', 'noteBytes'] },
      },
    },
    closing: {
      entry: 'hangup',
      after: { grace: { target: 'closed', actions: ['kill', assign({ endReason: ({ context }) => `${context.endReason ?? 'closed'} (killed after the grace)` })] } },
      on: { ENDED: { target: 'closed', actions: 'noteBytes' } },
    },
    closed: { type: 'final', entry: 'release' },
  },
});

export type StudioTerminalMachine = typeof studioTerminalMachine;
