// Native addons carried inside the single executable. A SEA cannot dlopen
// from its own blob, so the addon is written out to a private directory
// (created 0700, ours, not a symlink: checked, never trusted) under a name
// carrying its content hash, and its bytes are checked against the sha256 in
// the executable's manifest right before every load. Why extraction and not a
// file shipped beside the binary: one file to copy and to replace on update,
// so the addon can never be from another version than the code that loads it.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants as fsConstants, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename, join } from 'node:path';
import type { EmbeddedFiles } from './embedded.js';

export class AddonDirError extends Error {}

/**
 * Writes the embedded addon `key` into `dir` unless an intact copy is there,
 * and returns its path. Copies of other versions of the same addon are removed.
 */
export function extractAddon(files: EmbeddedFiles, key: string, dir: string, uid: number = currentUid()): string {
  const sha256 = files.sha256(key);
  const base = basename(key, '.node');
  const name = `${base}-${sha256.slice(0, 16)}.node`;
  const path = join(dir, name);
  privateDir(dir, uid);
  if (!intact(path, sha256, uid)) {
    const bytes = files.read(key);
    const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}`);
    // O_EXCL|O_NOFOLLOW: never write through something planted under our name.
    const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o500);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }
  for (const other of readdirSync(dir)) {
    if (other !== name && other.startsWith(`${base}-`) && other.endsWith('.node')) rmSync(join(dir, other), { force: true });
  }
  return path;
}

/**
 * dlopen()s an addon after checking its bytes once more: between this check
 * and the load only our own user (or root) could change the file, since the
 * directory is ours and 0700.
 */
export function loadAddon(path: string, sha256: string): unknown {
  const actual = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (actual !== sha256) throw new Error(`native addon ${path}: sha256 ${actual}, expected ${sha256}; refusing to load it`);
  const module = { exports: {} as unknown };
  process.dlopen(module, path, osConstants.dlopen.RTLD_NOW);
  return module.exports;
}

/** Creates `dir` 0700, or accepts it when it is a real directory owned by `uid`; tightens its mode. */
export function privateDir(dir: string, uid: number): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) throw new AddonDirError(`native addon directory ${dir} is not a plain directory; refusing to load code from it`);
  if (st.uid !== uid) throw new AddonDirError(`native addon directory ${dir} is owned by uid ${st.uid}, not by us (uid ${uid}); refusing to load code from it`);
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

function intact(path: string, sha256: string, uid: number): boolean {
  try {
    const st = lstatSync(path);
    if (!st.isFile() || st.uid !== uid) {
      rmSync(path, { force: true, recursive: true });
      return false;
    }
    return createHash('sha256').update(readFileSync(path)).digest('hex') === sha256;
  } catch {
    return false;
  }
}

function currentUid(): number {
  return process.getuid?.() ?? 0;
}
