// Reads the device's `.flock` (formerly `.reswarm`) file: identity and WAMP-CRA
// credentials issued by the IronFlock studio. Unlike the Reagent we never
// write it back: the Reagent re-saved it on every start, which risks
// truncating the only copy of the device secret if power fails mid-write. Legacy values
// are rewritten in memory only and reported as notes.
//
// Every failure is one line naming the file, the field and the expected type.
// No string from the file is ever quoted, not even a few characters of it:
// any string field may hold the device secret or a private key pasted into
// the wrong place, so a value is described by its type alone.

export type FlockEnvironment = 'production' | 'test' | 'local';

export interface FlockConfig {
  readonly device_endpoint_url: string;
  readonly secret: string;
  readonly swarm_key: number;
  readonly device_key: number;
  readonly serial_number: string;
  readonly name?: string;
  readonly swarm_name?: string;
  readonly swarm_owner_name?: string;
  readonly environment?: FlockEnvironment;
  readonly docker_registry_url?: string;
  readonly docker_main_repository?: string;
  readonly appliance_domain?: string;
  readonly update_url?: string;
  readonly board?: { readonly model?: string };
  readonly authentication?: { readonly key?: string; readonly certificate?: string };
  readonly 'insecure-registries'?: readonly string[];
}

export type FlockResult = { ok: true; config: FlockConfig; notes: string[] } | { ok: false; error: string };

/** Reads a file as UTF-8 text; throws Node's ErrnoException on failure. */
export type ReadTextFile = (path: string) => string;

type Kind = 'string' | 'nonEmptyString' | 'integer' | 'wsUrl' | 'environment' | 'board' | 'authentication' | 'stringArray';

interface FieldRule {
  kind: Kind;
  /** Why the field is required; absent for optional fields. */
  required?: string;
}

// Other keys are ignored with any value, as Go's encoding/json does: the studio
// also writes status, password, wlanssid, config_passphrase, description and
// architecture, which the agent never uses, and may add more.
const FIELDS: Readonly<Record<string, FieldRule>> = {
  device_endpoint_url: { kind: 'wsUrl', required: 'the WAMP websocket URL of the IronFlock platform' },
  secret: { kind: 'nonEmptyString', required: 'the WAMP-CRA secret of the device' },
  swarm_key: { kind: 'integer', required: 'the key of the device\'s project, part of its WAMP authid' },
  device_key: { kind: 'integer', required: 'the key of the device, part of its WAMP authid' },
  serial_number: { kind: 'nonEmptyString', required: 'the device serial number that names its WAMP procedures' },
  name: { kind: 'string' },
  swarm_name: { kind: 'string' },
  swarm_owner_name: { kind: 'string' },
  environment: { kind: 'environment' },
  docker_registry_url: { kind: 'string' },
  docker_main_repository: { kind: 'string' },
  appliance_domain: { kind: 'string' },
  update_url: { kind: 'string' },
  board: { kind: 'board' },
  authentication: { kind: 'authentication' },
  'insecure-registries': { kind: 'stringArray' },
};

const ENVIRONMENTS: readonly string[] = ['production', 'test', 'local'];

const LEGACY_REGISTRY = 'registry.reswarm.io/';
const CURRENT_REGISTRY = 'registry.ironflock.com/';
const LEGACY_ENDPOINT = 'wss://cbw.record-evolution.com/ws-re-dev';
const CURRENT_ENDPOINT = 'wss://cbw.ironflock.com/ws-re-dev';

export function loadFlockConfig(path: string, readFile: ReadTextFile): FlockResult {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    return { ok: false, error: `${path}: cannot read config: ${describeReadError(err)}` };
  }
  // Editors on Windows may prefix a BOM, which JSON.parse rejects.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `${path}: invalid JSON: ${describeJsonError(text, err)}` };
  }
  return validateFlock(value, path);
}

