// The secret table: what an adapter must keep across restarts but no event,
// machine context, log or export may carry. Today that is the per-device salt
// of fingerprints and each app's `environment` values (a container is
// recreated offline from them); registry logins of issue 13A can use `get`/`set`.
//
// Events carry a fingerprint instead of a value: `sha256:` and the first 16
// hex digits of sha256(salt || value). Machines can still tell that a value
// changed; without the salt (never exported) a short or guessable value
// cannot be confirmed from a bug report.
//
// On disk: `<agentDir>/secrets.json`, 0600, read with O_NOFOLLOW and written
// as a new file renamed into place (store/new-file.ts), so neither a planted
// symlink nor a reader racing a write ever sees a half file or another path.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeNewFile } from './new-file.js';

/** `sha256:` + 16 hex digits. */
export const FINGERPRINT = /^sha256:[0-9a-f]{16}$/;

export interface SecretStore {
  /** `sha256:` + 16 hex of sha256(salt || value): stable on this device, meaningless elsewhere. */
  fingerprint(value: string): string;
  /** The environment values of an app actor, as last requested. */
  appEnv(actor: string): Record<string, string> | undefined;
  setAppEnv(actor: string, env: Readonly<Record<string, string>>): void;
  forgetApp(actor: string): void;
  /** Any other named secret an adapter must keep (e.g. a registry login). */
  get(name: string): string | undefined;
  /** `undefined` deletes. */
  set(name: string, value: string | undefined): void;
}

interface Contents {
  format: 'reagent-secrets';
  version: 1;
  salt: string;
  apps: Record<string, Record<string, string>>;
  values: Record<string, string>;
}

function fresh(): Contents {
  return { format: 'reagent-secrets', version: 1, salt: randomBytes(32).toString('hex'), apps: {}, values: {} };
}

function fingerprintWith(salt: Buffer, value: string): string {
  return `sha256:${createHash('sha256').update(salt).update(value, 'utf8').digest('hex').slice(0, 16)}`;
}

/** An environment's fingerprint: of its sorted `NAME=value` lines, so order does not matter. */
export function envFingerprint(store: Pick<SecretStore, 'fingerprint'>, env: Readonly<Record<string, string>>): string {
  const lines = Object.keys(env)
    .sort()
    .map((k) => `${k}=${env[k]}`);
  return store.fingerprint(lines.join('\0'));
}

/** In memory only: tests, and tools that never restart a container. */
export class MemorySecretStore implements SecretStore {
  protected data: Contents;
  private salt: Buffer;

  constructor(data: Contents = fresh()) {
    this.data = data;
    this.salt = Buffer.from(data.salt, 'hex');
  }

  fingerprint(value: string): string {
    return fingerprintWith(this.salt, value);
  }

  appEnv(actor: string): Record<string, string> | undefined {
    const env = this.data.apps[actor];
    return env ? { ...env } : undefined;
  }

  setAppEnv(actor: string, env: Readonly<Record<string, string>>): void {
    const had = this.data.apps[actor];
    if (had && sameEnv(had, env)) return;
    if (!had && Object.keys(env).length === 0) return;
    this.data.apps[actor] = { ...env };
    this.changed();
  }

  forgetApp(actor: string): void {
    if (!(actor in this.data.apps)) return;
    delete this.data.apps[actor];
    this.changed();
  }

  get(name: string): string | undefined {
    return this.data.values[name];
  }

  set(name: string, value: string | undefined): void {
    if (this.data.values[name] === value) return;
    if (value === undefined) delete this.data.values[name];
    else this.data.values[name] = value;
    this.changed();
  }

  protected changed(): void {}
}

function sameEnv(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

export class SecretStoreError extends Error {
  override name = 'SecretStoreError';
}

/** `<agentDir>/secrets.json`. A damaged file is moved aside (never its content in a message) and a new one begun. */
export class FileSecretStore extends MemorySecretStore {
  readonly path: string;
  /** What happened at open that an operator should know (damaged file moved aside, loose mode). */
  readonly notes: string[];

  constructor(agentDir: string) {
    const path = join(agentDir, 'secrets.json');
    const notes: string[] = [];
    const loaded = load(path, notes);
    super(loaded ?? fresh());
    this.path = path;
    this.notes = notes;
    // The salt is written at once: fingerprints must not change at the next start.
    if (!loaded) this.changed();
  }

  protected override changed(): void {
    const text = JSON.stringify(this.data);
    writeNewFile(this.path, (fd) => writeAll(fd, text), { force: true });
  }
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

function load(path: string, notes: string[]): Contents | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw new SecretStoreError(`${path} is a symbolic link; remove it (the secret table is never read through one)`);
    throw new SecretStoreError(`cannot read ${path}: ${code ?? (err as Error).message}`);
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SecretStoreError(`${path} is not a regular file`);
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
      throw new SecretStoreError(`${path} belongs to uid ${st.uid}, not to this user (${process.getuid()}); refusing to use it`);
    }
    if ((st.mode & 0o077) !== 0) notes.push(`${path} could be read by other users (mode ${(st.mode & 0o777).toString(8)}); it is rewritten 0600`);
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const parsed = parse(text);
  if (typeof parsed === 'string') {
    const aside = `${path}.damaged-${Date.now()}`;
    renameSync(path, aside);
    notes.push(`${path}: ${parsed}; moved to ${aside} and started a new one (app environments are restored at the next request)`);
    return null;
  }
  if (notes.length > 0) {
    // Rewritten 0600 at once (new-file.ts makes the mode exact).
    writeNewFile(path, (fd2) => writeAll(fd2, JSON.stringify(parsed)), { force: true });
  }
  return parsed;
}

/** The contents, or why they cannot be used (naming the field, never a value). */
function parse(text: string): Contents | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const rec = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!rec(v)) return 'expected an object';
  if (v['format'] !== 'reagent-secrets') return 'field "format": expected "reagent-secrets"';
  if (v['version'] !== 1) return `field "version": expected 1`;
  if (typeof v['salt'] !== 'string' || !/^[0-9a-f]{64}$/.test(v['salt'])) return 'field "salt": expected 64 hex digits';
  const apps = v['apps'] ?? {};
  const values = v['values'] ?? {};
  if (!rec(apps)) return 'field "apps": expected an object';
  if (!rec(values)) return 'field "values": expected an object';
  const out: Contents = { format: 'reagent-secrets', version: 1, salt: v['salt'], apps: {}, values: {} };
  for (const [actor, env] of Object.entries(apps)) {
    if (!rec(env) || !Object.values(env).every((x) => typeof x === 'string')) return `field "apps.${actor}": expected an object of strings`;
    out.apps[actor] = env as Record<string, string>;
  }
  for (const [name, x] of Object.entries(values)) {
    if (typeof x !== 'string') return `field "values.${name}": expected a string`;
    out.values[name] = x;
  }
  return out;
}
