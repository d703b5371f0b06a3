// Peers for the gateway link tests: the development gateway as a process
// (the built CLI) or in this process, the gateway link on a real actor
// system, a self-signed CA made with openssl, and TCP/HTTP targets. Every
// peer is stopped by its PID or handle; temp dirs are removed by `cleanup`.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ActorSystem } from '../../actors/system.js';
import { SystemClock } from '../../actors/clock.js';
import type { ConnectionContext } from '../../machines/connection.js';
import { builtinMachines } from '../../machines/registry.js';
import { readHoopEnv, type HoopEnv } from '../../config/hoop-env.js';
import { createLogger } from '../../adapters/log/logger.js';
import { Redactor } from '../../adapters/log/redactor.js';
import { CONNECTION_ACTOR, GatewayLink, type GatewayLinkOptions } from '../../adapters/grpc/gateway-link.js';
import { DevGateway, type DevGatewayOptions } from '../../gateway/server.js';
import { newAdminToken } from '../../gateway/admin-token.js';
import type { GatewayEndpoint } from '../../gateway/client.js';
import { credentials } from '@grpc/grpc-js';
import { MAIN, requireBuild } from './cli.js';
import { MemoryJournal } from './memory-journal.js';

export function tempDir(prefix = 'reagent-gw-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A logger that keeps its JSON lines, for assertions. */
export function memoryLogger(redactor = new Redactor()): { logger: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', encoding: 'json', pretty: false, redactor, stdout: { write: (s: string) => lines.push(s) } });
  return { logger, lines, text: () => lines.join('') };
}

export async function waitUntil(check: () => boolean, timeoutMs: number, what: string, poll = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, poll));
  }
}

// ------------------------------------------------------------ in-process gateway

/** The development gateway in this process; token-less agents are refused unless `anonymousLocal: true`. */
export async function startDevGateway(opts: Partial<DevGatewayOptions> = {}) {
  const log = memoryLogger();
  const adminToken = opts.adminToken ?? newAdminToken();
  const gateway = new DevGateway({
    grpcListen: { host: '127.0.0.1', port: 0 },
    apiListen: { host: '127.0.0.1', port: 0 },
    dataDir: null,
    tls: null,
    anonymousLocal: false,
    offlineWaitMs: 3000,
    logger: log.logger,
    ...opts,
    adminToken,
  });
  const addresses = await gateway.start();
  const [host, port] = [addresses.grpc.slice(0, addresses.grpc.lastIndexOf(':')), Number(addresses.grpc.slice(addresses.grpc.lastIndexOf(':') + 1))];
  return { gateway, ...addresses, host, port, log, adminToken, stop: () => gateway.stop() };
}

/** What a gateway's API and clients need: where it is and its admin token. */
export interface GatewayAccess {
  api: string;
  adminToken: string;
}

/** The headers of an admin API request. */
export function adminHeaders(gw: { adminToken: string }): Record<string, string> {
  return { 'content-type': 'application/json', authorization: `Bearer ${gw.adminToken}` };
}

