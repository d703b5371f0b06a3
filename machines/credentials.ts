// Where the gateway link's credentials come from: hoop's documented load
// order, as a statechart. Pure: every look-up (environment, agent.toml, a
// probe of the local gateway, registering, minting a token, saving it) is a
// `creds.*` command for the credentials adapter, whose answer comes back as
// an event. Secrets never enter this machine: events say *that* a source has
// a token, where it points and the token's fingerprint (`sha256:…` with the
// device's salt, store/secret-store.ts), so a changed token is visible; the
// adapter keeps the token itself. No field is named like a secret either
// (v1's `dsn` was), so a bug report changes nothing here and replays exactly.
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

/** v2: no field named like a secret (`dsn` became `keyTarget`), token fingerprints in events and context. */
export const CREDENTIALS_MACHINE_VERSION = 2;

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
  /** The fingerprint of the token in use (null in local mode, which sends none). */
  fingerprint: string | null;
}

type Stamp = { at: number; rand: number };
/** What adapters send (no runtime stamp). */
export type CredentialsInbound =
  | { type: 'START' }
  | { type: 'STOP' }
  | {
      type: 'ENV_READ';
      autoRegister: boolean;
      /** HOOP_KEY's gateway, when set. */
      keyTarget: GatewayTarget | null;
      keyFingerprint?: string | null;
      /** HOOP_GRPCURL with HOOP_TOKEN. */
      envPair: GatewayTarget | null;
      pairFingerprint?: string | null;
    }
  | { type: 'REGISTERED'; target: GatewayTarget; fingerprint?: string | null }
  | { type: 'REGISTER_FAILED'; reason: string }
  | { type: 'FILE_READ'; target: GatewayTarget | null; fingerprint?: string | null }
  | { type: 'FILE_INVALID'; reason: string }
  | { type: 'LOCAL_PROBED'; target: GatewayTarget | null }
  | { type: 'MINTED'; target: GatewayTarget; fingerprint?: string | null }
  | { type: 'ATTEMPT_FAILED'; code: string; reason: string }
  | { type: 'ACCEPTED' }
  | { type: 'PERSISTED' }
  | { type: 'PERSIST_FAILED'; reason: string };

/** What the machine sees: the inbound event stamped by the runtime. */
export type CredentialsEvent = Stamp & CredentialsInbound;

/** The gRPC status name hoop's web registration waits through (token not registered yet). */
/** What the machine asks of the gateway link's credentials adapter. */
export type CredentialsCommand =
  | { type: 'creds.readEnv' }
  | { type: 'creds.register' }
  | { type: 'creds.readFile' }
  | { type: 'creds.probeLocal' }
  | { type: 'creds.mint' }
  | { type: 'creds.ready'; mode: CredentialMode | null; grpcServer: string; tls: boolean; retryMs?: number }
  | { type: 'creds.banner' }
  | { type: 'creds.persist' }
  | { type: 'creds.none' }
  | { type: 'creds.failed'; reason: string }
  | { type: 'creds.giveUp'; attempts: number };

export const UNAUTHENTICATED = 'UNAUTHENTICATED';

const FINGERPRINT = /^sha256:[0-9a-f]{16}$/;

/** A fingerprint-shaped string or null: nothing else (least of all a token) is kept. */
function fingerprintOf(v: unknown): string | null {
  return typeof v === 'string' && FINGERPRINT.test(v) ? v : null;
}

function targetOf(event: { target?: unknown }): GatewayTarget | null {
  const t = event.target as GatewayTarget | null | undefined;
  return t && typeof t.grpcServer === 'string' && typeof t.tls === 'boolean' ? t : null;
}

export const credentialsMachine = setup({
  types: {
    context: {} as CredentialsContext,
    input: {} as CredentialsInput,
    events: {} as CredentialsEvent,
    emitted: {} as CredentialsCommand,
  },
  delays: {
    registerRetry: ({ context }) => context.autoRegisterRetryMs,
  },
  guards: {
    autoRegister: ({ event }) => event.type === 'ENV_READ' && event.autoRegister,
    hasKey: ({ event }) => event.type === 'ENV_READ' && targetOf({ target: event.keyTarget }) !== null,
    hasEnvPair: ({ event }) => event.type === 'ENV_READ' && targetOf({ target: event.envPair }) !== null,
    found: ({ event }) => targetOf(event as { target?: unknown }) !== null,
    walksOn: ({ context }) => context.gatewayOnly,
    lastAttempt: ({ context }) => context.attempts + 1 >= context.webRegister.maxAttempts,
    firstRejection: ({ context, event }) => event.type === 'ATTEMPT_FAILED' && event.code === UNAUTHENTICATED && !context.bannerShown,
  },
  actions: {
    useKey: assign(({ event }) =>
      event.type === 'ENV_READ' ? { mode: 'dsn' as const, target: targetOf({ target: event.keyTarget }), fingerprint: fingerprintOf(event.keyFingerprint) } : {},
    ),
    useEnvPair: assign(({ event }) =>
      event.type === 'ENV_READ' ? { mode: 'env' as const, target: targetOf({ target: event.envPair }), fingerprint: fingerprintOf(event.pairFingerprint) } : {},
    ),
    useTarget: assign((_, params: { mode: CredentialMode }) => ({ mode: params.mode })),
    keepTarget: assign(({ event }) => ({
      target: targetOf(event as { target?: unknown }),
      fingerprint: fingerprintOf((event as { fingerprint?: unknown }).fingerprint),
    })),
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
  context: ({ input }) => ({ ...input, mode: null, target: null, attempts: 0, bannerShown: false, problem: null, fingerprint: null }),
  on: { STOP: '.stopped' },
  states: {
    idle: { on: { START: 'readingEnv' } },
    readingEnv: {
      entry: 'readEnv',
      on: {
        ENV_READ: [
          { guard: 'autoRegister', target: 'registering' },
          { guard: 'hasKey', target: 'ready', actions: 'useKey' },
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
