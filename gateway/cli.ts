// The development gateway's commands:
//   reagent gateway [--listen H:P] [--api-listen H:P] [--data-dir DIR] [--tls-cert F --tls-key F]
//                   [--advertise grpc(s)://H:P] [--allow-local-agent] [--offline-wait MS]
//   reagent admin create agent NAME [--api URL] [--data-dir DIR] [--mode standard|embedded|multi-connection] [--legacy-token]
//   reagent connect AGENT --tcp H:P [--listen H:P] [--gateway H:P] [--data-dir DIR] [--tls-ca F] [--tls-server-name N]
//   reagent exec AGENT [--gateway H:P] [--data-dir DIR] [--tls-ca F] [--tls-server-name N] -- CMD [ARGS...]
//   reagent exec AGENT -t [...] [-- CMD [ARGS...]]   (an interactive terminal, as ssh -t)
// `gateway` writes its admin token to <data-dir>/admin.token on first start;
// the others read it from there (or REAGENT_GATEWAY_TOKEN) and send it only
// over TLS or to a loopback socket of root or their own user.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { credentials } from '@grpc/grpc-js';
import { createLogger } from '../adapters/log/logger.js';
import { consoleRenderer } from '../adapters/log/console-render.js';
import { Redactor } from '../adapters/log/redactor.js';
import { RefusedPeerError, sendWithCredential } from '../adapters/grpc/loopback-http.js';
import { OwnerCheckedCredentials } from '../adapters/grpc/owner-checked-credentials.js';
import { checkListener, ownUid, readSocketTable } from '../adapters/grpc/socket-owner.js';
import { parseGrpcAddress, parseLogLevel, type DsnScheme } from '../config/hoop-env.js';
import { isLoopbackHost } from '../config/loopback.js';
import { AdminTokenError, defaultGatewayDataDir, ensureAdminToken, findAdminToken } from './admin-token.js';
import { openSession, PortForward, runExec, runTerminal, SessionError, type GatewayEndpoint, type TerminalIo } from './client.js';
import { DevGateway, type HostPort } from './server.js';

export interface GatewayCommandIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** For the default data dir, ~/.reagent/gateway. */
  home: string;
  untilStopped: () => Promise<string>;
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
}

export const DEFAULT_GRPC_LISTEN = '127.0.0.1:8010';
export const DEFAULT_API_LISTEN = '127.0.0.1:8009';
export const DEFAULT_API_URL = 'http://127.0.0.1:8009';

class UsageError extends Error {}
/** No credential, or a peer the credential must not go to: exit 1 with the reason. */
class CredentialError extends Error {}

