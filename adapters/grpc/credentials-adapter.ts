// The I/O of the credentials statechart (machines/credentials.ts): it reads
// the environment and agent.toml, probes the local gateway, registers with
// it, mints a web-registration token and saves it. It answers each `creds.*`
// command with an event carrying only where to connect, whether with TLS and
// the token's fingerprint (the secret table's, store/secret-store.ts); the
// token stays here, in memory, and is handed to the link directly.
import { randomUUID } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import type { Logger } from 'pino';
import { decideTransport } from '../../config/transport-rule.js';
import { defaultGatewayDataDir, findAdminToken } from '../../gateway/admin-token.js';
import type { ActorSystem } from '../../actors/system.js';
import type { ActorId, Executors } from '../../actors/contracts.js';
import type { GrpcAddress, HoopEnv } from '../../config/hoop-env.js';
import type { CredentialMode, CredentialsCommand, CredentialsInbound, GatewayTarget } from '../../machines/credentials.js';
import type { Redactor } from '../log/redactor.js';
import { agentTomlPath, readAgentToml, writeAgentToml } from './agent-toml.js';
import { RefusedPeerError, sendWithCredential } from './loopback-http.js';
import { listenersFor, readSocketTable, type SocketTable } from './socket-owner.js';
import { LOCAL_GATEWAY } from './tls.js';

export const SAAS_GRPC_URL = 'app.hoop.dev:8443';
export const SAAS_API_URL = 'https://app.hoop.dev';
/** The development gateway's HTTP API (hoop's gateway serves its API on 8009 too). */
export const LOCAL_API_URL = 'http://127.0.0.1:8009';
/** Printed as is when the gateway is self-hosted and API_URL is unset, as hoop did. */
export const API_URL_PLACEHOLDER = '{API_URL}';

/** What the link needs to connect. Holds the token: never journal or log this object. */
export interface ResolvedCredentials {
  mode: CredentialMode;
  host: string;
  port: number;
  tls: boolean;
  token: string | null;
}

export interface CredentialsAdapterOptions {
  system: ActorSystem;
  /** The credentials actor's id. */
  actor: ActorId<'credentials'>;
  hoop: HoopEnv;
  /** Raw environment, for API_URL. */
  env: NodeJS.ProcessEnv;
  home: string;
  /** Where local mode and auto-registration look for a gateway (127.0.0.1:8010). */
  localGateway?: { host: string; port: number };
  /** hoop waits 5 s for the local gateway to answer. */
  probeTimeoutMs?: number;
  logger: Logger;
  redactor: Redactor;
  /** Raw output for the registration banner: the log would (rightly) redact its token. */
  out: (text: string) => void;
  /** For tests: the kernel's socket table (socket-owner.ts). */
  socketTable?: () => SocketTable;
  /** The device's fingerprint of a token (SecretStore.fingerprint): what events carry instead of it. */
  fingerprint?: (value: string) => string;
}

export interface CredentialsListener {
  ready(creds: ResolvedCredentials, retryMs: number | null): void;
  none(): void;
  failed(reason: string): void;
  gaveUp(attempts: number): void;
  /** A web registration was accepted (and saved, or not: see the log). */
  registered(): void;
}

const SOURCE = 'creds';

export class CredentialsAdapter {
  private readonly local: { host: string; port: number };
  private readonly tokens = new Map<CredentialMode, { token: string | null; host: string; port: number; grpcUrl: string }>();
  private minted: { token: string; registerUrl: string; grpcUrl: string } | null = null;
  private resolved: ResolvedCredentials | null = null;

  constructor(
    private readonly opts: CredentialsAdapterOptions,
    private readonly listener: CredentialsListener,
  ) {
    this.local = opts.localGateway ?? LOCAL_GATEWAY;
  }

  get credentials(): ResolvedCredentials | null {
    return this.resolved;
  }

  get agentTomlPath(): string {
    return agentTomlPath(this.opts.home);
  }

  /** The executors of the `creds` commands. */
  readonly executors: Executors<CredentialsCommand> = {
    'creds.readEnv': () => this.readEnv(),
    'creds.register': () => this.register(),
    'creds.readFile': () => this.readFile(),
    'creds.probeLocal': () => this.probeLocal(),
    'creds.mint': () => this.mint(),
    'creds.banner': () => this.banner(),
    'creds.persist': () => this.persist(),
    'creds.ready': (command) => this.ready(command),
    'creds.none': () => this.listener.none(),
    'creds.failed': (command) => this.listener.failed(command.reason),
    'creds.giveUp': (command) => this.listener.gaveUp(command.attempts),
  };

