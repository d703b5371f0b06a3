// The hoop agent's environment variables (the gateway link), read once and
// validated up front so a typo fails at start-up with the variable's name
// instead of as an opaque gRPC error minutes later. Values that are
// credentials (tokens, DSN secrets) never appear in an error message.
import type { LogEncoding, LogLevel } from '../adapters/log/logger.js';
import { decideTransport, TLS_SCHEMES } from './transport-rule.js';

export type GrpcScheme = 'grpc' | 'grpcs' | 'http' | 'https';
export type DsnScheme = GrpcScheme | 'ws' | 'wss';
export type AgentMode = 'standard' | 'embedded' | 'multi-connection';

export interface GrpcAddress {
  /** As given: hoop's TLS rule for HOOP_GRPCURL compares the raw string. */
  raw: string;
  scheme: GrpcScheme | null;
  host: string;
  port: number;
}

export interface HoopDsn {
  scheme: DsnScheme;
  name: string;
  secret: string;
  host: string;
  port: number;
  mode: AgentMode;
  /** hoop uses TLS only for these schemes; any other means plaintext. */
  tls: boolean;
}

export interface HoopKey extends HoopDsn {
  /** The whole DSN is the bearer token the gateway checks. */
  raw: string;
  variable: 'HOOP_KEY' | 'HOOP_DSN';
}

export type TlsCaSource = { kind: 'pem'; pem: string } | { kind: 'base64'; data: string } | { kind: 'file'; path: string };

export interface HoopEnv {
  grpcUrl: GrpcAddress | null;
  token: string | null;
  key: HoopKey | null;
  tlsServerName: string | null;
  tlsCa: TlsCaSource | null;
  tlsSkipVerify: boolean;
  /** HOOP_GRPC_INSECURE=true: plaintext (grpc://) to a gateway that is not this machine is allowed, with a warning. */
  grpcInsecure: boolean;
  autoRegister: string | null;
  /** REAGENT_GATEWAY_TOKEN: the development gateway's admin token, for AUTO_REGISTER. A secret. */
  gatewayAdminToken: string | null;
  logEncoding: LogEncoding;
  logLevel: LogLevel;
  logGrpc: 0 | 1 | 2;
}

export type HoopEnvResult = { ok: true; value: HoopEnv } | { ok: false; error: string };

export interface EnvDoc {
  name: string;
  default: string;
  meaning: string;
}

/** What `-help` lists under "Environment (gateway link)". */
export const HOOP_ENV_DOC: readonly EnvDoc[] = [
  { name: 'HOOP_GRPCURL', default: '""', meaning: 'gateway gRPC address, host:port or scheme://host:port (grpc, grpcs, http, https)' },
  { name: 'HOOP_TOKEN', default: '""', meaning: 'agent token for the gateway, used with HOOP_GRPCURL (TOKEN is read too)' },
  { name: 'HOOP_KEY', default: '""', meaning: 'agent DSN scheme://NAME:SECRET@HOST:PORT?mode=standard|embedded|multi-connection; wins over HOOP_TOKEN (HOOP_DSN is read too)' },
  { name: 'TLS_SERVER_NAME', default: '""', meaning: 'server name checked on the gateway certificate; setting it forces TLS (HOOP_TLSSERVERNAME is read too)' },
  { name: 'HOOP_TLSCA', default: '""', meaning: 'CA for the gateway: inline PEM, base64://DATA or file://PATH (system roots when unset)' },
  { name: 'HOOP_TLS_SKIP_VERIFY', default: 'false', meaning: 'true skips gateway certificate verification (tests only)' },
  { name: 'HOOP_GRPC_INSECURE', default: 'false', meaning: 'true allows grpc:// (plaintext) to a gateway that is not this machine; every connect then logs a warning' },
  { name: 'AUTO_REGISTER', default: '""', meaning: 'organization name to auto-register the agent with a gateway on 127.0.0.1:8010' },
  { name: 'LOG_ENCODING', default: 'json', meaning: 'stdout log encoding: json or console (human and verbose are read as console)' },
  { name: 'LOG_LEVEL', default: 'INFO', meaning: 'DEBUG (or TRACE), INFO, WARN or ERROR; DEBUG also turns on -debug' },
  { name: 'LOG_GRPC', default: '0', meaning: '1 or 2 logs gRPC transport internals, like -debug-grpc' },
  { name: 'API_URL', default: '""', meaning: 'web address of the gateway for the registration link and auto-registration (https://app.hoop.dev for the SaaS gateway)' },
  { name: 'REAGENT_GATEWAY_TOKEN', default: '""', meaning: 'admin token of the development gateway (reagent gateway), for AUTO_REGISTER, admin, connect and exec; else read from ~/.reagent/gateway/admin.token' },
  { name: 'REAGENT_LOCAL_GATEWAY', default: '127.0.0.1:8010', meaning: 'loopback HOST:PORT where local mode and AUTO_REGISTER look for a gateway' },
  { name: 'REAGENT_GRPC_KEEPALIVE_MS', default: '310000', meaning: 'HTTP/2 ping interval towards the gateway (0 = none); hoop gateways refuse pings more often than every 5 min' },
];

