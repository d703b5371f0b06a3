// `request_app_state` as it enters the apps link, already typed where it
// entered (the studio link's parser, adapters/wamp/request-app-state.ts, or the
// agent's own minimalRequest): the domain work left is what becomes an image
// tag, an environment, a port or a registry host. The result is the REQUEST event for the app
// statechart (journaled, so it carries no secret: registry credentials stay
// in memory and the event names only the hosts they are for; environment
// values go to the secret table, store/secret-store.ts, and the event names
// the variables and the fingerprint of their values) plus what the Docker
// adapter needs to run the app (registry, environment, ports).

import type { Json } from '../actors/types.js';
import { describeValue, type AppRequestPayload, type RequestSpecPayload } from '../machines/app-request.js';
import { AppId } from '../machines/app-id.js';
import { NamingError, validateImageTag, type AppIdentity } from '../adapters/docker/naming.js';
import type { AppRuntimeSpec } from './executors/app-image.js';
import type { PortSpec } from '../adapters/docker/containers.js';
import type { RegistryCredentials } from '../adapters/docker/types.js';
import type { AppStateRequest } from './service.js';
import { envFingerprint } from '../adapters/store/secret-store.js';
import { parseComposePayload, type ComposeSpec } from '../adapters/compose/project.js';

/** Registry settings that apply when a request does not name its own (the `.flock`'s). */
export interface RegistryDefaults {
  registry: string;
  repository: string;
}

/** The REQUEST event payload: journaled, and the source of the `app_requests` projection (declared in machines/). */
export type RequestEventPayload = AppRequestPayload;
export type { RequestSpecPayload };

export interface ValidatedRequest {
  app: AppIdentity;
  actorId: AppId;
  event: RequestEventPayload;
  spec: AppRuntimeSpec;
  /** `docker_credentials` by registry host; kept in memory only. */
  credentials: Map<string, RegistryCredentials>;
}

export type RequestResult = { ok: true; request: ValidatedRequest } | { ok: false; error: string };

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOST = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$/;
const MAX_ENV_BYTES = 256 * 1024;

class FieldError extends Error {
  constructor(field: string, expected: string, got: unknown) {
    super(`field "${field}": expected ${expected}, got ${describeValue(got)}`);
  }
}


function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalTag(field: string, v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const s = typeof v === 'number' && Number.isFinite(v) ? String(v) : v;
  try {
    return validateImageTag(s, field);
  } catch (err) {
    if (err instanceof NamingError) throw new FieldError(field, err.expected, v);
    throw err;
  }
}

function optionalBool(field: string, v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new FieldError(field, 'true or false', v);
  return v;
}

/** `environment`: `{NAME: value}`, values as strings, numbers, booleans or `{value}` objects. */
export function parseEnvironment(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw new FieldError('environment', 'an object of NAME: value', v);
  const env: Record<string, string> = {};
  let bytes = 0;
  for (const [name, raw] of Object.entries(v)) {
    if (!ENV_KEY.test(name)) throw new FieldError(`environment.${name}`, 'a variable name of letters, digits and "_", not starting with a digit', name);
    const value = isRecord(raw) && 'value' in raw ? raw['value'] : raw;
    if (value === null || value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new FieldError(`environment.${name}`, 'a string, number or boolean (or {value: …})', value);
    }
    const text = String(value);
    if (text.includes('\0')) throw new FieldError(`environment.${name}`, 'a value without NUL', 'a string with NUL');
    bytes += name.length + Buffer.byteLength(text);
    env[name] = text;
  }
  if (bytes > MAX_ENV_BYTES) throw new FieldError('environment', `at most ${MAX_ENV_BYTES} bytes in all`, `${bytes} bytes`);
  return env;
}

function port(field: string, v: unknown): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) throw new FieldError(field, 'a port number 1-65535', v);
  return n;
}

