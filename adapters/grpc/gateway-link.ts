// The gateway link: hoop's agent on the actor system. Two actors drive it:
// `gateway-credentials` (machines/credentials.ts) finds the credentials,
// `gateway` (the shared connection statechart, command prefix `grpc`) keeps
// one Connect stream up with hoop's backoff. This file is the glue: it runs
// their commands, turns stream outcomes into their events, and hands the
// packets of a connected stream to the sessions.
import { spawn as spawnChild } from 'node:child_process';
import { tmpdir } from 'node:os';
import type { Logger } from 'pino';
import { isLoopbackHost } from '../../config/loopback.js';
import type { Link, LinkContext } from '../../actors/link.js';
import { actorId, guardExecutors, type ActorId, type ExecutorsFor } from '../../actors/contracts.js';
import type { ActorSystem } from '../../actors/system.js';
import type { MachineCatalog } from '../../machines/catalog.js';
import type { HoopEnv } from '../../config/hoop-env.js';
import type { ConnectionContext, ConnectionPolicy } from '../../machines/connection.js';
import type { CredentialsInput } from '../../machines/credentials.js';
import type { GatewaySessionInbound } from '../../machines/gateway-session.js';
import { UNAUTHENTICATED } from '../../machines/credentials.js';
import type { Redactor } from '../log/redactor.js';
import { CredentialsAdapter, type ResolvedCredentials } from './credentials-adapter.js';
import { routeGrpcLogs } from './grpc-log.js';
import { connectMetadata, goPlatform, hostFacts, userAgent, type HostFacts } from './metadata.js';
import { packet, type Packet } from './packet-codec.js';
import { classifyPacket } from './packet-validation.js';
import { SessionManager } from './sessions/manager.js';
import { join } from 'node:path';
import { loadPty, type Pty } from '../../packaging/pty.js';
import { ledgerPath, sweepLedger, TerminalLedger } from '../terminal/ledger.js';
import { dialTcp } from './sessions/dial.js';
import { envFileDir, prepareEnvFileDir } from './sessions/env.js';
import { checkListener, ownUid, readSocketTable, type OwnerVerdict, type SocketTable } from './socket-owner.js';
import { StreamGate } from './sessions/stream-gate.js';
import { DEFAULT_LIMITS, type Dialer, type PacketSink, type SessionLimits, type SessionRecorder, type Spawner } from './sessions/types.js';
import { channelSecurity, TlsConfigError } from './tls.js';
import { GatewayCall, GatewayTransport, type CallEnd, type KeepalivePolicy } from './transport.js';
import { GatewayPacket, SpecKey } from './wire-names.js';
import { MemorySecretStore } from '../store/secret-store.js';

export const CONNECTION_ACTOR = actorId('connection', 'gateway');
export const CREDENTIALS_ACTOR = actorId('credentials', 'gateway-credentials');
export const SESSION_ACTOR_PREFIX = 'gateway-session:';
const SOURCE = 'grpc';

/** The actor that keeps account of gateway session `sid`. */
export function gatewaySessionActor(sid: string): ActorId<'gateway-session'> {
  return actorId('gateway-session', `${SESSION_ACTOR_PREFIX}${sid}`);
}

/** hoop: 2, 4, 8, 8 ... s, reset after a connection that lived 60 s; 15 s to dial. Jitter is ours. */
export const GATEWAY_POLICY: ConnectionPolicy = {
  connectTimeoutMs: 15_000,
  // Liveness is HTTP/2's job here (keepalive below); hoop's gateway answers no application ping.
  pingIntervalMs: 0,
  backoff: { initialMs: 2000, maxMs: 8000, multiplier: 2, jitter: 0.2 },
  resetAfterMs: 60_000,
};

/** hoop's legacy web registration: connect every 7 s, give up after 30 attempts (~3.5 min). */
export const WEB_REGISTER = { intervalMs: 7000, maxAttempts: 30 } as const;