/** Reads LOG_LEVEL leniently (null when unset or invalid); readHoopEnv reports the invalid case. */
export function parseLogLevel(raw: string | undefined): LogLevel | null {
  switch (raw?.trim().toLowerCase()) {
    case 'debug':
    case 'trace':
      return 'debug';
    case 'info':
      return 'info';
    case 'warn':
      return 'warn';
    case 'error':
      return 'error';
    default:
      return null;
  }
}

/** LOG_GRPC as a level, or null when unset or invalid. */
export function parseLogGrpc(raw: string | undefined): 0 | 1 | 2 | null {
  const value = raw?.trim() ?? '';
  if (value === '' || value === '0') return 0;
  if (value === '1') return 1;
  if (value === '2') return 2;
  return null;
}

export function readHoopEnv(env: NodeJS.ProcessEnv): HoopEnvResult {
  const errors: string[] = [];
  const get = (name: string): string | null => {
    const value = env[name]?.trim();
    return value ? value : null;
  };

  let grpcUrl: GrpcAddress | null = null;
  const rawUrl = get('HOOP_GRPCURL');
  if (rawUrl !== null) {
    grpcUrl = parseGrpcAddress(rawUrl);
    if (!grpcUrl) errors.push(`HOOP_GRPCURL: expected host:port or scheme://host:port with scheme grpc, grpcs, http or https${echo(rawUrl)}`);
  }

  let key: HoopKey | null = null;
  const keyVariable = get('HOOP_KEY') !== null ? 'HOOP_KEY' : get('HOOP_DSN') !== null ? 'HOOP_DSN' : null;
  if (keyVariable !== null) {
    const raw = get(keyVariable) ?? '';
    // The whole DSN is the bearer token: checked as one before it is parsed.
    const problem = bearerProblem(raw);
    const parsed = problem ? null : parseDsn(raw);
    if (problem) errors.push(`${keyVariable}: ${problem}`);
    else if (parsed?.ok) key = { ...parsed.value, raw, variable: keyVariable };
    else if (parsed) errors.push(`${keyVariable}: ${parsed.error}`);
  }

  const tokenVariable = get('HOOP_TOKEN') !== null ? 'HOOP_TOKEN' : get('TOKEN') !== null ? 'TOKEN' : null;
  const token = tokenVariable === null ? null : get(tokenVariable);
  if (tokenVariable !== null) {
    const problem = bearerProblem(token ?? '');
    if (problem) errors.push(`${tokenVariable}: ${problem}`);
  }
  const gatewayAdminToken = get('REAGENT_GATEWAY_TOKEN');
  if (gatewayAdminToken !== null) {
    const problem = bearerProblem(gatewayAdminToken);
    if (problem) errors.push(`REAGENT_GATEWAY_TOKEN: ${problem}`);
  }

  let tlsCa: TlsCaSource | null = null;
  const rawCa = get('HOOP_TLSCA');
  if (rawCa !== null) {
    tlsCa = classifyTlsCa(rawCa);
    if (!tlsCa) errors.push('HOOP_TLSCA: expected an inline PEM certificate (-----BEGIN CERTIFICATE-----…), base64://DATA or file://PATH');
  }

  let tlsSkipVerify = false;
  const rawSkip = get('HOOP_TLS_SKIP_VERIFY');
  if (rawSkip !== null) {
    const lower = rawSkip.toLowerCase();
    if (lower === 'true' || lower === 'false') tlsSkipVerify = lower === 'true';
    else errors.push(`HOOP_TLS_SKIP_VERIFY: expected true or false${echo(rawSkip)}`);
  }

  let grpcInsecure = false;
  const rawInsecure = get('HOOP_GRPC_INSECURE');
  if (rawInsecure !== null) {
    const lower = rawInsecure.toLowerCase();
    if (lower === 'true' || lower === 'false') grpcInsecure = lower === 'true';
    else errors.push(`HOOP_GRPC_INSECURE: expected true or false${echo(rawInsecure)}`);
  }

  // Plaintext to another machine is refused here, before anything starts (config/transport-rule.ts).
  const tlsServerName = get('TLS_SERVER_NAME') ?? get('HOOP_TLSSERVERNAME');
  const refusal = (host: string, scheme: string | null) => {
    const d = decideTransport({ host, scheme, tlsServerName, insecure: grpcInsecure });
    return 'refused' in d ? d.refused : null;
  };
  if (key) {
    const why = refusal(key.host, key.scheme);
    if (why) errors.push(`${key.variable}: ${why}`);
  }
  if (grpcUrl) {
    const why = refusal(grpcUrl.host, grpcUrl.scheme);
    if (why) errors.push(`HOOP_GRPCURL: ${why}`);
  }

  let logEncoding: LogEncoding = 'json';
  const rawEncoding = get('LOG_ENCODING');
  if (rawEncoding !== null) {
    const lower = rawEncoding.toLowerCase();
    // hoop's newer human/verbose encoders are colour variants of console output.
    if (lower === 'json') logEncoding = 'json';
    else if (lower === 'console' || lower === 'human' || lower === 'verbose') logEncoding = 'console';
    else errors.push(`LOG_ENCODING: expected json or console${echo(rawEncoding)}`);
  }

  const rawLevel = get('LOG_LEVEL');
  const logLevel = parseLogLevel(rawLevel ?? 'info');
  if (logLevel === null) errors.push(`LOG_LEVEL: expected DEBUG, TRACE, INFO, WARN or ERROR${echo(rawLevel ?? '')}`);

  const rawGrpc = get('LOG_GRPC');
  const logGrpc = parseLogGrpc(rawGrpc ?? undefined);
  if (logGrpc === null) errors.push(`LOG_GRPC: expected 0, 1 or 2${echo(rawGrpc ?? '')}`);

  // One line per problem, each naming its variable.
  if (errors.length > 0 || logLevel === null || logGrpc === null) return { ok: false, error: errors.join('\n') };
  return {
    ok: true,
    value: {
      grpcUrl,
      token,
      key,
      tlsServerName,
      tlsCa,
      tlsSkipVerify,
      grpcInsecure,
      autoRegister: get('AUTO_REGISTER'),
      gatewayAdminToken,
      logEncoding,
      logLevel,
      logGrpc,
    },
  };
}