  /** What events carry instead of the token; null without a fingerprint source (it never falls back to the token). */
  private fp(token: string | null): string | null {
    return token && this.opts.fingerprint ? this.opts.fingerprint(token) : null;
  }

  private send(event: CredentialsInbound): void {
    this.opts.system.send(this.opts.actor, SOURCE, event);
  }

  /** Where to connect and with TLS or not (config/transport-rule.ts); a string when plaintext is refused. */
  private target(host: string, port: number, scheme: string | null): GatewayTarget | string {
    const d = decideTransport({ host, scheme, tlsServerName: this.opts.hoop.tlsServerName, insecure: this.opts.hoop.grpcInsecure });
    if ('refused' in d) return d.refused;
    return { grpcServer: `${formatHost(host)}:${port}`, tls: d.tls };
  }

  /** For addresses readHoopEnv already judged: a refusal cannot happen there. */
  private checkedTarget(host: string, port: number, scheme: string | null): GatewayTarget {
    const t = this.target(host, port, scheme);
    if (typeof t === 'string') throw new Error(`unexpected refusal of a validated address: ${t}`);
    return t;
  }

  private readEnv(): void {
    const h = this.opts.hoop;
    let dsn: GatewayTarget | null = null;
    let envPair: GatewayTarget | null = null;
    if (h.key) {
      dsn = this.checkedTarget(h.key.host, h.key.port, h.key.scheme);
      this.tokens.set('dsn', { token: h.key.raw, host: h.key.host, port: h.key.port, grpcUrl: dsn.grpcServer });
    }
    if (h.grpcUrl && h.token) {
      envPair = this.checkedTarget(h.grpcUrl.host, h.grpcUrl.port, h.grpcUrl.scheme);
      this.tokens.set('env', { token: h.token, host: h.grpcUrl.host, port: h.grpcUrl.port, grpcUrl: h.grpcUrl.raw });
    }
    this.send({
      type: 'ENV_READ',
      autoRegister: h.autoRegister !== null,
      keyTarget: dsn,
      keyFingerprint: this.fp(h.key?.raw ?? null),
      envPair,
      pairFingerprint: envPair ? this.fp(h.token) : null,
    });
  }

