// The studio link: the IronFlock-compatible WAMP connection, wired into the
// actor system. Two actors carry its state, both journaled:
//   studio:connection  the shared connection statechart (link prefix `wamp`):
//                      attempts bounded by -connTimeout, WebSocket ping/pong
//                      every -ppTimeout, backoff with jitter; the only place
//                      that decides to (re)connect
//   studio:session     the on-connect sequence and heartbeat (studio-session.ts)
// This file executes their commands (`wamp.*`, `studio.*`) and turns what
// happens on the socket back into events. App state reports land in the
// durable outbox, with or without a connection (`-offline` included), and are
// delivered once a session is online: the app domain builds each report in the
// dispatch turn of the app's state change and the outbox row commits with that
// event's record; the `studio.report` command, run once that is durable, only
// wakes the sender.
// The link gives up for good (`finished`, exit 1) only when another device
// holds this serial (the duplicate-serial guard, as the Reagent does).
import type { Logger } from 'pino';
import { actorId, guardExecutors, type ExecutorsFor } from '../../actors/contracts.js';
import type { Link, LinkContext } from '../../actors/link.js';
import type { TimerHandle } from '../../actors/clock.js';
import type { ActorSystem } from '../../actors/system.js';
import { legacyClientTls, type FlockConfig } from '../../config/flock.js';
import type { MachineCatalog } from '../../machines/catalog.js';
import type { ConnectionPolicy } from '../../machines/connection.js';
import { AppId } from '../../machines/app-id.js';
import { isAppState } from '../../machines/app-states.js';
import { DEFAULT_STUDIO_SESSION_POLICY, type SessionStep, type StudioSessionCommand, type StudioSessionPolicy } from '../../machines/studio-session.js';
import type { Redactor } from '../log/redactor.js';
import { UnavailableNetwork, type NetworkService } from '../network/service.js';
import type { AppsService, PortReport } from '../../apps/service.js';
import { appStateReports, stateReport } from '../../apps/state-report.js';
import type { SerializerName } from './autobahn.js';
import { deviceAuthId } from './cra.js';
import { DeviceApi } from './device-api.js';
import { FileTransfers, type UploadLimits } from './file-transfer.js';
import type { DeviceIdentity } from './heartbeat.js';
import { LogPublisher } from './log-publisher.js';
import { STUDIO_STORAGE, StudioOutbox, isPortReport, type OutboxRow } from './outbox.js';
import { appProcedures } from './procedures/apps.js';
import type { ProcedureDeps } from './procedures/deps.js';
import { logProcedures } from './procedures/logs.js';
import { networkProcedures } from './procedures/network.js';
import { systemProcedures } from './procedures/system.js';
import { transferProcedures } from './procedures/transfer.js';
import { SessionFailure, WampSession, type SessionEnd } from './session.js';
import * as steps from './session-steps.js';
import { HostSystem, type SystemAdapter } from './system-adapter.js';
import type { AgentUpdates } from '../update/service.js';
import { updateProcedures } from './procedures/update.js';
import { terminalProcedures } from './procedures/terminals.js';
import { StudioTerminals } from '../terminal/studio-terminals.js';
import { ledgerPath, sweepLedger, TerminalLedger } from '../terminal/ledger.js';
import { TERMINAL_GRACE_MS } from '../../machines/studio-terminal.js';
import { loadPty, type Pty } from '../../packaging/pty.js';
import { join as joinPath } from 'node:path';
import { agentUpdateProgressTopic } from './wire.js';
import { trafficLogger } from './traffic-log.js';
import { registryTokenSource } from './registry-token.js';
import { plaintextWarning } from './transport.js';
import { BACKEND, GUARD_PROCEDURE, deviceProcedure } from './wire.js';

export const CONNECTION_ACTOR = actorId('connection', 'studio:connection');
export const SESSION_ACTOR = actorId('studio-session', 'studio:session');
const SOURCE = 'wamp';