/** hoop's credential order, any one of which lets the gateway link start. */
export function hasGatewayCredentials(hoopEnv: HoopEnv, agentTomlExists: boolean): boolean {
  return hoopEnv.autoRegister !== null || (hoopEnv.grpcUrl !== null && hoopEnv.token !== null) || hoopEnv.key !== null || agentTomlExists;
}

const GRPC_SCHEMES: readonly string[] = ['grpc', 'grpcs', 'http', 'https'];
const DSN_SCHEMES: readonly string[] = [...GRPC_SCHEMES, 'ws', 'wss'];

/**
 * A bearer token (HOOP_TOKEN, the whole HOOP_KEY DSN) travels as an HTTP/2
 * header value in the Connect call's metadata: printable ASCII without
 * spaces (grpc-js throws on anything else, quoting the value), and small.
 * hoop's tokens and DSNs are under 200 bytes; 8 KiB is far beyond them and
 * within what gRPC servers and proxies accept for all headers together.
 */
export const MAX_BEARER_BYTES = 8 * 1024;
const BEARER_SHAPE = /^[\x21-\x7e]+$/;

/** What is wrong with a bearer value, without quoting any of it; null when it can be sent. */
export function bearerProblem(value: string): string | null {
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_BEARER_BYTES) return `${bytes} bytes is too long to send as gRPC metadata (at most ${MAX_BEARER_BYTES})`;
  if (!BEARER_SHAPE.test(value)) return 'contains characters that cannot be sent as gRPC metadata (expected printable ASCII without spaces or control characters)';
  return null;
}
const MODES: readonly string[] = ['standard', 'embedded', 'multi-connection'];