  /**
   * AUTO_REGISTER=<org>: registers a fresh token as agent "default" with the
   * development gateway on this machine. Its API wants the admin token
   * (REAGENT_GATEWAY_TOKEN, else the gateway's default admin.token under this
   * HOME), and gets it only over a socket owned by root or this user.
   */
  private async register(): Promise<void> {
    const apiUrl = (this.opts.env['API_URL']?.trim() || LOCAL_API_URL).replace(/\/+$/, '');
    const token = `x-agt-${randomUUID()}`;
    this.opts.redactor.addSecret(token);
    const admin = this.opts.hoop.gatewayAdminToken
      ? { ok: true as const, token: this.opts.hoop.gatewayAdminToken }
      : findAdminToken({}, defaultGatewayDataDir(this.opts.home));
    if (!admin.ok) return this.registerFailed(apiUrl, admin.error);
    this.opts.redactor.addSecret(admin.token);
    try {
      const res = await sendWithCredential({
        url: `${apiUrl}/api/agents/default`,
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}` },
        body: JSON.stringify({ token, org: this.opts.hoop.autoRegister }),
        timeoutMs: this.opts.probeTimeoutMs ?? 5000,
        ...(this.opts.socketTable ? { table: this.opts.socketTable } : {}),
      });
      if (res.status < 200 || res.status > 299) {
        const text = res.text.slice(0, 200);
        throw new Error(`HTTP ${res.status}${text ? `: ${text}` : ''}`);
      }
    } catch (err) {
      return this.registerFailed(apiUrl, err instanceof RefusedPeerError ? err.message : causeOf(err));
    }
    const target = this.checkedTarget(this.local.host, this.local.port, null);
    this.tokens.set('auto-register', { token, host: this.local.host, port: this.local.port, grpcUrl: target.grpcServer });
    this.send({ type: 'REGISTERED', target, fingerprint: this.fp(token) });
  }

  private registerFailed(apiUrl: string, cause: string): void {
    const reason = this.opts.redactor.scrubString(`auto-register with ${apiUrl} failed: ${cause}`);
    this.opts.logger.warn({ api: apiUrl }, `${reason}; retrying`);
    this.send({ type: 'REGISTER_FAILED', reason });
  }

  private readFile(): void {
    const path = this.agentTomlPath;
    const read = readAgentToml(path);
    if (read.kind === 'invalid') {
      this.send({ type: 'FILE_INVALID', reason: this.opts.redactor.scrubString(read.error) });
      return;
    }
    if (read.kind === 'absent') {
      this.send({ type: 'FILE_READ', target: null });
      return;
    }
    if (read.exposed) this.opts.logger.warn({ file: path }, 'agent.toml can be read by other users: chmod 600 it');
    const { token, grpcUrl } = read.value;
    this.opts.redactor.addSecret(token);
    const target = this.target(grpcUrl.host, grpcUrl.port, grpcUrl.scheme);
    if (typeof target === 'string') {
      this.send({ type: 'FILE_INVALID', reason: `${path}: field "grpc_url": ${target}` });
      return;
    }
    this.tokens.set('file', { token, host: grpcUrl.host, port: grpcUrl.port, grpcUrl: grpcUrl.raw });
    this.send({ type: 'FILE_READ', target, fingerprint: this.fp(token) });
  }

  /**
   * Local mode: is something listening on the local gateway's address? The
   * kernel's table answers without connecting (nothing reaches a listener
   * that turns out not to be trusted); hoop's TCP dial where it cannot.
   * Local mode sends no token at all: HOOP_TOKEN is for HOOP_GRPCURL.
   */
  private async probeLocal(): Promise<void> {
    const { host, port } = this.local;
    const table = (this.opts.socketTable ?? readSocketTable)();
    const open = table.ok ? listenersFor(host, port, table.rows).length > 0 : await probeTcp(host, port, this.opts.probeTimeoutMs ?? 5000);
    if (!open) {
      this.send({ type: 'LOCAL_PROBED', target: null });
      return;
    }
    const target = this.checkedTarget(host, port, null);
    this.tokens.set('local', { token: null, host, port, grpcUrl: target.grpcServer });
    this.send({ type: 'LOCAL_PROBED', target: target });
  }

  private mint(): void {
    const url: GrpcAddress | null = this.opts.hoop.grpcUrl;
    const host = url?.host ?? 'app.hoop.dev';
    const port = url?.port ?? 8443;
    const token = `x-agt-${randomUUID()}`;
    this.opts.redactor.addSecret(token);
    const target = this.checkedTarget(host, port, url?.scheme ?? null);
    this.minted = { token, registerUrl: `${webApiUrl(this.opts.env, url)}/agents/new/${token}`, grpcUrl: url?.raw ?? SAAS_GRPC_URL };
    this.tokens.set('web-register', { token, host, port, grpcUrl: this.minted.grpcUrl });
    this.send({ type: 'MINTED', target, fingerprint: this.fp(token) });
  }

  private banner(): void {
    if (!this.minted) return;
    const rule = '-'.repeat(74);
    this.opts.out([rule, 'VISIT THE URL BELOW TO REGISTER THE AGENT', this.minted.registerUrl, rule].join('\n'));
  }

  private persist(): void {
    if (!this.minted) return;
    const path = this.agentTomlPath;
    try {
      writeAgentToml(path, { token: this.minted.token, grpcUrl: this.minted.grpcUrl });
      this.opts.logger.info({ file: path }, 'agent registered: token saved, the next start connects with it');
      this.send({ type: 'PERSISTED' });
    } catch (err) {
      const reason = `cannot save ${path}: ${causeOf(err)}`;
      this.opts.logger.error({ file: path }, reason);
      this.send({ type: 'PERSIST_FAILED', reason });
    }
    this.listener.registered();
  }

  private ready(command: Extract<CredentialsCommand, { type: 'creds.ready' }>): void {
    const mode = command.mode;
    const known = mode === null ? undefined : this.tokens.get(mode);
    if (mode === null || !known) {
      this.listener.failed(`no credentials were loaded for mode ${mode}`);
      return;
    }
    this.resolved = { mode, host: known.host, port: known.port, tls: command.tls, token: known.token };
    this.listener.ready(this.resolved, command.retryMs ?? null);
  }
}

/**
 * `{API_URL}` of the registration link: API_URL when set; hoop's SaaS
 * address when HOOP_GRPCURL is unset or points at it; otherwise the literal
 * placeholder, exactly as hoop printed it for self-hosted gateways.
 */
export function webApiUrl(env: NodeJS.ProcessEnv, grpcUrl: GrpcAddress | null): string {
  const explicit = env['API_URL']?.trim();
  if (explicit) return explicit.replace(/\/+$/, '');
  if (!grpcUrl || grpcUrl.host === 'app.hoop.dev') return SAAS_API_URL;
  return API_URL_PLACEHOLDER;
}

export function probeTcp(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function causeOf(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.cause?.code) return e.cause.code;
  if ((e as NodeJS.ErrnoException)?.code) return String((e as NodeJS.ErrnoException).code);
  return e instanceof Error ? e.message : String(err);
}
