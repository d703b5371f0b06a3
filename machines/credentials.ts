// Where the gateway link's credentials come from: hoop's documented load
// order, as a statechart. Pure: every look-up (environment, agent.toml, a
// probe of the local gateway, registering, minting a token, saving it) is a
// `creds.*` command for the credentials adapter, whose answer comes back as
// an event. Secrets never enter this machine: events say *that* a source has
// a token and where it points, the adapter keeps the token itself.
//
//   idle -START-> readingEnv -+- AUTO_REGISTER ------> registering -REGISTERED-> ready
//                             +- HOOP_KEY / env pair -------------------------> ready
//                             +- neither -> readingFile -+- agent.toml -------> ready
//                                                        +- absent, daemon ---> none
//                                                        +- absent, `start agent`
//                                        probingLocal <--+
//                                  open -> ready (local)
//                                closed -> minting -> webRegister -ACCEPTED-> persisting -> registered
//                                                      | 30 failed attempts
//                                                      v
//                                                    gaveUp
import { assign, emit, setup } from 'xstate';

export const CREDENTIALS_MACHINE_VERSION = 1;

/** Where the credentials came from; also the `mode=` of the start-up line. */
export type CredentialMode = 'auto-register' | 'dsn' | 'env' | 'file' | 'local' | 'web-register';

/** Where to connect and whether with TLS; never the token. */
export interface GatewayTarget {
  grpcServer: string;
  tls: boolean;
}

export interface CredentialsInput {
  /** `reagent start agent`: walk on to local mode and web registration when nothing else is configured. */
  gatewayOnly: boolean;
  /** hoop's legacy cadence: connect every 7 s, give up after 30 attempts. */
  webRegister: { intervalMs: number; maxAttempts: number };
  /** Pause between attempts to register with a local gateway that is not up yet. */
  autoRegisterRetryMs: number;
}

export interface CredentialsContext extends CredentialsInput {
  mode: CredentialMode | null;
  target: GatewayTarget | null;
  /** Failed connection attempts during web registration. */
  attempts: number;
  bannerShown: boolean;
  problem: string | null;
}

type Stamp = { at: number; rand: number };
export type CredentialsEvent = Stamp &
  (
    | { type: 'START' }
    | { type: 'STOP' }
    | { type: 'ENV_READ'; autoRegister: boolean; dsn: GatewayTarget | null; envPair: GatewayTarget | null }
    | { type: 'REGISTERED'; target: GatewayTarget }
    | { type: 'REGISTER_FAILED'; reason: string }
    | { type: 'FILE_READ'; target: GatewayTarget | null }
    | { type: 'FILE_INVALID'; reason: string }
    | { type: 'LOCAL_PROBED'; target: GatewayTarget | null }
    | { type: 'MINTED'; target: GatewayTarget }
    | { type: 'ATTEMPT_FAILED'; code: string; reason: string }
    | { type: 'ACCEPTED' }
    | { type: 'PERSISTED' }
    | { type: 'PERSIST_FAILED'; reason: string }
  );

/** The gRPC status name hoop's web registration waits through (token not registered yet). */
export const UNAUTHENTICATED = 'UNAUTHENTICATED';

function targetOf(event: { target?: unknown }): GatewayTarget | null {
  const t = event.target as GatewayTarget | null | undefined;
  return t && typeof t.grpcServer === 'string' && typeof t.tls === 'boolean' ? t : null;
}