export function parseGrpcAddress(raw: string): GrpcAddress | null {
  const match = /^(?:([a-z]+):\/\/)?([^/?#@]+?)\/?$/i.exec(raw);
  if (!match) return null;
  const scheme = match[1]?.toLowerCase() ?? null;
  if (scheme !== null && !GRPC_SCHEMES.includes(scheme)) return null;
  const hostPort = parseHostPort(match[2] ?? '');
  return hostPort && { raw, scheme: scheme as GrpcScheme | null, ...hostPort };
}

export type DsnResult = { ok: true; value: HoopDsn } | { ok: false; error: string };

const DSN_SHAPE = 'SCHEME://NAME:SECRET@HOST:PORT?mode=standard|embedded|multi-connection';

/** Parses an agent DSN. Errors describe the part at fault and never quote the input. */
export function parseDsn(raw: string): DsnResult {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(raw);
  if (!match) return { ok: false, error: `expected a DSN ${DSN_SHAPE}` };
  const scheme = (match[1] ?? '').toLowerCase();
  const authority = match[2] ?? '';
  if (!DSN_SCHEMES.includes(scheme)) return { ok: false, error: 'unsupported DSN scheme (expected grpc, grpcs, http, https, ws or wss)' };
  if (match[3] && match[3] !== '/') return { ok: false, error: `expected a DSN ${DSN_SHAPE} (the legacy form with a key in the path is not supported)` };

  // Like Go's url.Parse: the last '@' ends the userinfo, the first ':' splits it.
  const at = authority.lastIndexOf('@');
  if (at < 0) return { ok: false, error: `missing NAME:SECRET@ in the DSN (expected ${DSN_SHAPE})` };
  const userinfo = authority.slice(0, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return { ok: false, error: `missing the secret after the agent name (expected ${DSN_SHAPE})` };
  const name = decode(userinfo.slice(0, colon));
  const secret = decode(userinfo.slice(colon + 1));
  if (name === null || name === '') return { ok: false, error: 'the agent name in the DSN is empty or badly percent-encoded' };
  if (secret === null || secret === '') return { ok: false, error: 'the secret in the DSN is empty or badly percent-encoded' };

  const hostPort = parseHostPort(authority.slice(at + 1));
  if (!hostPort) return { ok: false, error: `expected HOST:PORT after "@" in the DSN (expected ${DSN_SHAPE})` };

  const mode = new URLSearchParams(match[4] ?? '').get('mode') ?? 'standard';
  if (!MODES.includes(mode)) return { ok: false, error: 'unknown DSN mode (expected standard, embedded or multi-connection)' };

  return { ok: true, value: { scheme: scheme as DsnScheme, name, secret, ...hostPort, mode: mode as AgentMode, tls: TLS_SCHEMES.includes(scheme) } };
}

export function formatDsn(dsn: Omit<HoopDsn, 'tls'>): string {
  const host = dsn.host.includes(':') ? `[${dsn.host}]` : dsn.host;
  return `${dsn.scheme}://${encodeURIComponent(dsn.name)}:${encodeURIComponent(dsn.secret)}@${host}:${dsn.port}?mode=${dsn.mode}`;
}

function parseHostPort(text: string): { host: string; port: number } | null {
  const match = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9_.-]+)):(\d{1,5})$/i.exec(text);
  if (!match) return null;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return null;
  return { host: match[1] ?? match[2] ?? '', port };
}

function classifyTlsCa(raw: string): TlsCaSource | null {
  if (raw.startsWith('base64://')) {
    const data = raw.slice('base64://'.length);
    return /^[A-Za-z0-9+/=_\s-]+$/.test(data) ? { kind: 'base64', data } : null;
  }
  if (raw.startsWith('file://')) {
    const path = raw.slice('file://'.length);
    return path ? { kind: 'file', path } : null;
  }
  return raw.includes('-----BEGIN ') ? { kind: 'pem', pem: raw } : null;
}

function decode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

// A rejected value is never quoted, not even part of it: a token pasted into
// the wrong variable is still a token. The message names the variable and
// what it takes; the person fixing it can see the value themselves.
function echo(_value: string): string {
  return ', got another value (not shown)';
}