/** `ports`: the Reagent's PortForwardRule list; inactive rules are left out. */
export function parsePorts(v: unknown): PortSpec[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new FieldError('ports', 'an array of port rules', v);
  const out: PortSpec[] = [];
  v.forEach((rule, i) => {
    if (!isRecord(rule)) throw new FieldError(`ports[${i}]`, 'an object with "port"', rule);
    if (rule['active'] === false) return;
    const protocol = rule['protocol'] === undefined || rule['protocol'] === null || rule['protocol'] === '' ? 'tcp' : rule['protocol'];
    // http/https rules are TCP ports exposed through the tunnel.
    const proto = protocol === 'http' || protocol === 'https' ? 'tcp' : protocol;
    if (proto !== 'tcp' && proto !== 'udp') throw new FieldError(`ports[${i}].protocol`, '"tcp", "udp", "http" or "https"', protocol);
    const spec: PortSpec = { port: port(`ports[${i}].port`, rule['port']), protocol: proto };
    if (rule['host_port'] !== undefined && rule['host_port'] !== null && rule['host_port'] !== 0) spec.host_port = port(`ports[${i}].host_port`, rule['host_port']);
    for (const k of ['remote_port', 'cloud_remote_port'] as const) {
      if (rule[k] !== undefined && rule[k] !== null && rule[k] !== 0 && rule[k] !== '') spec[k] = port(`ports[${i}].${k}`, rule[k]);
    }
    const custom = rule['remote_port_environment'];
    if (custom !== undefined && custom !== null && custom !== '') {
      if (typeof custom !== 'string' || !ENV_KEY.test(custom)) throw new FieldError(`ports[${i}].remote_port_environment`, 'a variable name of letters, digits and "_"', custom);
      spec.remote_port_environment = custom;
    }
    // One host port per container port and protocol: a repeated rule adds nothing.
    if (out.some((o) => o.port === spec.port && o.protocol === spec.protocol)) return;
    out.push(spec);
  });
  return out;
}

/** `docker_credentials`: `{host: {username, password}}`. */
export function parseDockerCredentials(v: unknown): Map<string, RegistryCredentials> {
  const out = new Map<string, RegistryCredentials>();
  if (v === undefined || v === null) return out;
  if (!isRecord(v)) throw new FieldError('docker_credentials', 'an object of host: {username, password}', v);
  for (const [host, entry] of Object.entries(v)) {
    const h = host.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    if (!HOST.test(h)) throw new FieldError('docker_credentials', 'registry hosts as keys, like "registry.example.com" or "127.0.0.1:5000"', host);
    if (!isRecord(entry) || typeof entry['username'] !== 'string' || typeof entry['password'] !== 'string') {
      // The value is never echoed: it is a credential.
      throw new Error(`field "docker_credentials.${h}": expected {username: string, password: string}`);
    }
    out.set(h, { username: entry['username'], password: entry['password'], serveraddress: h });
  }
  return out;
}

export function portsJson(ports: PortSpec[]): Array<{ [key: string]: Json }> {
  return ports.map((p) => {
    const out: { [key: string]: Json } = { port: p.port, protocol: p.protocol ?? 'tcp' };
    for (const k of ['host_port', 'remote_port', 'cloud_remote_port', 'remote_port_environment'] as const) if (p[k] !== undefined) out[k] = p[k];
    return out;
  });
}

/**
 * The compose file the app runs: `new_docker_compose` when the request asks
 * for an update (it belongs to the newest release), else `docker_compose`
 * (falling back to the other one when only it is given).
 */
function composeOf(req: AppStateRequest): ComposeSpec | undefined {
  const current = parseComposePayload('docker_compose', req.dockerCompose);
  const next = parseComposePayload('new_docker_compose', req.newDockerCompose);
  return req.requestUpdate ? (next ?? current) : (current ?? next);
}

export interface RequestOptions {
  /** The device's fingerprint of a value (SecretStore.fingerprint); the environment's goes into the event. */
  fingerprint?: (value: string) => string;
  requestId?: string;
  /** A re-statement of the standing request (boot, reconnect sync), not a user action. */
  resync?: boolean;
}

function keyJson(v: number | string | null): Json {
  return v;
}

/**
 * Checks what the studio link's parser left to the apps link (everything that
 * becomes an image tag, an environment, a port, a registry host) and builds
 * the REQUEST event.
 */