export async function runGatewayCommand(command: string, args: string[], io: GatewayCommandIo): Promise<number> {
  try {
    switch (command) {
      case 'gateway':
        return await gatewayCommand(args, io);
      case 'admin':
        return await adminCommand(args, io);
      case 'connect':
        return await connectCommand(args, io);
      case 'exec':
        return await execCommand(args, io);
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`reagent ${command}: ${(err as Error).message}`);
      return 2;
    }
    if (err instanceof SessionError) {
      io.err(`reagent ${command}: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof CredentialError || err instanceof AdminTokenError || err instanceof RefusedPeerError) {
      io.err(`reagent ${command}: ${err.message}`);
      return 1;
    }
    io.err(`reagent ${command}: ${(err as Error).message}`);
    return 1;
  }
}

function hostPort(text: string, what: string): HostPort {
  const a = parseGrpcAddress(text);
  if (!a || a.scheme !== null) throw new UsageError(`${what}: expected HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: a.host, port: a.port };
}

/** Like parseGrpcAddress, but port 0 (pick a free one) is allowed for listeners. */
function listenAddress(text: string, what: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/.exec(text);
  if (!m || Number(m[3]) > 65535) throw new UsageError(`${what}: expected HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

async function gatewayCommand(args: string[], io: GatewayCommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      listen: { type: 'string', default: DEFAULT_GRPC_LISTEN },
      'api-listen': { type: 'string', default: DEFAULT_API_LISTEN },
      'data-dir': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      advertise: { type: 'string' },
      'allow-local-agent': { type: 'boolean', default: false },
      // The default now; kept so existing scripts still start.
      'require-token': { type: 'boolean', default: false },
      'offline-wait': { type: 'string', default: '15000' },
    },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (!!values['tls-cert'] !== !!values['tls-key']) throw new UsageError('--tls-cert and --tls-key go together');
  const offlineWait = Number(values['offline-wait']);
  if (!Number.isInteger(offlineWait) || offlineWait < 0) throw new UsageError('--offline-wait: expected milliseconds');
  let advertise: { scheme: DsnScheme; host: string; port: number } | undefined;
  if (values.advertise) {
    const a = parseGrpcAddress(values.advertise);
    if (!a) throw new UsageError('--advertise: expected grpc://HOST:PORT or grpcs://HOST:PORT');
    advertise = { scheme: a.scheme ?? (values['tls-cert'] ? 'grpcs' : 'grpc'), host: a.host, port: a.port };
  }
  const tls = values['tls-cert'] ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']!) } : null;
  const encoding = io.env['LOG_ENCODING']?.toLowerCase() === 'console' ? 'console' : 'json';
  const dataDir = resolve(values['data-dir'] ?? defaultGatewayDataDir(io.home));
  const admin = ensureAdminToken(dataDir);
  const redactor = new Redactor();
  redactor.addSecret(admin.token);
  const logger = createLogger({
    level: parseLogLevel(io.env['LOG_LEVEL']) ?? 'info',
    encoding,
    pretty: false,
    ...(encoding === 'console' ? { render: await consoleRenderer(false) } : {}),
    redactor,
    stdout: { write: (chunk: string) => io.out(chunk.replace(/\n$/, '')) },
  });
  if (values['require-token']) logger.info('--require-token is the default now and does nothing');
  const allowLocal = values['allow-local-agent'] === true;
  if (allowLocal) {
    const warning =
      'WARNING: --allow-local-agent: agents without a token are accepted from this machine as agent "local". Any local user can start one and receive the commands and data of every session opened to "local".';
    io.err(warning);
    logger.warn({ allow_local_agent: true }, warning);
  }
  const gateway = new DevGateway({
    grpcListen: listenAddress(values.listen!, '--listen'),
    apiListen: listenAddress(values['api-listen']!, '--api-listen'),
    dataDir,
    tls,
    advertise,
    adminToken: admin.token,
    anonymousLocal: allowLocal,
    offlineWaitMs: offlineWait,
    logger,
  });
  const addresses = await gateway.start();
  logger.info(
    { grpc: addresses.grpc, api: addresses.api, tls: tls !== null, pid: process.pid, data_dir: dataDir, allow_local_agent: allowLocal },
    `development gateway ready (admin token ${admin.created ? 'written to' : 'in'} ${admin.path})`,
  );
  const signal = await io.untilStopped();
  logger.info({ signal }, 'development gateway stopping');
  await gateway.stop();
  return 0;
}

async function adminCommand(args: string[], io: GatewayCommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      api: { type: 'string', default: DEFAULT_API_URL },
      'data-dir': { type: 'string' },
      mode: { type: 'string', default: 'standard' },
      'legacy-token': { type: 'boolean', default: false },
    },
  });
  if (positionals[0] !== 'create' || positionals[1] !== 'agent' || positionals.length !== 3) {
    throw new UsageError('usage: reagent admin create agent NAME [--api URL] [--data-dir DIR] [--mode standard|embedded|multi-connection] [--legacy-token]');
  }
  const token = adminToken(values, io);
  const name = positionals[2]!;
  const legacyToken = values['legacy-token'] ? `x-agt-${randomUUID()}` : null;
  const body = legacyToken ? { name, token: legacyToken } : { name, mode: values.mode };
  const res = await sendWithCredential({
    url: `${values.api!.replace(/\/+$/, '')}/api/agents`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
    timeoutMs: 10_000,
  }).catch((err: Error & { code?: string }) => {
    if (err instanceof RefusedPeerError) throw err;
    throw new Error(`cannot reach ${values.api}: ${err.code ?? err.message}`);
  });
  let answer: { token?: string; message?: string } = {};
  try {
    answer = JSON.parse(res.text) as typeof answer;
  } catch {
    // A non-JSON answer: the status says enough.
  }
  if (res.status < 200 || res.status > 299) {
    io.err(`reagent admin: ${answer.message ?? `HTTP ${res.status}`}`);
    return 1;
  }
  // The one place a new credential is shown: on stdout, for the operator to copy.
  io.out(legacyToken ?? answer.token ?? '');
  return 0;
}

/** REAGENT_GATEWAY_TOKEN, else admin.token in --data-dir or the default data dir. */
function adminToken(values: { 'data-dir'?: string }, io: GatewayCommandIo): string {
  const found = findAdminToken(io.env, resolve(values['data-dir'] ?? defaultGatewayDataDir(io.home)));
  if (!found.ok) throw new CredentialError(found.error);
  return found.token;
}

/**
 * Where and how a client talks to the gateway. The admin token goes in
 * plaintext only to this machine, and only to a socket of root or this
 * user: checked before connecting (one clear line) and on the connection
 * itself (OwnerCheckedCredentials).
 */
function endpoint(values: { gateway?: string; 'tls-ca'?: string; 'tls-server-name'?: string }, token: string): GatewayEndpoint {
  const target = hostPort(values.gateway ?? DEFAULT_GRPC_LISTEN, '--gateway');
  const address = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  if (!values['tls-ca'] && !values['tls-server-name']) {
    if (!isLoopbackHost(target.host)) {
      throw new CredentialError(`--gateway ${address} is not this machine: the admin token would travel without TLS; pass --tls-ca and/or --tls-server-name`);
    }
    const verdict = checkListener(target.host, target.port, ownUid(), readSocketTable());
    if (verdict.kind === 'foreign' || verdict.kind === 'unknown') throw new CredentialError(verdict.line);
    return { address, credentials: new OwnerCheckedCredentials(), token };
  }
  const ca = values['tls-ca'] ? readFileSync(values['tls-ca']) : null;
  const name = values['tls-server-name'];
  return {
    address,
    credentials: credentials.createSsl(ca),
    options: name ? { 'grpc.ssl_target_name_override': name, 'grpc.default_authority': name } : {},
    token,
  };
}

const CLIENT_OPTIONS = {
  gateway: { type: 'string', default: DEFAULT_GRPC_LISTEN },
  'data-dir': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-server-name': { type: 'string' },
} as const;

async function connectCommand(args: string[], io: GatewayCommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...CLIENT_OPTIONS, tcp: { type: 'string' }, listen: { type: 'string', default: '127.0.0.1:0' } },
  });
  if (positionals.length !== 1) throw new UsageError('usage: reagent connect AGENT --tcp HOST:PORT [--listen HOST:PORT] [--gateway HOST:PORT]');
  if (!values.tcp) throw new UsageError('--tcp HOST:PORT is required');
  const target = hostPort(values.tcp, '--tcp');
  const listen = listenAddress(values.listen!, '--listen');
  const agent = positionals[0]!;
  const session = await openSession(endpoint(values, adminToken(values, io)), agent, { type: 'tcp', host: target.host, port: target.port }, listen.port);
  const forward = new PortForward(session);
  const port = await forward.listen(listen.host, listen.port);
  io.out(`listening on ${listen.host}:${port}, forwarding to ${target.host}:${target.port} through agent ${agent} (session ${session.sid})`);
  const ended = new Promise<number>((done) =>
    session.onEnd((code, message) => {
      if (message) io.err(`reagent connect: session ended: ${message}`);
      done(code === 0 ? 0 : 1);
    }),
  );
  const stopped = io.untilStopped().then(() => {
    session.close();
    forward.shutdown();
    return 0;
  });
  return Promise.race([ended, stopped]);
}

/** What `reagent exec -t` without a command runs: the agent user's login shell, else sh. */
const DEFAULT_TERMINAL_COMMAND = ['/bin/sh', '-c', 'exec "${SHELL:-/bin/sh}" -l'];

async function execCommand(args: string[], io: GatewayCommandIo): Promise<number> {
  const usage = 'usage: reagent exec AGENT [-t] [--gateway HOST:PORT] -- CMD [ARGS...]';
  const split = args.indexOf('--');
  const { values, positionals } = parseArgs({
    args: split < 0 ? args : args.slice(0, split),
    allowPositionals: true,
    options: { ...CLIENT_OPTIONS, tty: { type: 'boolean', short: 't', default: false } },
  });
  const tty = values.tty === true;
  let command = split < 0 ? [] : args.slice(split + 1);
  if (tty && command.length === 0) command = DEFAULT_TERMINAL_COMMAND;
  if (positionals.length !== 1 || command.length === 0) throw new UsageError(usage);
  if (tty && !io.stdin.isTTY) throw new UsageError('reagent exec -t: stdin is not a terminal (run it from one, or drop -t)');
  const session = await openSession(endpoint(values, adminToken(values, io)), positionals[0]!, { type: 'command-line', command, tty });
  const result = tty
    ? await runTerminal(session, { stdin: io.stdin, stdout: io.stdout as TerminalIo['stdout'] })
    : await runExec(session, { stdin: io.stdin.isTTY ? null : io.stdin, stdout: io.stdout, stderr: io.stderr });
  if (result.message) io.err(result.message);
  return result.code;
}