/**
 * HTTP/2 PINGs find a dead link that TCP would take 15+ minutes to notice.
 * Why not more often: hoop's gateway is grpc-go with the default keepalive
 * enforcement (MinTime 5 min). On a stream it sends nothing on (an idle
 * agent) it counts every ping sooner than 5 min after the last as a strike,
 * and at the third it answers GOAWAY "too_many_pings", dropping the stream
 * and every session on it. Just over 5 min is the fastest interval that
 * gateway never punishes; REAGENT_GRPC_KEEPALIVE_MS sets a shorter one where
 * the gateway allows it (the development gateway allows any).
 */
export const DEFAULT_KEEPALIVE: KeepalivePolicy = { timeMs: 310_000, timeoutMs: 20_000 };

/** hoop's DefaultKeepAlive: a GatewayKeepAlive packet every 10 s. */
export const KEEPALIVE_PACKET_MS = 10_000;

export interface LinkEnd {
  reason: string;
  exitCode: number;
}

export interface GatewayLinkOptions {
  hoop: HoopEnv;
  env: NodeJS.ProcessEnv;
  home: string;
  gatewayOnly: boolean;
  redactor: Redactor;
  out: (text: string) => void;
  version: string;
  debugGrpc: boolean;
  localGateway?: { host: string; port: number };
  probeTimeoutMs?: number;
  webRegister?: { intervalMs: number; maxAttempts: number };
  autoRegisterRetryMs?: number;
  policy?: ConnectionPolicy;
  keepalive?: KeepalivePolicy;
  keepAlivePacketMs?: number;
  limits?: Partial<SessionLimits>;
  dial?: Dialer;
  spawn?: Spawner;
  facts?: HostFacts;
  /** For tests: the kernel's socket table and whose sockets count as trusted (socket-owner.ts). */
  socketTable?: () => SocketTable;
  uid?: number;
  /** Where `filesystem:` session files go (a private directory is made in it); the OS temp dir by default. */
  tmpdir?: string;
  /** node-pty for interactive terminals; loaded from packaging/pty.ts by default. */
  pty?: () => Promise<Pty>;
}

export class GatewayLink implements Link {
  readonly name = 'gateway';
  readonly finished: Promise<LinkEnd>;
  private finish!: (end: LinkEnd) => void;
  private ctx: LinkContext | null = null;
  private log!: Logger;
  private creds!: CredentialsAdapter;
  private resolved: ResolvedCredentials | null = null;
  private transport: GatewayTransport | null = null;
  private call: GatewayCall | null = null;
  private connected = false;
  private sessions: SessionManager | null = null;
  private gate: StreamGate | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private facts: HostFacts | null = null;
  private swapPolicy = false;
  private stopped = false;
  /** The last owner refusal logged, so a squatter on the port is one line, not one per retry. */
  private lastRefusal: string | null = null;
  private envDir: string | null = null;
  private ledger: TerminalLedger | null = null;
  private pty: (() => Promise<Pty>) | null = null;

  constructor(private readonly opts: GatewayLinkOptions) {
    this.finished = new Promise((resolve) => (this.finish = resolve));
  }

