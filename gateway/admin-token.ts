// The development gateway's admin credential. `reagent gateway` creates it
// on first start as <data-dir>/admin.token (file 0600 in a 0700 directory,
// owned by the gateway's user); `reagent admin`, `connect` and `exec` (and an
// AUTO_REGISTER agent) read it from there or from REAGENT_GATEWAY_TOKEN.
// Whoever can read that file can run commands through the gateway's agents,
// which is the point: file permissions are the identity check.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { bearerProblem } from '../config/hoop-env.js';

export const ADMIN_TOKEN_FILE = 'admin.token';
export const ADMIN_TOKEN_VARIABLE = 'REAGENT_GATEWAY_TOKEN';
const TOKEN_SHAPE = /^rgw_[A-Za-z0-9_-]{43}$/;

/** Where `reagent gateway` keeps its agents and admin token unless --data-dir says otherwise. */
export function defaultGatewayDataDir(home: string): string {
  return join(home, '.reagent', 'gateway');
}

export function adminTokenPath(dataDir: string): string {
  return join(dataDir, ADMIN_TOKEN_FILE);
}

export function newAdminToken(): string {
  return `rgw_${randomBytes(32).toString('base64url')}`;
}

/** Constant-time comparison of a presented secret with the expected one. */
export function sameSecret(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export class AdminTokenError extends Error {
  override readonly name = 'AdminTokenError';
}

function uid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : -1;
}

/**
 * The gateway's side: makes sure the data dir is ours and 0700, and returns
 * the token in it, creating it (0600, never replacing one that appeared
 * meanwhile) on first start.
 */
export function ensureAdminToken(dataDir: string): { token: string; path: string; created: boolean } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const dir = statSync(dataDir);
  if (!dir.isDirectory()) throw new AdminTokenError(`--data-dir ${dataDir}: not a directory`);
  if (uid() >= 0 && dir.uid !== uid()) throw new AdminTokenError(`--data-dir ${dataDir}: belongs to uid ${dir.uid}, not this user (uid ${uid()})`);
  // mkdir's mode is filtered by the umask, and an existing directory keeps its own.
  if ((dir.mode & 0o077) !== 0) chmodSync(dataDir, 0o700);
  const path = adminTokenPath(dataDir);
  const existing = readOwnTokenFile(path);
  if (existing !== null) return { token: existing, path, created: false };

  const token = newAdminToken();
  const tmp = join(dataDir, `.${ADMIN_TOKEN_FILE}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${token}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    chmodSync(tmp, 0o600);
    // link, not rename: a token another gateway start wrote meanwhile is kept.
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const other = readOwnTokenFile(path);
    if (other === null) throw new AdminTokenError(`${path}: appeared while being created, and is unreadable`);
    return { token: other, path, created: false };
  } finally {
    rmSync(tmp, { force: true });
  }
  return { token, path, created: true };
}

function readOwnTokenFile(path: string): string | null {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!st.isFile()) throw new AdminTokenError(`${path}: expected a regular file (not a link or a directory)`);
  if (uid() >= 0 && st.uid !== uid()) throw new AdminTokenError(`${path}: belongs to uid ${st.uid}, not this user (uid ${uid()})`);
  if ((st.mode & 0o077) !== 0) chmodSync(path, 0o600);
  const token = readFileSync(path, 'utf8').trim();
  if (!TOKEN_SHAPE.test(token)) throw new AdminTokenError(`${path}: not an admin token (remove it and restart the gateway to make a new one)`);
  return token;
}

export type AdminTokenLookup = { ok: true; token: string; from: string } | { ok: false; error: string };

/** The client's side: REAGENT_GATEWAY_TOKEN, else <dataDir>/admin.token. Messages never quote the token. */
export function findAdminToken(env: NodeJS.ProcessEnv, dataDir: string): AdminTokenLookup {
  const fromEnv = env[ADMIN_TOKEN_VARIABLE]?.trim();
  if (fromEnv) {
    const problem = bearerProblem(fromEnv);
    return problem ? { ok: false, error: `${ADMIN_TOKEN_VARIABLE}: ${problem}` } : { ok: true, token: fromEnv, from: ADMIN_TOKEN_VARIABLE };
  }
  const path = adminTokenPath(dataDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return { ok: false, error: `no gateway credential: ${path} does not exist (start "reagent gateway" first, pass its --data-dir, or set ${ADMIN_TOKEN_VARIABLE})` };
    }
    if (code === 'EACCES' || code === 'EPERM') {
      return { ok: false, error: `no gateway credential: cannot read ${path} (${code}): only the gateway's user may; run as that user or set ${ADMIN_TOKEN_VARIABLE}` };
    }
    return { ok: false, error: `no gateway credential: cannot read ${path} (${code ?? (err as Error).message})` };
  }
  const token = text.trim();
  if (!TOKEN_SHAPE.test(token)) return { ok: false, error: `${path}: not an admin token` };
  return { ok: true, token, from: path };
}