export interface StudioLinkOptions {
  flock: FlockConfig;
  /** Between a terminal's hangup and its kill (the Reagent's 5 s). */
  terminalGraceMs?: number;
  apps: AppsService;
  /** `-offline`: no connection attempts; reports still go into the outbox. */
  offline: boolean;
  connTimeoutMs: number;
  ppTimeoutMs: number;
  respTimeoutMs: number;
  debugMessaging: boolean;
  redactor: Redactor;
  appsDir: string;
  logFile: string;
  agentVersion: string;
  system?: SystemAdapter;
  /** The device's networking; without one every network procedure answers "unavailable". */
  network?: NetworkService;
  /** Offered in this order; the router picks. */
  serializers?: readonly SerializerName[];
  /** Overrides for tests (shorter heartbeats, quicker backoff). */
  sessionPolicy?: Partial<StudioSessionPolicy>;
  backoff?: Partial<ConnectionPolicy['backoff']>;
  powerDelayMs?: number;
  /** write_data bounds (the disk guard's minimum free space among them); UPLOAD_LIMITS otherwise. */
  uploads?: Partial<UploadLimits>;
  /** The self-update (update_agent, get_agent_metadata); without it the agent answers that it cannot update. */
  updates?: AgentUpdates;
}

/**
 * The first retry after a working session (one that completed the on-connect
 * sequence) comes within 1 s, as the Reagent's constant 1 s does; failed
 * attempts in a row double it up to a minute. Jitter spreads a fleet that
 * lost the same router.
 */
export const STUDIO_BACKOFF: ConnectionPolicy['backoff'] = { initialMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0.3 };

/**
 * The connection statechart's policy for the studio link: attempts bounded by
 * -connTimeout, pings every -ppTimeout, and the backoff reset by a session
 * that completed the on-connect sequence (ESTABLISHED), not by its age.
 */
export function studioConnectionPolicy(opts: Pick<StudioLinkOptions, 'connTimeoutMs' | 'ppTimeoutMs' | 'backoff'>): ConnectionPolicy {
  return {
    connectTimeoutMs: opts.connTimeoutMs,
    pingIntervalMs: opts.ppTimeoutMs,
    resetAfterMs: 60_000,
    resetOn: 'established',
    backoff: { ...STUDIO_BACKOFF, ...opts.backoff },
  };
}

/** Why the link gave up; the daemon stops with `exitCode`. */
export interface StudioLinkEnd {
  reason: string;
  exitCode: number;
}

interface Live {
  session: WampSession;
  /** The connection statechart's session number, once it announced the session. */
  number: number | null;
}

export class StudioLink implements Link {
  readonly name = 'studio';
  readonly finished: Promise<StudioLinkEnd>;
  private finish!: (end: StudioLinkEnd) => void;
  private ctx: LinkContext | null = null;
  private logger!: Logger;
  private outbox: StudioOutbox | null = null;
  private readonly identity: DeviceIdentity;
  private readonly system: SystemAdapter;
  private api!: DeviceApi;
  private publisher!: LogPublisher;
  private transfers!: FileTransfers;
  private attempt: AbortController | null = null;
  private live: Live | null = null;
  private terminals: StudioTerminals | null = null;
  private stopping = false;
  private readonly unhandle: Array<() => void> = [];
  private readonly timers = new Set<TimerHandle>();

  constructor(private readonly opts: StudioLinkOptions) {
    this.identity = { serial: opts.flock.serial_number, device_key: opts.flock.device_key, swarm_key: opts.flock.swarm_key };
    this.system = opts.system ?? new HostSystem();
    opts.redactor.addSecret(opts.flock.secret);
    this.finished = new Promise((resolve) => (this.finish = resolve));
  }

  /** The outbox (tests inspect what waits for delivery). */
  get reports(): StudioOutbox | null {
    return this.outbox;
  }

  /** The live WAMP session, if any. */
  get session(): WampSession | null {
    return this.live?.session ?? null;
  }

  get publishing(): string[] {
    return this.publisher?.publishing ?? [];
  }