  async start(ctx: LinkContext): Promise<void> {
    this.ctx = ctx;
    this.log = ctx.logger;
    routeGrpcLogs(this.log, this.opts.debugGrpc);
    this.facts = this.opts.facts ?? hostFacts(this.opts.version);
    this.prepareEnvFiles(ctx.agentDir);
    this.prepareTerminals(ctx.agentDir);
    const secrets = ctx.secrets ?? new MemorySecretStore();
    this.creds = new CredentialsAdapter(
      {
        system: ctx.system,
        actor: CREDENTIALS_ACTOR,
        hoop: this.opts.hoop,
        env: this.opts.env,
        home: this.opts.home,
        localGateway: this.opts.localGateway,
        probeTimeoutMs: this.opts.probeTimeoutMs,
        logger: this.log,
        redactor: this.opts.redactor,
        out: this.opts.out,
        ...(this.opts.socketTable ? { socketTable: this.opts.socketTable } : {}),
        fingerprint: (value) => secrets.fingerprint(value),
      },
      {
        ready: (c, retryMs) => this.onReady(c, retryMs),
        none: () => this.log.warn('no gateway credentials found (AUTO_REGISTER, HOOP_KEY, HOOP_GRPCURL+HOOP_TOKEN, agent.toml): the gateway link stays idle'),
        failed: (reason) => this.fail(reason),
        gaveUp: (attempts) => this.giveUp(attempts),
        registered: () => {
          this.swapPolicy = true;
        },
      },
    );
    // Left registered after stop(): the STOP it sends still emits a disconnect to run (as a no-op).
    // Both run even while the journal cannot commit (disk full): they are what keeps the device
    // reachable, and they change nothing on the device that a replay would need (README "Full disk").
    ctx.system.handle('creds', guardExecutors(this.credsExecutors(), () => !this.stopped), { beforeDurable: true });
    ctx.system.handle(SOURCE, guardExecutors(this.linkExecutors, () => !this.stopped), { beforeDurable: true });
    const input: CredentialsInput = {
      gatewayOnly: this.opts.gatewayOnly,
      webRegister: this.opts.webRegister ?? WEB_REGISTER,
      autoRegisterRetryMs: this.opts.autoRegisterRetryMs ?? 5000,
    };
    ctx.system.spawn(CREDENTIALS_ACTOR, 'credentials', input);
    ctx.system.send(CREDENTIALS_ACTOR, SOURCE, 'START');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    const system = this.ctx?.system;
    if (system?.has(CONNECTION_ACTOR)) system.send(CONNECTION_ACTOR, SOURCE, 'STOP', { reason: 'agent stopping' });
    if (system?.has(CREDENTIALS_ACTOR)) system.send(CREDENTIALS_ACTOR, SOURCE, 'STOP');
    this.stopped = true;
    // Sessions first: stopping kills terminals at once, where a dropped stream only hangs them up.
    this.sessions?.stop('agent stopping');
    this.dropCall('agent stopping');
    this.transport?.close();
    this.transport = null;
  }

  private credsExecutors(): ExecutorsFor<MachineCatalog, 'creds'> {
    const run = this.creds.executors;
    return {
      ...run,
      'creds.banner': (c, actor) => {
        this.log.info('webregister - the gateway does not know this agent yet: open the URL printed above to register it');
        return run['creds.banner'](c, actor);
      },
    };
  }

  private onReady(c: ResolvedCredentials, retryMs: number | null): void {
    if (this.stopped || !this.ctx) return;
    this.resolved = c;
    const grpcServer = `${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}`;
    let security;
    const settings = { serverName: this.opts.hoop.tlsServerName, ca: this.opts.hoop.tlsCa, skipVerify: this.opts.hoop.tlsSkipVerify };
    const check = { uid: this.uid(), table: this.table(), refused: (v: Exclude<OwnerVerdict, { kind: 'trusted' }>) => this.noteRefusal(v) };
    try {
      security = channelSecurity(c.tls, settings, isLoopbackHost(c.host) ? { kind: 'owner-checked', check } : { kind: 'unchecked' });
    } catch (err) {
      this.fail(err instanceof TlsConfigError ? err.message : `TLS: ${(err as Error).message}`);
      return;
    }
    if (c.tls && this.opts.hoop.tlsSkipVerify) this.log.warn('HOOP_TLS_SKIP_VERIFY=true: the gateway certificate is not verified');
    this.log.info(
      { platform: goPlatform(), mode: c.mode, grpc_server: grpcServer, tls: c.tls },
      `platform=${goPlatform()}, mode=${c.mode}, grpc_server=${grpcServer}, tls=${c.tls} - starting agent`,
    );
    // Credentials that become ready again (a new registration) replace the channel, never add one.
    this.dropCall('new credentials');
    this.transport?.close();
    this.transport = new GatewayTransport({
      address: grpcServer,
      security,
      keepalive: this.opts.keepalive ?? DEFAULT_KEEPALIVE,
      userAgent: userAgent(this.opts.version),
    });
    this.spawnConnection(retryMs);
  }