export const credentialsMachine = setup({
  types: {
    context: {} as CredentialsContext,
    input: {} as CredentialsInput,
    events: {} as CredentialsEvent,
    emitted: {} as { type: string; [k: string]: unknown },
  },
  delays: {
    registerRetry: ({ context }) => context.autoRegisterRetryMs,
  },
  guards: {
    autoRegister: ({ event }) => event.type === 'ENV_READ' && event.autoRegister,
    hasDsn: ({ event }) => event.type === 'ENV_READ' && event.dsn !== null,
    hasEnvPair: ({ event }) => event.type === 'ENV_READ' && event.envPair !== null,
    found: ({ event }) => targetOf(event as { target?: unknown }) !== null,
    walksOn: ({ context }) => context.gatewayOnly,
    lastAttempt: ({ context }) => context.attempts + 1 >= context.webRegister.maxAttempts,
    firstRejection: ({ context, event }) => event.type === 'ATTEMPT_FAILED' && event.code === UNAUTHENTICATED && !context.bannerShown,
  },
  actions: {
    useDsn: assign(({ event }) => (event.type === 'ENV_READ' ? { mode: 'dsn' as const, target: event.dsn } : {})),
    useEnvPair: assign(({ event }) => (event.type === 'ENV_READ' ? { mode: 'env' as const, target: event.envPair } : {})),
    useTarget: assign((_, params: { mode: CredentialMode }) => ({ mode: params.mode })),
    keepTarget: assign(({ event }) => ({ target: targetOf(event as { target?: unknown }) })),
    keepProblem: assign(({ event }) => ({ problem: 'reason' in event && typeof event.reason === 'string' ? event.reason : null })),
    countAttempt: assign({ attempts: ({ context }) => context.attempts + 1 }),
    readEnv: emit({ type: 'creds.readEnv' }),
    register: emit({ type: 'creds.register' }),
    readFile: emit({ type: 'creds.readFile' }),
    probeLocal: emit({ type: 'creds.probeLocal' }),
    mint: emit({ type: 'creds.mint' }),
    announceReady: emit(({ context }) => ({
      type: 'creds.ready',
      mode: context.mode,
      grpcServer: context.target?.grpcServer ?? '',
      tls: context.target?.tls ?? true,
      ...(context.mode === 'web-register' ? { retryMs: context.webRegister.intervalMs } : {}),
    })),
    showBanner: emit({ type: 'creds.banner' }),
    markBanner: assign({ bannerShown: () => true }),
    persist: emit({ type: 'creds.persist' }),
    announceNone: emit({ type: 'creds.none' }),
    announceFailed: emit(({ context }) => ({ type: 'creds.failed', reason: context.problem ?? 'unknown problem' })),
    announceGiveUp: emit(({ context }) => ({ type: 'creds.giveUp', attempts: context.attempts })),
  },
}).createMachine({
  id: 'credentials',
  initial: 'idle',
  context: ({ input }) => ({ ...input, mode: null, target: null, attempts: 0, bannerShown: false, problem: null }),
  on: { STOP: '.stopped' },
  states: {
    idle: { on: { START: 'readingEnv' } },
    readingEnv: {
      entry: 'readEnv',
      on: {
        ENV_READ: [
          { guard: 'autoRegister', target: 'registering' },
          { guard: 'hasDsn', target: 'ready', actions: 'useDsn' },
          { guard: 'hasEnvPair', target: 'ready', actions: 'useEnvPair' },
          { target: 'readingFile' },
        ],
      },
    },
    registering: {
      entry: 'register',
      on: {
        REGISTERED: { target: 'ready', actions: ['keepTarget', { type: 'useTarget', params: { mode: 'auto-register' } }] },
        REGISTER_FAILED: { target: 'waitingToRegister', actions: 'keepProblem' },
      },
    },
    waitingToRegister: { after: { registerRetry: 'registering' } },
    readingFile: {
      entry: 'readFile',
      on: {
        FILE_READ: [
          { guard: 'found', target: 'ready', actions: ['keepTarget', { type: 'useTarget', params: { mode: 'file' } }] },
          { guard: 'walksOn', target: 'probingLocal' },
          { target: 'none' },
        ],
        FILE_INVALID: { target: 'failed', actions: 'keepProblem' },
      },
    },
    probingLocal: {
      entry: 'probeLocal',
      on: {
        LOCAL_PROBED: [
          { guard: 'found', target: 'ready', actions: ['keepTarget', { type: 'useTarget', params: { mode: 'local' } }] },
          { target: 'minting' },
        ],
      },
    },
    minting: {
      entry: 'mint',
      on: { MINTED: { target: 'webRegister', actions: ['keepTarget', { type: 'useTarget', params: { mode: 'web-register' } }] } },
    },
    webRegister: {
      entry: 'announceReady',
      on: {
        ATTEMPT_FAILED: [
          { guard: 'lastAttempt', target: 'gaveUp', actions: 'countAttempt' },
          { guard: 'firstRejection', actions: ['countAttempt', 'markBanner', 'showBanner'] },
          { actions: 'countAttempt' },
        ],
        ACCEPTED: 'persisting',
      },
    },
    persisting: {
      entry: 'persist',
      on: {
        PERSISTED: 'registered',
        PERSIST_FAILED: { target: 'registered', actions: 'keepProblem' },
      },
    },
    registered: {},
    ready: { entry: 'announceReady' },
    none: { entry: 'announceNone' },
    failed: { entry: 'announceFailed' },
    gaveUp: { entry: 'announceGiveUp' },
    stopped: { type: 'final' },
  },
});

export type CredentialsMachine = typeof credentialsMachine;