  /** The outbox takes app reports from the start, also those of apps converging before any connection. */
  async prepare(ctx: LinkContext): Promise<void> {
    if (!ctx.journal) throw new Error('the studio link needs the daemon journal (its outbox lives in the journal file)');
    this.ctx = ctx;
    this.logger = ctx.logger;
    this.stopping = false;
    const outbox = new StudioOutbox({ storage: ctx.journal.storage('studio', STUDIO_STORAGE), clock: ctx.clock, logger: ctx.logger, random: ctx.random });
    this.outbox = outbox;
    // The on-connect steps and heartbeats run even while the journal cannot commit (disk full), to keep
    // the device reachable; an app report waits for its cause to be durable (README "Full disk").
    this.unhandle.push(ctx.system.handle('studio', this.studioExecutors, { beforeDurable: (c) => c.type !== 'studio.report' }));
    // The app domain turns each state change into its report in the change's dispatch turn: the outbox row commits with it.
    const reports = appStateReports(
      (stage, appKey) => this.opts.apps.reportFields(stage, appKey),
      (report, at) => outbox.queue(report, at),
      (actor) => this.logger.warn({ actor }, 'malformed app state report; dropped'),
    );
    this.unhandle.push(ctx.system.subscribe(reports));
    // Port reports (§7.2) share the outbox with state reports.
    const offPorts = this.opts.apps.usePortReports((report) => this.acceptPortReport(report));
    if (offPorts) this.unhandle.push(offPorts);
  }

  async start(ctx: LinkContext): Promise<void> {
    if (!this.outbox) await this.prepare(ctx);
    this.reportCurrentStates();
    const waiting = this.outbox!.pending().length;
    // Said at every start, -offline too: it is the configuration that is at fault.
    const plaintext = plaintextWarning(this.opts.flock.device_endpoint_url);
    if (plaintext) this.logger.warn({ endpoint: this.opts.flock.device_endpoint_url }, `studio link: ${plaintext}`);
    // Pulls without docker_credentials log in as the Reagent does; offline that fails naming the registry.
    this.unhandle.push(
      this.opts.apps.useRegistryAuth(
        registryTokenSource({
          session: () => this.live?.session ?? null,
          secret: this.opts.flock.secret,
          registryUrl: this.opts.flock.docker_registry_url,
          redactor: this.opts.redactor,
        }),
      ),
    );
    if (this.opts.offline) {
      this.logger.info({ serial: this.identity.serial, waitingReports: waiting }, 'studio link offline (-offline): app state reports are kept until a later online start');
      return;
    }

    this.transfers = new FileTransfers({
      ...this.opts.uploads,
      appsDir: this.opts.appsDir,
      clock: ctx.clock,
      onProgress: (p) => this.publisher.publishMessage(p.containerName, p.message),
      onFailed: (container, reason) => {
        this.logger.warn({ container }, `upload failed: ${reason}`);
        this.opts.apps.transferFailed(container, reason);
      },
    });
    this.publisher = new LogPublisher({ serial: this.identity.serial, apps: this.opts.apps, logger: this.logger });
    const deps: ProcedureDeps = {
      serial: this.identity.serial,
      apps: this.opts.apps,
      system: this.system,
      network: this.opts.network ?? new UnavailableNetwork('no network management was given to the studio link'),
      transfers: this.transfers,
      clock: ctx.clock,
      logger: this.logger,
      logFile: this.opts.logFile,
      appsDir: this.opts.appsDir,
      agentVersion: this.opts.agentVersion,
      publish: (topic, args) => {
        this.live?.session.publish(topic, args).catch(() => {});
      },
      powerDelayMs: this.opts.powerDelayMs ?? 2000,
      later: (fn, ms) => {
        const handle = ctx.clock.setTimer(() => {
          this.timers.delete(handle);
          fn();
        }, ms);
        this.timers.add(handle);
      },
    };
    this.api = new DeviceApi(
      {
        serial: this.identity.serial,
        keys: () => ({ swarm_key: this.identity.swarm_key, device_key: this.identity.device_key }),
        // The Reagent gives the privilege check 10 s; never more than a call may take.
        privilegeTimeoutMs: Math.min(10_000, this.opts.respTimeoutMs || 10_000),
        logger: this.logger,
        redactor: this.opts.redactor,
      },
      [
        ...appProcedures(deps),
        ...logProcedures(deps),
        ...transferProcedures(deps),
        ...systemProcedures(deps),
        ...networkProcedures(deps),
        ...updateProcedures(deps, this.opts.updates),
        ...terminalProcedures(() => this.terminals),
      ],
    );
    this.terminals = this.startTerminals(ctx);
    // Download progress of any update (at start-up or asked by the studio), while a session is live.
    const updates = this.opts.updates;
    if (updates) this.unhandle.push(updates.onProgress((p) => deps.publish(agentUpdateProgressTopic(this.identity.serial), [{ increment: p.increment, currentBytes: p.currentBytes, fileSize: p.fileSize }])));

    this.unhandle.push(ctx.system.handle('wamp', guardExecutors(this.wampExecutors, () => !this.stopping), { beforeDurable: true }));
    const policy = studioConnectionPolicy(this.opts);
    const sessionPolicy: StudioSessionPolicy = { ...DEFAULT_STUDIO_SESSION_POLICY, ...this.opts.sessionPolicy };
    ctx.system.spawn(SESSION_ACTOR, 'studio-session', { serial: this.identity.serial, policy: { ...sessionPolicy } });
    ctx.system.spawn(CONNECTION_ACTOR, 'connection', { link: 'wamp', policy: { ...policy, backoff: { ...policy.backoff } } });
    this.logger.info(
      { endpoint: this.opts.flock.device_endpoint_url, authid: deviceAuthId(this.identity), serial: this.identity.serial, waitingReports: waiting },
      'studio link starting',
    );
    ctx.system.send(CONNECTION_ACTOR, SOURCE, 'START');
  }