  /** Web registration connects every `retryMs`; everything else uses hoop's backoff. */
  private spawnConnection(retryMs: number | null): void {
    const system = this.ctx!.system;
    const base = this.opts.policy ?? GATEWAY_POLICY;
    const policy: ConnectionPolicy =
      retryMs === null ? base : { ...base, backoff: { initialMs: retryMs, maxMs: retryMs, multiplier: 1, jitter: 0 }, resetAfterMs: Number.MAX_SAFE_INTEGER };
    system.spawn(CONNECTION_ACTOR, 'connection', { link: SOURCE, policy });
    system.send(CONNECTION_ACTOR, SOURCE, 'START');
  }

  private readonly linkExecutors: ExecutorsFor<MachineCatalog, typeof SOURCE> = {
    'grpc.connect': (c) => this.openCall(c.attempt),
    'grpc.disconnect': (c) => {
      this.log.warn({ reason: c.reason }, `dropping the gateway stream: ${c.reason}`);
      this.dropCall(c.reason);
    },
    'grpc.online': (c) => {
      this.log.info({ grpc_server: this.transport?.options.address, session: c.session }, 'connected with success to the gateway');
    },
    // pingIntervalMs is 0: liveness is HTTP/2 keepalive's job.
    'grpc.ping': () => {},
  };

  private openCall(attempt: number): void {
    if (!this.transport || !this.resolved) return;
    this.dropCall('new attempt');
    const c = this.resolved;
    if (!c.tls) {
      if (isLoopbackHost(c.host)) {
        // Plaintext to this machine: only to a socket of root or our own user (the credential goes in clear).
        const verdict = checkListener(c.host, c.port, this.uid(), this.table()());
        if (verdict.kind !== 'trusted') return this.refuseAttempt(verdict);
      } else {
        this.log.warn(
          { grpc_server: this.transport.options.address },
          `HOOP_GRPC_INSECURE=true: connecting to ${this.transport.options.address} without TLS; the credential and every session travel in clear`,
        );
      }
    }
    if (c.mode === 'web-register') this.log.info(`webregister - connecting, attempt=${attempt}`);
    else this.log.debug({ attempt }, 'connecting to the gateway');
    let md;
    try {
      md = connectMetadata({ token: c.token, facts: this.facts! });
    } catch (err) {
      // readHoopEnv and agent.toml checks catch this before start; a credential from elsewhere must not crash either.
      return this.fail(errorText(err));
    }
    const call: GatewayCall = this.transport.open(md, {
      packet: (p) => this.onPacket(call, p),
      end: (e) => this.onEnd(call, e),
    });
    this.call = call;
    this.connected = false;
  }

  /**
   * Every packet from the gateway comes through here. Whatever goes wrong
   * while handling one refuses that packet (its session, if it has one, is
   * closed with exit code 254) and is logged; it never reaches the event
   * loop as an uncaught exception, so a bad packet cannot stop the daemon.
   */
  private onPacket(call: GatewayCall, p: Packet): void {
    try {
      this.handlePacket(call, p);
    } catch (err) {
      const sid = p.spec.get(SpecKey.GatewaySessionID)?.toString('latin1') ?? null;
      const reason = `internal error while handling ${p.type.slice(0, 64)}: ${this.opts.redactor.scrubString(errorText(err))}`;
      this.log.error({ type: p.type.slice(0, 64), sid, err: errorText(err) }, `refused a packet from the gateway: ${reason}`);
      try {
        if (sid !== null && this.sessions && call === this.call) this.sessions.abort(sid, reason);
        else this.reject(p.type.slice(0, 64), sid, reason);
      } catch (inner) {
        this.log.error({ err: errorText(inner) }, 'could not report a refused packet');
      }
    }
  }