export function validateFlock(value: unknown, file: string): FlockResult {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: `${file}: expected a JSON object at the top level, got ${describe(value)}` };
  }
  const input = value as Record<string, unknown>;
  const secret = typeof input.secret === 'string' ? input.secret : '';
  const config: Record<string, unknown> = {};

  for (const [field, rule] of Object.entries(FIELDS)) {
    const raw = Object.hasOwn(input, field) ? input[field] : undefined;
    // Go's encoding/json reads null as "not set", so the Reagent accepted it; so do we.
    if (raw === undefined || raw === null) {
      if (rule.required) return fail(file, secret, `field "${field}": required (${rule.required})`);
      continue;
    }
    const checked = check(rule.kind, field, raw);
    if (!checked.ok) return fail(file, secret, `field "${checked.path}": expected ${checked.expected}, got ${describe(checked.got, rule.kind)}`);
    config[field] = checked.value;
  }

  const notes: string[] = [];
  const registry = config.docker_registry_url;
  if (typeof registry === 'string' && registry.includes(LEGACY_REGISTRY)) {
    config.docker_registry_url = registry.replaceAll(LEGACY_REGISTRY, CURRENT_REGISTRY);
    notes.push(`${file}: docker_registry_url names the retired ${LEGACY_REGISTRY}; using ${CURRENT_REGISTRY} (the file is not rewritten)`);
  }
  if (config.device_endpoint_url === LEGACY_ENDPOINT) {
    config.device_endpoint_url = CURRENT_ENDPOINT;
    notes.push(`${file}: device_endpoint_url names the retired ${LEGACY_ENDPOINT}; using ${CURRENT_ENDPOINT} (the file is not rewritten)`);
  }
  // The table above checked every field's type; this is the one cast at the boundary.
  return { ok: true, config: config as unknown as FlockConfig, notes };
}

/**
 * The Reagent presents the `.flock`'s client certificate, with certificate
 * checks off, to its legacy endpoints only: `devices.*\.(com|io):8080`. Its
 * regex runs unanchored over the whole URL, so `wss://evil.example/devices.x.com:8080`
 * matched and got the device's private key and no server check. Here the same
 * rule is anchored and applied to the URL's host:port only, on wss://.
 */
const LEGACY_TLS_HOST = /^devices[a-z0-9.-]*\.(?:com|io):8080$/;

export function isLegacyTlsEndpoint(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return parsed.protocol === 'wss:' && LEGACY_TLS_HOST.test(`${parsed.hostname}:${parsed.port}`);
}

/** TLS options for the studio link: the client certificate, and no server check, for a legacy endpoint only. */
export function legacyClientTls(config: Pick<FlockConfig, 'device_endpoint_url' | 'authentication'>): { key: string; cert: string; rejectUnauthorized: false } | undefined {
  const auth = config.authentication;
  if (!auth?.key || !auth.certificate || !isLegacyTlsEndpoint(config.device_endpoint_url)) return undefined;
  return { key: auth.key, cert: auth.certificate, rejectUnauthorized: false };
}

type Checked = { ok: true; value: unknown } | { ok: false; path: string; expected: string; got: unknown };

function check(kind: Kind, path: string, value: unknown): Checked {
  const bad = (expected: string, at = path, got = value): Checked => ({ ok: false, path: at, expected, got });
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? { ok: true, value } : bad('a string');
    case 'nonEmptyString':
      return typeof value === 'string' && value !== '' ? { ok: true, value } : bad('a non-empty string');
    case 'integer':
      return Number.isSafeInteger(value) ? { ok: true, value } : bad('an integer');
    case 'wsUrl':
      return typeof value === 'string' && isWebSocketUrl(value) ? { ok: true, value } : bad('a ws:// or wss:// URL');
    case 'environment':
      return typeof value === 'string' && ENVIRONMENTS.includes(value) ? { ok: true, value } : bad('one of "production", "test", "local"');
    case 'stringArray': {
      if (!Array.isArray(value)) return bad('an array of strings');
      const index = value.findIndex((item) => typeof item !== 'string');
      return index < 0 ? { ok: true, value: [...value] } : bad('a string', `${path}[${index}]`, value[index]);
    }
    case 'board':
    case 'authentication': {
      if (typeof value !== 'object' || Array.isArray(value)) return bad('an object');
      const object = value as Record<string, unknown>;
      const keys = kind === 'board' ? ['model'] : ['key', 'certificate'];
      const out: Record<string, string> = {};
      for (const key of keys) {
        const item = object[key];
        if (item === undefined || item === null) continue;
        if (typeof item !== 'string') return bad('a string', `${path}.${key}`, item);
        out[key] = item;
      }
      return { ok: true, value: out };
    }
  }
}

function isWebSocketUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'ws:' || url.protocol === 'wss:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function fail(file: string, secret: string, message: string): FlockResult {
  // Last guard: whatever the message quotes, the secret itself never leaves.
  const safe = secret.length >= 4 ? message.replaceAll(secret, '[REDACTED]') : message;
  return { ok: false, error: `${file}: ${safe}` };
}

/** A value by its type alone: what was given, never what it says. */
function describe(value: unknown, kind?: Kind): string {
  if (typeof value === 'string') {
    if (value === '') return 'an empty string';
    return kind === 'integer' ? 'a string (write the number without quotes)' : 'a string';
  }
  if (typeof value === 'number') {
    if (kind !== 'integer') return 'a number';
    return Number.isInteger(value) ? 'an integer too large to be exact' : 'a number that is not an integer';
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function describeReadError(err: unknown): string {
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/**
 * V8's JSON errors either carry "at position N" or quote a slice of the input
 * ("Unexpected token 'x', "...secret..." is not valid JSON"), which may hold
 * the device secret. So the position and wording come from our own scan of
 * the text; the V8 message, minus any quoted input, is only the fallback.
 */
export function describeJsonError(text: string, err: unknown): string {
  const found = locateJsonError(text);
  if (found) {
    const { line, column } = lineColumn(text, found.at);
    return `${found.what} at line ${line}, column ${column}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/,?\s*".*" is not valid JSON$/s, '') || 'not valid JSON';
}

function lineColumn(text: string, at: number): { line: number; column: number } {
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return { line, column: at - before.lastIndexOf('\n') };
}

/** First syntax error in `text` per RFC 8259, or null if it is valid JSON. */
export function locateJsonError(text: string): { at: number; what: string } | null {
  let i = 0;
  class Stop {
    constructor(readonly at: number, readonly what: string) {}
  }
  const stop = (what: string, at = i): never => {
    throw new Stop(at, i >= text.length && at === i ? 'unexpected end of input' : what);
  };
  const skipSpace = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const unexpected = (): string => {
    const c = text.charCodeAt(i);
    return c > 0x20 && c < 0x7f ? `unexpected character '${text[i]}'` : `unexpected character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  };
  const readString = (): void => {
    const start = i;
    i++;
    for (;;) {
      if (i >= text.length) stop('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) stop('control character in string (escape it)');
      if (c === 0x5c) {
        const next = text[i + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) stop('bad \\u escape in string');
          i += 6;
        } else if (next !== undefined && '"\\/bfnrt'.includes(next)) {
          i += 2;
        } else {
          stop('bad escape in string');
        }
      } else {
        i++;
      }
    }
  };
  const readValue = (): void => {
    skipSpace();
    const c = text[i];
    if (c === '{') {
      i++;
      skipSpace();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        skipSpace();
        if (text[i] !== '"') stop(text[i] === '}' ? 'trailing comma before \'}\'' : 'expected a double-quoted property name');
        readString();
        skipSpace();
        if (text[i] !== ':') stop("expected ':' after property name");
        i++;
        readValue();
        skipSpace();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else stop("expected ',' or '}' after property value");
      }
    }
    if (c === '[') {
      i++;
      skipSpace();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        skipSpace();
        if (text[i] === ']') stop("trailing comma before ']'");
        readValue();
        skipSpace();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else stop("expected ',' or ']' after array element");
      }
    }
    if (c === '"') return readString();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
      number.lastIndex = i;
      const match = number.exec(text);
      if (!match) stop('invalid number');
      i += match?.[0].length ?? 0;
      return;
    }
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    stop(i >= text.length ? 'unexpected end of input' : unexpected());
  };
  try {
    readValue();
    skipSpace();
    if (i < text.length) stop('unexpected data after the JSON value');
    return null;
  } catch (caught) {
    if (caught instanceof Stop) return { at: caught.at, what: caught.what };
    return null; // e.g. stack overflow on absurd nesting: fall back to V8's message
  }
}