  async stop(): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return;
    this.stopping = true;
    if (!this.opts.offline && ctx.system.has(CONNECTION_ACTOR)) {
      ctx.system.send(CONNECTION_ACTOR, SOURCE, 'STOP', { reason: 'agent stopping' });
      // Runs the resulting `wamp.disconnect` while our handler is still there (it ignores it: we close below).
      await ctx.system.flush();
    }
    this.attempt?.abort('agent stopping');
    this.attempt = null;
    const live = this.live;
    this.live = null;
    this.outbox?.setSender(null);
    if (live) {
      const ended = new Promise<void>((resolve) => live.session.onEnd(() => resolve()));
      live.session.close('agent stopping');
      await Promise.race([ended, new Promise((r) => setTimeout(r, 1500))]);
    }
    if (!this.opts.offline) {
      this.publisher.detach();
      await this.transfers.close();
    }
    this.terminals?.shutdown();
    this.terminals = null;
    for (const t of this.timers) ctx.clock.clearTimer(t);
    this.timers.clear();
    await this.outbox?.idle();
    this.outbox?.close();
    this.outbox = null;
    for (const off of this.unhandle.splice(0)) off();
    this.ctx = null;
  }

  // ---- wamp.* : the connection statechart's commands ------------------------

  private readonly wampExecutors: ExecutorsFor<MachineCatalog, 'wamp'> = {
    'wamp.connect': (c) => this.connect(c.attempt),
    'wamp.disconnect': (c) => this.disconnect(c.reason),
    'wamp.ping': () => this.live?.session.ping(),
    'wamp.online': (c) => this.announce(c.session),
  };

  private get sys(): ActorSystem {
    if (!this.ctx) throw new Error('studio link is not running');
    return this.ctx.system;
  }

  private connect(attempt: number): void {
    this.attempt?.abort('replaced by a new attempt');
    if (this.live) this.disconnect('replaced by a new attempt');
    const ac = new AbortController();
    this.attempt = ac;
    const authid = deviceAuthId(this.identity);
    const url = this.opts.flock.device_endpoint_url;
    const tls = legacyClientTls(this.opts.flock);
    WampSession.open(
      {
        url,
        authid,
        secret: this.opts.flock.secret,
        serializers: this.opts.serializers ?? ['json', 'msgpack'],
        respTimeoutMs: this.opts.respTimeoutMs,
        ...(tls ? { tls } : {}),
        ...(this.opts.debugMessaging ? { onTraffic: trafficLogger(this.logger, this.opts.redactor) } : {}),
        onInternalError: (err, context) => this.logger.warn({ err }, `WAMP client: ${context ?? 'internal error'}`),
        onRefused: (reason, message) => this.logger.warn({ wamp: 'in', type: typeof message?.[0] === 'number' ? message[0] : null }, `WAMP message from the router refused: ${reason}`),
      },
      ac.signal,
    ).then(
      (session) => {
        if (this.attempt !== ac || this.stopping) {
          session.terminate('stale connection attempt');
          return;
        }
        this.attempt = null;
        this.live = { session, number: null };
        session.onPong(() => {
          if (this.live?.session === session) this.sys.send(CONNECTION_ACTOR, SOURCE, 'PONG');
        });
        session.onEnd((end) => this.ended(session, end));
        this.logger.info({ endpoint: url, authid, serializer: session.serializer, wampSession: session.id, attempt }, 'studio link connected');
        this.sys.send(CONNECTION_ACTOR, SOURCE, 'CONNECTED', { wampSession: session.id, serializer: session.serializer });
      },
      (err: unknown) => {
        if (this.attempt !== ac) return;
        this.attempt = null;
        const end: SessionEnd = err instanceof SessionFailure ? err.end : { reason: String(err), authFailed: false, local: false };
        if (end.local || this.stopping) return; // we aborted it: the statechart already knows why
        const reason = this.opts.redactor.scrubString(end.authFailed ? `authentication failed: ${end.reason}` : end.reason);
        this.sys.send(CONNECTION_ACTOR, SOURCE, 'CONNECT_FAILED', { reason, authFailed: end.authFailed });
        const retryInMs = this.retryDelay();
        if (end.authFailed) {
          this.logger.error(
            { endpoint: url, authid, attempt, retryInMs },
            `studio link: the router refused the device's WAMP-CRA credentials (${end.reason}); check the .flock secret and keys. Retrying with backoff`,
          );
        } else {
          this.logger.warn({ endpoint: url, attempt, retryInMs }, `studio link: connection attempt failed: ${reason}`);
        }
      },
    );
  }

  /** The statechart ended the session (ping timeout, connect timeout, STOP). */
  private disconnect(reason: string): void {
    this.attempt?.abort(reason);
    this.attempt = null;
    const live = this.live;
    if (!live) return;
    this.live = null;
    this.offline(live, reason);
    if (reason === 'ping timeout') {
      this.logger.warn({ retryInMs: this.retryDelay() }, 'studio link: no pong within two ping intervals; the link is dead, reconnecting');
      live.session.terminate(reason);
    } else {
      live.session.close(reason);
    }
  }

  private announce(number: number): void {
    const live = this.live;
    if (!live) return;
    live.number = number;
    this.sys.send(SESSION_ACTOR, SOURCE, 'SESSION_OPENED', { session: number, wampSession: live.session.id });
  }

  /** The socket went by itself, or because we dropped it (`studio.drop`). */
  private ended(session: WampSession, end: SessionEnd): void {
    const live = this.live;
    if (!live || live.session !== session || this.stopping) return;
    this.live = null;
    this.offline(live, end.reason);
    this.sys.send(CONNECTION_ACTOR, SOURCE, 'DISCONNECTED', { reason: this.opts.redactor.scrubString(end.reason) });
    this.logger.warn({ retryInMs: this.retryDelay() }, `studio link lost: ${this.opts.redactor.scrubString(end.reason)}`);
  }

  private offline(live: Live, reason: string): void {
    this.outbox?.setSender(null);
    // The terminals' topics and the frontends went with the session (issue 14: no shell outlives its link).
    this.terminals?.linkLost(`studio link lost: ${this.opts.redactor.scrubString(reason)}`);
    this.publisher.detach();
    if (live.number !== null) this.sys.send(SESSION_ACTOR, SOURCE, 'SESSION_CLOSED', { session: live.number, reason: this.opts.redactor.scrubString(reason) });
  }

  /** Shells a killed run left are swept first; node-pty loads on the first device terminal. */
  private startTerminals(ctx: LinkContext): StudioTerminals {
    const path = ledgerPath(ctx.agentDir, 'studio');
    const killed = sweepLedger(path);
    if (killed > 0) this.logger.warn({ killed }, `killed ${killed} terminal process(es) left by an earlier run`);
    let pty: Promise<Pty> | null = null;
    const env: Record<string, string> = {};
    for (const k of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'USER', 'LOGNAME', 'SHELL', 'TZ']) if (process.env[k] !== undefined) env[k] = process.env[k]!;
    return new StudioTerminals({
      serial: this.identity.serial,
      system: ctx.system,
      logger: this.logger,
      session: () => this.live?.session ?? null,
      openContainer: (name) => this.opts.apps.openTerminal(name),
      pty: () => (pty ??= loadPty({ nativeDir: joinPath(ctx.agentDir, 'native') })),
      ledger: new TerminalLedger(path),
      graceMs: this.opts.terminalGraceMs ?? TERMINAL_GRACE_MS,
      maxTerminals: 64,
      hostEnv: env,
    });
  }

  private retryDelay(): number | undefined {
    const snap = this.ctx?.system.snapshot(CONNECTION_ACTOR) as { value?: unknown; context?: { delayMs?: number } } | undefined;
    return snap?.value === 'backoff' ? snap.context?.delayMs : undefined;
  }

  // ---- studio.* : the session statechart's steps, and app reports ---------------

  /** A step runs only for the session it was asked for; a report's wake-up also while stopping. */
  private readonly studioExecutors: ExecutorsFor<MachineCatalog, 'studio'> = {
    // the report itself was committed with the event that caused this command
    'studio.report': () => this.outbox?.wake(),
    'studio.guard': (c) => this.step(c, 'guard', (ctx) => steps.guard(ctx)),
    'studio.testament': (c) => this.step(c, 'testament', (ctx, wampSession) => steps.testament(ctx, wampSession)),
    'studio.status': (c) => this.step(c, c.status === 'CONFIGURING' ? 'configuring' : 'connected', (ctx, wampSession) => steps.status(ctx, c.status, wampSession)),
    'studio.register': (c) => this.step(c, 'register', (ctx) => steps.register(ctx)),
    'studio.describe': (c) => this.step(c, 'describe', (ctx) => steps.describe(ctx)),
    'studio.sync': (c) => this.step(c, 'sync', (ctx) => steps.sync(ctx)),
    'studio.heartbeat': (c) => this.step(c, 'heartbeat', (ctx, wampSession) => steps.status(ctx, 'CONNECTED', wampSession)),
    'studio.ready': (c) => {
      const session = this.liveFor(c)?.session;
      if (!session) return;
      // A working session: when it ends, the first retry waits only the first backoff delay.
      this.sys.send(CONNECTION_ACTOR, SOURCE, 'ESTABLISHED');
      this.outbox?.setSender((row) => this.deliver(session, row));
      this.logger.info({ wampSession: session.id, waitingReports: this.outbox?.pending().length ?? 0 }, 'studio link online: device API registered, status CONNECTED');
    },
    'studio.drop': (c) => {
      const live = this.liveFor(c);
      if (!live) return;
      this.logger.warn(`studio link: dropping the session: ${this.opts.redactor.scrubString(c.reason)}`);
      live.session.close(c.reason);
    },
    'studio.duplicate': (c) => {
      if (this.liveFor(c)) this.giveUp(c.attempts);
    },
  };

  /** The session a step command is for, or null when it is gone (a step of a session already over) or the link stops. */
  private liveFor(command: { session: number }): Live | null {
    const live = this.live;
    return !this.stopping && live && live.number !== null && command.session === live.number ? live : null;
  }

  /** Runs an on-connect step or heartbeat and tells the session machine how it went. */
  private async step(
    command: StudioSessionCommand,
    step: SessionStep,
    run: (ctx: steps.StepContext, wampSession: number) => Promise<steps.StepOutcome>,
  ): Promise<void> {
    const live = this.liveFor(command);
    if (!live) return;
    const ctx: steps.StepContext = {
      session: live.session,
      identity: this.identity,
      apps: this.opts.apps,
      api: this.api,
      publisher: this.publisher,
      logger: this.logger,
      redactor: this.opts.redactor,
      appsDir: this.opts.appsDir,
      agentVersion: this.opts.agentVersion,
      respTimeoutMs: this.opts.respTimeoutMs,
    };
    const wampSession = 'wampSession' in command ? command.wampSession : live.session.id;
    this.answer(live, step, await run(ctx, wampSession));
  }

  /**
   * Another device holds this serial: its session and procedures stay as they
   * are (nothing of ours reached the router but the refused guard); ours ends
   * and the daemon stops with exit 1, as the Reagent does.
   */
  private giveUp(attempts: number): void {
    const serial = this.identity.serial;
    const reason = `another device is connected with serial ${serial} (${deviceProcedure(serial, GUARD_PROCEDURE)} already registered, refused ${attempts} times in a row)`;
    this.logger.error({ serial, attempts, exitCode: 1 }, `studio link: ${reason}; stopping (exit 1)`);
    this.sys.send(CONNECTION_ACTOR, SOURCE, 'STOP', { reason: 'duplicate serial' });
    this.finish({ reason, exitCode: 1 });
  }

  private answer(live: Live, step: SessionStep, outcome: steps.StepOutcome): void {
    if (this.live !== live || this.stopping || live.number === null) return;
    if (outcome.ok) {
      this.sys.send(SESSION_ACTOR, SOURCE, 'STEP_DONE', { session: live.number, step, ...(outcome.detail ?? {}) });
      return;
    }
    const reason = this.opts.redactor.scrubString(outcome.reason);
    if (!(step === 'guard' && outcome.retryable)) this.logger.warn({ step }, `studio link: on-connect step failed: ${reason}`);
    else this.logger.info({ step }, `studio link: ${reason}; waiting for the router to reap it`);
    this.sys.send(SESSION_ACTOR, SOURCE, 'STEP_FAILED', { session: live.number, step, reason, retryable: outcome.retryable === true });
  }

  // ---- the outbox ---------------------------------------------------------------

  private acceptPortReport(report: PortReport): void {
    if (!this.outbox || !this.ctx) return;
    try {
      this.outbox.enqueue(report, this.ctx.clock.now());
    } catch (err) {
      this.logger.error({ err, app_key: report.app_key }, 'port report could not be stored in the outbox');
    }
  }

  /**
   * Every app's state as of now, into the outbox. A crash can no longer lose
   * a report (it commits with its state change), but the apps may have
   * changed while no studio link ran (a device given its .flock later, a
   * journal restored from elsewhere), and the studio must learn where they
   * are. Like the Reagent's CorrectAppStates(true), once per start; offline,
   * it replaces the app's older undelivered report, so nothing piles up.
   */
  private reportCurrentStates(): void {
    const system = this.sys;
    for (const id of system.actorIds()) {
      const app = AppId.partsOf(id);
      if (!app) continue;
      const value = (system.snapshot(id) as { value?: unknown } | undefined)?.value;
      const state = typeof value === 'string' ? value : value && typeof value === 'object' ? Object.keys(value)[0] : undefined;
      if (!isAppState(state) || !this.outbox) continue;
      try {
        this.outbox.enqueue(stateReport(app.appKey, app.stage, state, this.opts.apps.reportFields(app.stage, app.appKey)), this.ctx?.clock.now() ?? 0);
      } catch (err) {
        this.logger.error({ err, actor: id }, 'app state report could not be stored in the outbox');
      }
    }
  }

  private async deliver(session: WampSession, row: OutboxRow): Promise<void> {
    await session.call(
      BACKEND.updateAppOnDevice,
      // A port report is {app_key, device_key, swarm_key, stage, ports} (§2.4); a state report also names the serial.
      [{ ...row.report, device_key: this.identity.device_key, swarm_key: this.identity.swarm_key, ...(isPortReport(row.report) ? {} : { serial_number: this.identity.serial }) }],
      { report_id: row.id },
    );
  }
}