export function validateRequest(req: AppStateRequest, defaults: RegistryDefaults, opts: RequestOptions = {}): RequestResult {
  try {
    // app_key, app_name, stage and target_state were checked where the request entered (their types say so).
    const appName = req.appName;
    const version = optionalTag('version', req.version) ?? optionalTag('present_version', req.presentVersion);
    const newestVersion = optionalTag('newest_version', req.newestVersion);
    const requestUpdate = optionalBool('request_update', req.requestUpdate);
    const cancel = optionalBool('cancel_transition', req.cancelTransition);
    const env = parseEnvironment(req.environment);
    const ports = parsePorts(req.ports);
    const credentials = parseDockerCredentials(req.dockerCredentials);
    const compose = composeOf(req);
    const spec: AppRuntimeSpec = { registry: defaults.registry, repository: defaults.repository, env, ports, ...(compose ? { compose } : {}) };
    const event: RequestEventPayload = {
      target: req.targetState,
      appName,
      spec: {
        registry: spec.registry,
        repository: spec.repository,
        envNames: Object.keys(env).sort(),
        ...(Object.keys(env).length > 0 && opts.fingerprint ? { envFingerprint: envFingerprint({ fingerprint: opts.fingerprint }, env) } : {}),
        ports: portsJson(ports),
        ...(compose ? { compose } : {}),
      },
      report: {
        device_to_app_key: keyJson(req.deviceToAppKey ?? null),
        requestor_account_key: keyJson(req.requestorAccountKey ?? null),
        release_key: keyJson(req.releaseKey ?? null),
      },
      ...(version !== undefined ? { version } : {}),
      ...(newestVersion !== undefined ? { newestVersion } : {}),
      ...(requestUpdate ? { requestUpdate } : {}),
      ...(cancel ? { cancel } : {}),
      ...(opts.requestId !== undefined ? { requestId: opts.requestId } : {}),
      ...(opts.resync ? { resync: true } : {}),
      ...(credentials.size > 0 ? { registryLogins: [...credentials.keys()] } : {}),
      ...(typeof req.appCredEpoch === 'number' && Number.isSafeInteger(req.appCredEpoch) && req.appCredEpoch > 0 ? { appCredEpoch: req.appCredEpoch } : {}),
      ...(typeof req.deviceOwnerAccountKey === 'number' && Number.isSafeInteger(req.deviceOwnerAccountKey) && req.deviceOwnerAccountKey !== 0
        ? { deviceOwnerAccountKey: req.deviceOwnerAccountKey }
        : {}),
    };
    const app: AppIdentity = { appKey: String(req.appKey), stage: req.stage, appName };
    return { ok: true, request: { app, actorId: AppId.format(req.stage, app.appKey), event, spec, credentials } };
  } catch (err) {
    return { ok: false, error: `request_app_state: ${(err as Error).message}` };
  }
}

/**
 * The runtime spec stored in a REQUEST payload (journal or projection), read
 * defensively; the environment values come from the secret table (`env`).
 * A payload journaled before values left the journal still has them under
 * `spec.env`: they are used when the table has none (see legacyEnv).
 */
export function specFromPayload(payload: unknown, defaults: RegistryDefaults, env?: Record<string, string>): AppRuntimeSpec {
  const spec = isRecord(payload) && isRecord(payload['spec']) ? payload['spec'] : {};
  let ports: PortSpec[] = [];
  let values: Record<string, string> = env ?? {};
  let compose: ComposeSpec | undefined;
  try {
    if (env === undefined) values = parseEnvironment(spec['env']);
  } catch {
    // a damaged row runs the app without them rather than not at all
  }
  try {
    ports = parsePorts(spec['ports']);
  } catch {
    // likewise
  }
  try {
    compose = parseComposePayload('spec.compose', spec['compose']);
  } catch {
    // a damaged compose file: the app's operations fail with a clear reason instead
  }
  return {
    registry: typeof spec['registry'] === 'string' ? spec['registry'] : defaults.registry,
    repository: typeof spec['repository'] === 'string' ? spec['repository'] : defaults.repository,
    env: values,
    ports,
    ...(compose ? { compose } : {}),
  };
}

/**
 * A REQUEST payload of a journal written before environment values left it:
 * the values (to move into the secret table) and the payload without them,
 * as it is journaled again. `undefined` for a current payload.
 */
export function legacyEnv(
  payload: { [key: string]: Json | undefined },
  fingerprint: (value: string) => string,
): { env: Record<string, string>; payload: { [key: string]: Json | undefined } } | undefined {
  const spec = payload['spec'];
  if (!isRecord(spec) || !('env' in spec)) return undefined;
  let env: Record<string, string> = {};
  try {
    env = parseEnvironment(spec['env']);
  } catch {
    // damaged: dropped, as specFromPayload did
  }
  const { env: _values, ...specRest } = spec;
  const names = Object.keys(env).sort();
  const newSpec = { ...specRest, envNames: names, ...(names.length > 0 ? { envFingerprint: envFingerprint({ fingerprint }, env) } : {}) } as Json;
  const { credentialHosts: hosts, ...top } = payload;
  return { env, payload: { ...top, spec: newSpec, ...(Array.isArray(hosts) ? { registryLogins: hosts } : {}) } };
}

