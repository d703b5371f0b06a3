// A compose app's names, files and payload. The studio sends the compose file
// as JSON (`docker_compose`, or `new_docker_compose` for an update); it is not
// a secret and is kept in the REQUEST event's spec. The app's environment is
// written next to it as `.env-compose` (read by the CLI for `${VAR}`
// substitution) at the moment of the operation, never journaled here.
//
// Places (ironflock-reagent.md §3.1): `<appsDir>/compose/<name>` for PROD and
// `<appsDir>/build/<name>` for DEV; project `<stage>_<appKey>_<name>_compose`.

import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Json } from '../../actors/types.js';
import { containerName, resolveInside, validateAppName, type AppIdentity } from '../docker/naming.js';

export const COMPOSE_FILE = 'docker-compose.json';
export const COMPOSE_ENV_FILE = '.env-compose';
export const MAX_COMPOSE_BYTES = 512 * 1024;
const MAX_SERVICES = 64;
const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type ComposeSpec = { [key: string]: Json };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `docker_compose` as the request carries it: an object with a non-empty
 * `services` object of objects. Throws an error naming the field.
 */
export function parseComposePayload(field: string, v: unknown): ComposeSpec | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw new Error(`field "${field}": expected a compose file as an object, got ${Array.isArray(v) ? 'an array' : typeof v}`);
  if (Object.keys(v).length === 0) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(v));
  if (bytes > MAX_COMPOSE_BYTES) throw new Error(`field "${field}": expected at most ${MAX_COMPOSE_BYTES} bytes of compose file, got ${bytes}`);
  const services = v['services'];
  if (!isRecord(services) || Object.keys(services).length === 0) throw new Error(`field "${field}.services": expected an object of at least one service`);
  const names = Object.keys(services);
  if (names.length > MAX_SERVICES) throw new Error(`field "${field}.services": expected at most ${MAX_SERVICES} services, got ${names.length}`);
  for (const name of names) {
    if (!SERVICE_NAME.test(name)) throw new Error(`field "${field}.services": service name ${JSON.stringify(name.slice(0, 64))} is not [a-zA-Z0-9._-]`);
    if (!isRecord(services[name])) throw new Error(`field "${field}.services.${name}": expected an object`);
  }
  return v as ComposeSpec;
}

/**
 * `<stage>_<appKey>_<name>_compose`, lowercase, with what compose v1 strips
 * from project names (anything but [a-z0-9_-]) left out, so both CLIs put the
 * same `com.docker.compose.project` label on the containers.
 */
export function composeProjectName(app: AppIdentity): string {
  return `${containerName(app.stage, app.appKey, app.appName)}_compose`.replace(/[^a-z0-9_-]/g, '');
}

/** `<appsDir>/compose/<name>` (PROD) or `<appsDir>/build/<name>` (DEV). */
export function composeDir(appsDir: string, app: AppIdentity): string {
  return resolveInside(appsDir, app.stage === 'PROD' ? 'compose' : 'build', validateAppName(app.appName));
}

/** The images the services name (services that build have none). */
export function composeImages(compose: ComposeSpec): string[] {
  const services = isRecord(compose['services']) ? compose['services'] : {};
  const out = new Set<string>();
  for (const s of Object.values(services)) {
    if (isRecord(s) && typeof s['image'] === 'string' && s['image'] !== '') out.add(s['image']);
  }
  return [...out];
}

/** `KEY=value` lines; values the env-file format cannot carry (line breaks) are left out and named. */
export function envFileText(env: Readonly<Record<string, string>>): { text: string; skipped: string[] } {
  const lines: string[] = [];
  const skipped: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (!ENV_KEY.test(k) || /[\r\n\0]/.test(v)) {
      skipped.push(k);
      continue;
    }
    lines.push(`${k}=${v}`);
  }
  return { text: lines.length ? `${lines.join('\n')}\n` : '', skipped };
}

/**
 * A directory inside `appsDir`, made one level at a time below it: every level
 * that exists must be a real directory, not a symlink, so a link planted on
 * the way can neither send our writes elsewhere nor make us create
 * directories outside the apps dir.
 */
export async function ensureDirInside(appsDir: string, dir: string): Promise<string> {
  // The apps dir itself is the operator's (a flag); it may not exist yet on a fresh device.
  await mkdir(appsDir, { recursive: true });
  const base = await realpath(appsDir);
  const rel = path.relative(path.resolve(appsDir), path.resolve(dir));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${dir} is not inside the apps dir ${appsDir}`);
  let at = base;
  for (const part of rel.split(path.sep)) {
    at = path.join(at, part);
    let st;
    try {
      st = await lstat(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(at, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      st = await lstat(at);
    }
    if (!st.isDirectory()) throw new Error(`${at} is not a directory (a symlink?); refusing to write into it`);
  }
  return at;
}

/** Writes `file` with `mode`, refusing to follow a symlink in its place (O_NOFOLLOW). */
export async function writeFileNoFollow(file: string, text: string, mode = 0o600): Promise<void> {
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  try {
    await fh.chmod(mode);
    await fh.writeFile(text, 'utf8');
  } finally {
    await fh.close();
  }
}

/** Writes `docker-compose.json` and `.env-compose` (both 0600) and returns their paths. */
export async function writeComposeFiles(
  appsDir: string,
  app: AppIdentity,
  compose: ComposeSpec,
  env: Readonly<Record<string, string>>,
): Promise<{ dir: string; file: string; envFile: string; skipped: string[] }> {
  const dir = await ensureDirInside(appsDir, composeDir(appsDir, app));
  const file = path.join(dir, COMPOSE_FILE);
  const envFile = path.join(dir, COMPOSE_ENV_FILE);
  await writeFileNoFollow(file, `${JSON.stringify(compose, null, 2)}\n`);
  const { text, skipped } = envFileText(env);
  await writeFileNoFollow(envFile, text);
  return { dir, file, envFile, skipped };
}
