// The self-update's decisions, as a statechart (README, "Self-update"). Pure:
// the adapter (adapters/update/) fetches the manifest, downloads, swaps the
// `current` link and restarts; results come back as events, and every
// decision is journaled with them.
//
//   idle --CHECK--> checking --MANIFEST newer--> downloading --DOWNLOADED--> swapping --SWAPPED--> handingOver
//     ^                |  not newer, blacklisted,        | DOWNLOAD_FAILED       | SWAP_FAILED          | after restartDelay:
//     +----------------+  CHECK_FAILED                   v                       v                      |   update.handover
//     +<-------------------------------------------------+-----------------------+
//   probation (a start of a freshly installed version): READY and the links it needs within
//   probationMs -> idle (update.commit); else -> rolledBack (update.rollback, then update.handover)
import { assign, emit, setup } from 'xstate';
import { isNewer, probationPassed } from './update-rules.js';

export const UPDATE_MACHINE_VERSION = 1;

export interface UpdateProbation {
  from: string;
  to: string;
  probationMs: number;
  links: string[];
  linksMode: 'all' | 'any';
}

export interface UpdateInput {
  /** The running version. */
  current: string;
  /** null: this agent can update itself; else why not (run from a checkout, no arch build, no URL). */
  cannotUpdate: string | null;
  blacklist: string[];
  /** Set when this start is a new version on probation. */
  probation: UpdateProbation | null;
  /** Between the answer to the studio and the restart, so the answer goes out first. */
  restartDelayMs: number;
}

export interface UpdateContext extends UpdateInput {
  ready: boolean;
  links: Record<string, boolean>;
  /** The version being fetched or installed. */
  target: string | null;
  latest: string | null;
  bytes: number;
}

export type UpdateTrigger = 'start' | 'studio';

export type UpdateEvent =
  | { type: 'CHECK'; trigger: UpdateTrigger }
  | { type: 'MANIFEST'; latest: string }
  | { type: 'CHECK_FAILED'; reason: string }
  | { type: 'DOWNLOADED'; version: string; bytes: number }
  | { type: 'DOWNLOAD_FAILED'; reason: string }
  | { type: 'SWAPPED' }
  | { type: 'SWAP_FAILED'; reason: string }
  | { type: 'READY' }
  | { type: 'LINK'; name: string; up: boolean };

/** What adapters send (the update machine's events carry no stamp it reads). */
export type UpdateInbound = UpdateEvent;

/** What the machine asks of the update adapter. */
export type UpdateCommand =
  | { type: 'update.check' }
  | { type: 'update.download'; version: string }
  | { type: 'update.swap'; from: string; to: string }
  | { type: 'update.handover' }
  | { type: 'update.commit'; from: string; to: string }
  | { type: 'update.rollback'; from: string; to: string; reason: string }
  | UpdateResultCommand;