  private handlePacket(call: GatewayCall, p: Packet): void {
    if (call !== this.call) return;
    const msg = classifyPacket(p);
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug({ type: msg.kind === 'invalid' ? msg.type : p.type, sid: 'sid' in msg ? msg.sid : null, bytes: p.payload.length }, 'packet from the gateway');
    }
    if (!this.connected) {
      if (msg.kind !== 'connect-ok') {
        this.reject(msg.kind === 'invalid' ? msg.type : p.type, null, 'packet before AgentGatewayConnectOK');
        return;
      }
      this.onConnected(call);
      return;
    }
    if (msg.kind === 'feature-flags') {
      this.log.debug({ flags: msg.flags }, 'gateway feature flags');
      return;
    }
    this.sessions!.handle(msg);
  }

  private onConnected(call: GatewayCall): void {
    const system = this.ctx!.system;
    this.connected = true;
    this.gate = new StreamGate(call, this.limits().stallMs);
    this.sessions = new SessionManager({
      sink: this.sinkFor(call),
      gate: this.gate,
      recorder: this.recorder(),
      dial: this.opts.dial ?? dialTcp,
      spawn: this.opts.spawn ?? spawnChild,
      limits: this.limits(),
      agentEnv: this.opts.env,
      envDir: this.envDir,
      pty: this.pty ?? undefined,
      ledger: this.ledger,
    });
    // hoop's legacy agent starts its keep-alive on AgentGatewayConnectOK; the gateway ignores them.
    const every = this.opts.keepAlivePacketMs ?? KEEPALIVE_PACKET_MS;
    this.keepAliveTimer = setInterval(() => call.write(packet(GatewayPacket.KeepAlive)), every);
    system.send(CONNECTION_ACTOR, SOURCE, 'CONNECTED');
    if (this.resolved?.mode === 'web-register') system.send(CREDENTIALS_ACTOR, SOURCE, 'ACCEPTED');
  }

  private onEnd(call: GatewayCall, e: CallEnd): void {
    if (call !== this.call) return;
    const wasConnected = this.connected;
    this.dropCall(`stream ended: ${e.code}`);
    if (this.stopped) return;
    const system = this.ctx!.system;
    const reason = this.opts.redactor.scrubString(`${e.code}: ${e.details}`);
    const web = this.resolved?.mode === 'web-register';
    if (wasConnected) {
      if (this.swapPolicy) return this.respawnStandard(reason);
      system.send(CONNECTION_ACTOR, SOURCE, 'DISCONNECTED', { reason, code: e.code, retryNow: e.code === 'CANCELLED' });
    } else {
      system.send(CONNECTION_ACTOR, SOURCE, 'CONNECT_FAILED', { reason, code: e.code });
      if (web && system.has(CREDENTIALS_ACTOR)) system.send(CREDENTIALS_ACTOR, SOURCE, 'ATTEMPT_FAILED', { code: e.code, reason });
    }
    this.explain(e, reason, wasConnected);
  }

  /** Says what happened and when the next attempt is, in the words a user can act on. */
  private explain(e: CallEnd, reason: string, wasConnected: boolean): void {
    const snap = this.ctx!.system.snapshot(CONNECTION_ACTOR);
    const c = snap?.context as ConnectionContext | undefined;
    const retry = snap && JSON.stringify(snap.value) === '"backoff"' ? `retrying in ${((c?.delayMs ?? 0) / 1000).toFixed(1)}s` : 'retrying now';
    const server = this.transport?.options.address ?? '';
    const fields = { grpc_server: server, code: e.code, backoff: c?.delayMs ?? 0, attempt: c?.attempt ?? 0 };
    const mode = this.resolved?.mode;
    if (e.code === UNAUTHENTICATED) {
      if (mode === 'web-register') {
        this.log.info(fields, `webregister - not registered yet, ${retry}`);
        return;
      }
      this.log.error(fields, `unauthenticated: the gateway at ${server} refused this agent's credentials (${credentialHint(mode)}); ${retry}`);
    } else if (e.code === 'FAILED_PRECONDITION' && /already connected/i.test(e.details)) {
      this.log.warn(fields, `the gateway says this agent is already connected: another agent runs with the same credentials, or the gateway has not noticed the previous stream is gone; ${retry}`);
    } else if (wasConnected) {
      this.log.warn(fields, `disconnected from ${server}, reason=${reason}, ${retry}`);
    } else {
      this.log.warn(fields, `failed connecting to ${server}, reason=${reason}${tlsHint(e.details)}, ${retry}`);
    }
  }

  /** After a web registration the link leaves the 7 s cadence for hoop's normal backoff. */
  private respawnStandard(reason: string): void {
    const system = this.ctx!.system;
    this.swapPolicy = false;
    this.log.warn({ reason }, `disconnected from ${this.transport?.options.address}, reason=${reason}; reconnecting with the registered token`);
    system.stop(CONNECTION_ACTOR);
    this.spawnConnection(null);
  }

  private dropCall(reason: string): void {
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = null;
    this.gate?.reset();
    this.gate = null;
    this.sessions?.closeAll(reason);
    this.sessions = null;
    const call = this.call;
    this.call = null;
    this.connected = false;
    call?.cancel();
  }

  private uid(): number {
    return this.opts.uid ?? ownUid();
  }

  private table(): () => SocketTable {
    return this.opts.socketTable ?? readSocketTable;
  }

  /** An attempt refused before connecting: a failed attempt for the statechart, with its reason. */
  private refuseAttempt(verdict: Exclude<OwnerVerdict, { kind: 'trusted' }>): void {
    const security = verdict.kind !== 'absent';
    if (security) this.noteRefusal(verdict);
    // Not from inside the command being run: the statechart hears it as any other outcome.
    setImmediate(() => {
      if (this.stopped || !this.ctx || this.call !== null) return;
      const system = this.ctx.system;
      const code = security ? 'PERMISSION_DENIED' : 'UNAVAILABLE';
      system.send(CONNECTION_ACTOR, SOURCE, 'CONNECT_FAILED', { reason: verdict.line, code });
      if (this.resolved?.mode === 'web-register' && system.has(CREDENTIALS_ACTOR)) system.send(CREDENTIALS_ACTOR, SOURCE, 'ATTEMPT_FAILED', { code, reason: verdict.line });
      if (!security) this.explain({ code, details: verdict.line }, verdict.line, false);
    });
  }

  private noteRefusal(verdict: Exclude<OwnerVerdict, { kind: 'trusted' }>): void {
    if (verdict.kind === 'absent') return;
    if (verdict.line === this.lastRefusal) {
      this.log.debug({ grpc_server: this.transport?.options.address }, verdict.line);
      return;
    }
    this.lastRefusal = verdict.line;
    this.log.error(
      { grpc_server: this.transport?.options.address, ...(verdict.kind === 'foreign' ? { owner_uid: verdict.uid } : {}) },
      `${verdict.line} (retrying with backoff; said once)`,
    );
  }

  /**
   * `filesystem:` values become files in a directory of this agent's own
   * (per agent dir, since the instance lock is); what a killed agent left
   * there is removed now, before any session can write new ones.
   */
  private prepareEnvFiles(agentDir: string): void {
    const dir = envFileDir(this.opts.tmpdir ?? tmpdir(), agentDir);
    try {
      const removed = prepareEnvFileDir(dir);
      this.envDir = dir;
      if (removed > 0) this.log.info({ dir, removed }, `removed ${removed} session file(s) left by an earlier run`);
    } catch (err) {
      // Sessions with filesystem: values are refused then; everything else works.
      this.log.error({ dir, err: errorText(err) }, `cannot prepare the directory for session files: ${errorText(err)}`);
    }
  }

  /**
   * Terminals a previous run left (it was killed before it could hang them
   * up) are swept before this run opens any; node-pty loads on the first one.
   */
  private prepareTerminals(agentDir: string): void {
    const path = ledgerPath(agentDir, 'gateway');
    const killed = sweepLedger(path);
    if (killed > 0) this.log.warn({ killed }, `killed ${killed} terminal process(es) left by an earlier run`);
    this.ledger = new TerminalLedger(path);
    if (this.opts.pty) {
      this.pty = this.opts.pty;
      return;
    }
    let loaded: Promise<Pty> | null = null;
    this.pty = () => (loaded ??= loadPty({ nativeDir: join(agentDir, 'native') }));
  }

  private fail(reason: string): void {
    this.log.error({ reason }, `gateway link: ${reason}`);
    this.finish({ reason, exitCode: 1 });
  }

  private giveUp(attempts: number): void {
    const reason = `webregister - the agent was not registered after ${attempts} attempts; giving up`;
    this.log.error({ attempts }, reason);
    this.dropCall('gave up');
    if (this.ctx?.system.has(CONNECTION_ACTOR)) this.ctx.system.send(CONNECTION_ACTOR, SOURCE, 'STOP', { reason: 'gave up' });
    this.finish({ reason, exitCode: 1 });
  }

  private limits(): SessionLimits {
    return { ...DEFAULT_LIMITS, ...this.opts.limits };
  }

  private sinkFor(call: GatewayCall): PacketSink {
    const log = this.log;
    return {
      send(p: Packet) {
        if (log.isLevelEnabled('debug')) {
          log.debug({ type: p.type, sid: p.spec.get(SpecKey.GatewaySessionID)?.toString('latin1') ?? null, bytes: p.payload.length }, 'packet to the gateway');
        }
        return call.write(p);
      },
      get writable() {
        return call.writable;
      },
      onceWritable: (fn) => call.onceWritable(fn),
    };
  }

  private reject(type: string, sid: string | null, reason: string): void {
    this.log.warn({ type, sid }, `ignored a packet from the gateway: ${reason}`);
    this.ctx?.system.send(CONNECTION_ACTOR, SOURCE, 'PACKET_REJECTED', { type, sid, reason });
  }

  private recorder(): SessionRecorder {
    const system: ActorSystem = this.ctx!.system;
    const scrub = (s: string) => this.opts.redactor.scrubString(s);
    const actor = gatewaySessionActor;
    return {
      opening: (sid, input) => {
        this.log.info({ sid, type: input.connectionType, connection: input.connectionName }, 'session opening');
        system.spawn(actor(sid), 'gateway-session', { sid, ...input });
      },
      record: (sid, event) => {
        const safe = Object.fromEntries(Object.entries(event).map(([k, v]) => [k, typeof v === 'string' && k !== 'type' ? scrub(v) : v]));
        system.send(actor(sid), SOURCE, safe as GatewaySessionInbound);
      },
      closed: (sid, reason, exitCode) => {
        this.log.info({ sid, exit_code: exitCode }, `session closed: ${scrub(reason)}`);
        system.send(actor(sid), SOURCE, 'CLOSED', { reason: scrub(reason), exitCode });
        system.stop(actor(sid));
      },
      rejected: (type, sid, reason) => this.reject(type, sid, scrub(reason)),
      durable: () => this.durable(),
    };
  }

  /**
   * Waits for the journal to commit what was recorded so far. While it
   * cannot (disk full), it gives up after `exitDurableWaitMs` and says so:
   * an operator freeing space through exec needs the exit code more than
   * the journal needs it first.
   */
  private async durable(): Promise<void> {
    const waitMs = this.limits().exitDurableWaitMs;
    if (await this.ctx!.system.durable(waitMs)) return;
    this.log.warn({ waitedMs: waitMs }, 'exec exit code sent before its record was committed: the journal cannot commit (see the journal error); a crash now would lose that record');
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A certificate problem gets the knobs that fix it. */
function tlsHint(details: string): string {
  if (/certificate|self[- ]signed|altnames|verify/i.test(details)) return ' (HOOP_TLSCA sets the CA to trust, TLS_SERVER_NAME the name to check)';
  if (/wrong version number|packet length too long|http2 preface|protocol error/i.test(details)) return ' (TLS towards a plaintext gateway, or the reverse?)';
  return '';
}

function credentialHint(mode: string | undefined): string {
  switch (mode) {
    case 'dsn':
      return 'check HOOP_KEY';
    case 'env':
      return 'check HOOP_TOKEN';
    case 'file':
      return 'check the token in $HOME/.hoop/agent.toml';
    case 'local':
      return 'the local gateway does not take agents without a token: give this agent a DSN (HOOP_KEY), or start the development gateway with --allow-local-agent';
    case 'auto-register':
      return 'the auto-registered token was not accepted';
    default:
      return 'check the token';
  }
}