export async function createDsnAgent(gw: GatewayAccess, name: string): Promise<string> {
  const res = await fetch(`${gw.api}/api/agents`, { method: 'POST', headers: adminHeaders(gw), body: JSON.stringify({ name }) });
  if (res.status !== 201) throw new Error(`create agent: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** Registers a legacy x-agt token as agent `name`. */
export async function registerLegacyToken(gw: GatewayAccess, name: string, token: string): Promise<void> {
  const res = await fetch(`${gw.api}/api/agents`, { method: 'POST', headers: adminHeaders(gw), body: JSON.stringify({ name, token }) });
  if (res.status !== 201) throw new Error(`register token: HTTP ${res.status} ${await res.text()}`);
}

/** A client endpoint (`openSession`) for an in-process plaintext gateway. */
export function clientEndpoint(gw: { port: number; adminToken: string }): GatewayEndpoint {
  return { address: `127.0.0.1:${gw.port}`, credentials: credentials.createInsecure(), token: gw.adminToken };
}

// ------------------------------------------------------------ in-process link

export interface LinkHarness {
  link: GatewayLink;
  system: ActorSystem;
  journal: MemoryJournal;
  log: ReturnType<typeof memoryLogger>;
  out: string[];
  state(): string | null;
  context(): ConnectionContext | undefined;
  waitConnected(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The gateway link on a real actor system (journal in memory), as the daemon runs it. */
export async function startLink(env: NodeJS.ProcessEnv, opts: Partial<GatewayLinkOptions> & { home: string }): Promise<LinkHarness> {
  const parsed = readHoopEnv(env);
  if (!parsed.ok) throw new Error(parsed.error);
  const hoop: HoopEnv = parsed.value;
  const redactor = new Redactor();
  if (hoop.token) redactor.addSecret(hoop.token);
  if (hoop.key) redactor.addSecret(hoop.key.secret);
  const log = memoryLogger(redactor);
  const journal = new MemoryJournal();
  const clock = new SystemClock();
  const system = new ActorSystem({ journal, clock, registry: builtinMachines(), random: Math.random, run: 'test', logger: log.logger });
  const out: string[] = [];
  const link = new GatewayLink({
    hoop,
    env,
    gatewayOnly: false,
    redactor,
    out: (t) => out.push(t),
    version: '0.0.0-test',
    debugGrpc: false,
    probeTimeoutMs: 1000,
    ...opts,
  });
  await link.start({ system, logger: log.logger, clock, random: Math.random, run: 'test', agentDir: opts.home });
  const state = () => (system.has(CONNECTION_ACTOR) ? JSON.stringify(system.snapshot(CONNECTION_ACTOR)!.value) : null);
  return {
    link,
    system,
    journal,
    log,
    out,
    state,
    context: () => system.snapshot(CONNECTION_ACTOR)?.context as ConnectionContext | undefined,
    waitConnected: (timeoutMs = 10_000) => waitUntil(() => state() === '{"connected":"alive"}', timeoutMs, `the link to connect; log:\n${log.text()}`),
    async stop() {
      await link.stop();
      await system.flush();
      system.close();
      if (clock.pending() > 0) throw new Error(`${clock.pending()} timers left behind`);
    },
  };
}

// ------------------------------------------------------------ processes

export interface Proc {
  child: ChildProcess;
  pid: number;
  output(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exit: Promise<number | null>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it is gone. */
  stop(): Promise<void>;
}

export function startProcess(args: string[], env: NodeJS.ProcessEnv, stdin: 'ignore' | 'pipe' = 'ignore'): Proc {
  requireBuild();
  return startCommand(process.execPath, [MAIN, ...args], env, stdin);
}

/** `command` is the process itself (it must exec what it wraps, as setpriv and nsenter do), so `pid` stops it. */
export function startCommand(command: string, args: string[], env: NodeJS.ProcessEnv, stdin: 'ignore' | 'pipe' = 'ignore'): Proc {
  const child = spawn(command, args, { env, stdio: [stdin, 'pipe', 'pipe'] });
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  let exited = false;
  void exit.then(() => {
    exited = true;
    for (const w of waiters.splice(0)) w();
  });
  return {
    child,
    pid: child.pid!,
    output: () => out,
    exit,
    waitFor(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${out}`)), timeoutMs);
        const check = () => {
          const m = re.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else if (exited) {
            clearTimeout(timer);
            reject(new Error(`exited before ${re}; output:\n${out}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killer);
    },
  };
}

export function cleanEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, ...extra };
}

/**
 * The built CLI's development gateway on free ports; `listen` pins the gRPC
 * port (restarts). Its admin token is read from the file it wrote, as
 * `reagent exec` under the same HOME does.
 */
export async function startGatewayProcess(opts: { home: string; listen?: string; dataDir?: string; tls?: { cert: string; key: string }; extra?: string[] }) {
  const args = ['gateway', '--listen', opts.listen ?? '127.0.0.1:0', '--api-listen', '127.0.0.1:0'];
  if (opts.dataDir) args.push('--data-dir', opts.dataDir);
  if (opts.tls) args.push('--tls-cert', opts.tls.cert, '--tls-key', opts.tls.key);
  args.push(...(opts.extra ?? []));
  const proc = startProcess(args, cleanEnv(opts.home));
  // A gateway that never gets ready is stopped here: nobody else holds its PID, and it would keep the test process alive.
  const m = await proc.waitFor(/"grpc":"([^"]+)","api":"([^"]+)".*"data_dir":"([^"]+)"/).catch(async (err: unknown) => {
    await proc.stop();
    throw err;
  });
  const adminTokenFile = join(m[3]!, 'admin.token');
  return { ...proc, grpc: m[1]!, api: m[2]!, dataDir: m[3]!, adminTokenFile, adminToken: readFileSync(adminTokenFile, 'utf8').trim() };
}

/**
 * `reagent exec AGENT --gateway G -- CMD...` through the built CLI, as an
 * operator runs it, without blocking this process (agent and gateway keep
 * running meanwhile). Whatever credential the gateway wants goes here.
 */
export function execThrough(
  gateway: { grpc: string; adminToken?: string },
  agent: string,
  command: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 40_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> & { child: ChildProcess } {
  requireBuild();
  const withToken = gateway.adminToken ? { ...env, REAGENT_GATEWAY_TOKEN: gateway.adminToken } : env;
  const child = spawn(process.execPath, [MAIN, 'exec', agent, '--gateway', gateway.grpc, '--', ...command], { env: withToken, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    // 'close', not 'exit': the output is complete only once the pipes are.
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return Object.assign(done, { child });
}

// ------------------------------------------------------------ TLS

export interface TestCa {
  dir: string;
  caCert: string;
  /** Server certificate for IP 127.0.0.1 and DNS localhost. */
  ipCert: string;
  ipKey: string;
  /** Server certificate for DNS gw.test only. */
  nameCert: string;
  nameKey: string;
}

/** A throw-away CA and two server certificates signed by it, made with openssl. */
export function makeTestCa(dir: string): TestCa {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=reagent test CA']);
  const leaf = (name: string, san: string) => {
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  leaf('ip', 'IP:127.0.0.1,DNS:localhost');
  leaf('name', 'DNS:gw.test');
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    ipCert: join(dir, 'ip.pem'),
    ipKey: join(dir, 'ip.key'),
    nameCert: join(dir, 'name.pem'),
    nameKey: join(dir, 'name.key'),
  };
}

// ------------------------------------------------------------ targets

/** A TCP echo server; `connections` counts what it accepted. */
export async function startEchoServer(): Promise<{ server: Server; port: number; connections: () => number; stop: () => Promise<void> }> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    server,
    port: (server.address() as { port: number }).port,
    connections: () => accepted,
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export async function startHttpServer(): Promise<{ server: HttpServer; port: number; stop: () => Promise<void> }> {
  const server = createHttpServer((req, res) => {
    const body = JSON.stringify({ path: req.url, method: req.method });
    res.writeHead(200, { 'content-type': 'application/json', 'x-target': 'reagent-test' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    server,
    port: (server.address() as { port: number }).port,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function removeDirs(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