/** What the studio's update_agent hears (mapped to the Reagent's UpdateResult by the adapter). */
export interface UpdateResultCommand {
  type: 'update.result';
  current: string;
  latest: string;
  message: string;
  didUpdate: boolean;
  inProgress: boolean;
  totalBytes: number;
  [k: string]: unknown;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

const result = (context: UpdateContext, r: Partial<Omit<UpdateResultCommand, 'type'>> & { message: string }): UpdateResultCommand => ({
  type: 'update.result',
  current: context.current,
  latest: context.latest ?? '',
  didUpdate: false,
  inProgress: false,
  totalBytes: 0,
  ...r,
});

export const updateMachine = setup({
  types: {
    context: {} as UpdateContext,
    input: {} as UpdateInput,
    events: {} as UpdateEvent,
    emitted: {} as UpdateCommand,
  },
  delays: {
    probationTimeout: ({ context }) => context.probation?.probationMs ?? 0,
    restartDelay: ({ context }) => context.restartDelayMs,
  },
  guards: {
    onProbation: ({ context }) => context.probation !== null,
    canUpdate: ({ context }) => context.cannotUpdate === null,
    blacklisted: ({ context, event }) => context.blacklist.includes(str((event as { latest?: unknown }).latest)),
    newer: ({ context, event }) => isNewer(str((event as { latest?: unknown }).latest), context.current),
    passed: ({ context }) => {
      const p = context.probation;
      return p !== null && probationPassed(context.ready, context.links, p.links, p.linksMode);
    },
  },
  actions: {
    noteReady: assign({ ready: () => true }),
    noteLink: assign({
      links: ({ context, event }) => (event.type === 'LINK' ? { ...context.links, [str(event.name)]: event.up === true } : context.links),
    }),
    noteLatest: assign({ latest: ({ event }) => str((event as { latest?: unknown }).latest) }),
    target: assign({ target: ({ event }) => str((event as { latest?: unknown }).latest) }),
    noteBytes: assign({ bytes: ({ event }) => num((event as { bytes?: unknown }).bytes) }),
    requestCheck: emit({ type: 'update.check' }),
    requestDownload: emit(({ event }) => ({ type: 'update.download', version: str((event as { latest?: unknown }).latest) })),
    requestSwap: emit(({ context }) => ({ type: 'update.swap', from: context.current, to: context.target ?? '' })),
    requestHandover: emit({ type: 'update.handover' }),
    commit: emit(({ context }) => ({ type: 'update.commit', from: context.probation?.from ?? '', to: context.current })),
    rollback: emit(({ context }) => ({
      type: 'update.rollback',
      from: context.probation?.from ?? '',
      to: context.current,
      reason: `${context.current} did not become ready${context.probation?.links.length ? ` with ${context.probation.linksMode === 'all' ? 'its links' : 'a link'} (${context.probation.links.join(', ')}) up` : ''} within ${Math.round((context.probation?.probationMs ?? 0) / 1000)} s`,
    })),
    cannot: emit(({ context }) => result(context, { message: `this agent cannot update itself: ${context.cannotUpdate ?? ''}` })),
    busy: emit(({ context }) =>
      result(context, {
        inProgress: true,
        message: context.probation ? `version ${context.current} is on probation` : `an update${context.target ? ` to ${context.target}` : ''} is in progress`,
      }),
    ),
    upToDate: emit(({ context, event }) => result(context, { latest: str((event as { latest?: unknown }).latest), message: `${context.current} is the latest version` })),
    refuseBlacklisted: emit(({ context, event }) =>
      result(context, { latest: str((event as { latest?: unknown }).latest), message: `${str((event as { latest?: unknown }).latest)} failed its probation on this device before; it is not installed again` }),
    ),
    failed: emit(({ context, event }) => result(context, { message: `update failed: ${str((event as { reason?: unknown }).reason)}` })),
    installed: emit(({ context, event }) =>
      result(context, {
        latest: str((event as { version?: unknown }).version),
        didUpdate: true,
        totalBytes: num((event as { bytes?: unknown }).bytes),
        message: `installed ${str((event as { version?: unknown }).version)}; the agent restarts into it now`,
      }),
    ),
    clearTarget: assign({ target: () => null }),
  },
}).createMachine({
  id: 'update',
  context: ({ input }) => ({ ...input, blacklist: [...input.blacklist], ready: false, links: {}, target: null, latest: null, bytes: 0 }),
  initial: 'start',
  on: {
    READY: { actions: 'noteReady' },
    LINK: { actions: 'noteLink' },
  },
  states: {
    start: {
      always: [{ guard: 'onProbation', target: 'probation' }, { target: 'idle' }],
    },
    probation: {
      always: { guard: 'passed', target: 'idle', actions: 'commit' },
      after: { probationTimeout: { target: 'rolledBack', actions: 'rollback' } },
      on: {
        CHECK: { actions: 'busy' },
      },
    },
    rolledBack: {
      entry: 'requestHandover',
      on: { CHECK: { actions: 'busy' } },
    },
    idle: {
      on: {
        CHECK: [{ guard: 'canUpdate', target: 'checking', actions: 'requestCheck' }, { actions: 'cannot' }],
      },
    },
    checking: {
      on: {
        CHECK: { actions: 'busy' },
        MANIFEST: [
          { guard: 'blacklisted', target: 'idle', actions: ['noteLatest', 'refuseBlacklisted'] },
          { guard: 'newer', target: 'downloading', actions: ['noteLatest', 'target', 'requestDownload'] },
          { target: 'idle', actions: ['noteLatest', 'upToDate'] },
        ],
        CHECK_FAILED: { target: 'idle', actions: 'failed' },
      },
    },
    downloading: {
      on: {
        CHECK: { actions: 'busy' },
        DOWNLOADED: { target: 'swapping', actions: ['noteBytes', 'installed', 'requestSwap'] },
        DOWNLOAD_FAILED: { target: 'idle', actions: ['failed', 'clearTarget'] },
      },
    },
    swapping: {
      on: {
        CHECK: { actions: 'busy' },
        SWAPPED: 'handingOver',
        SWAP_FAILED: { target: 'idle', actions: ['failed', 'clearTarget'] },
      },
    },
    handingOver: {
      after: { restartDelay: { actions: 'requestHandover' } },
      on: { CHECK: { actions: 'busy' } },
    },
  },
});

export type UpdateMachine = typeof updateMachine;
