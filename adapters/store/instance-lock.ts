// One reagent per agent dir: `<agentDir>/reagent.pid`.
//
// The file is created with link(2) from a fully written temp file, so it either
// does not exist or holds a complete record, and only one starter can create
// it. A record names its process by pid, start time (/proc/<pid>/stat field 22,
// so a reused pid does not look alive) and boot id (pids and start times repeat
// across reboots on devices that boot the same way every time).
//
// Taking over a stale file is the racy part: two starters may both find it
// stale, and the slower one must not move aside the fresh file of the faster
// one. So the takeover of a given stale record is itself guarded by a lock
// file named after that record (claimed by this same algorithm, which also
// copes with a starter that died holding the guard). Under the guard the
// starter checks the record is still the stale one, keeps a copy of it as
// `reagent.pid.stale` and renames its own record over it: the path is never
// missing, so nobody can link in between.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeStorageFailure, DiskFullError } from './storage-problem.js';

export const PID_FILE = 'reagent.pid';

export interface InstanceLock {
  /** The lock file. */
  readonly path: string;
  /** pid of the dead holder whose stale file was taken over (0 if that file was unreadable). */
  readonly recoveredFrom?: number;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

export class InstanceLockedError extends Error {
  constructor(
    readonly pid: number,
    readonly agentDir: string,
    readonly lockPath: string,
  ) {
    super(`another reagent (pid ${pid}) is running with agent dir ${agentDir}; stop it first or use another -agentDir`);
    this.name = 'InstanceLockedError';
  }
}

interface Holder {
  pid: number;
  startTime: string | null;
  bootId: string | null;
  nonce: string;
}

/** Nonces of the locks this process holds, to tell our own live record from a previous boot's. */
const heldNonces = new Set<string>();

export function acquireInstanceLock(agentDir: string): InstanceLock {
  const dir = resolve(agentDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, PID_FILE);
  const me: Holder = {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    bootId: bootId(),
    nonce: randomBytes(12).toString('hex'),
  };
  const result = claim(path, me, 0);
  if (!result.ok) throw new InstanceLockedError(result.holder.pid, dir, path);
  heldNonces.add(me.nonce);
  let released = false;
  return {
    path,
    ...(result.recoveredFrom === undefined ? {} : { recoveredFrom: result.recoveredFrom }),
    release() {
      if (released) return;
      released = true;
      heldNonces.delete(me.nonce);
      releaseIfOurs(path, me);
    },
  };
}

type ClaimResult = { ok: true; recoveredFrom?: number } | { ok: false; holder: Holder };

const MAX_ATTEMPTS = 200;
/** Guards nest only when a starter dies inside a takeover; more than this means something else is wrong. */
const MAX_DEPTH = 8;

function claim(path: string, me: Holder, depth: number): ClaimResult {
  if (depth > MAX_DEPTH) throw new Error(`instance lock ${path}: takeover guards nested ${depth} deep; remove ${path}.takeover-* by hand`);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (tryLink(path, me)) return { ok: true };
    const raw = readRaw(path);
    if (raw === null) continue; // released between our link and our read
    const holder = parseHolder(raw);
    if (holder !== null && isAlive(holder)) return { ok: false, holder };

    // Stale. Only the starter holding the guard for this exact record may move it.
    const guard = `${path}.takeover-${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`;
    const g = claim(guard, me, depth + 1);
    if (!g.ok) {
      // another live starter is taking over right now; look again once it is done
      sleepMs(5);
      continue;
    }
    try {
      if (readRaw(path) === raw) {
        replace(path, me, depth === 0 ? `${path}.stale` : null, raw);
        return { ok: true, recoveredFrom: holder?.pid ?? 0 };
      }
    } finally {
      releaseIfOurs(guard, me);
    }
    // the record changed before we held the guard; the next round looks at the new one
  }
  throw new Error(`instance lock ${path}: gave up after ${MAX_ATTEMPTS} attempts (the file keeps changing)`);
}

/** Creates `path` holding our record, atomically; false if it already exists. */
function tryLink(path: string, me: Holder): boolean {
  const tmp = writeTemp(path, me);
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw writeError(path, err);
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Puts our record over the stale one in one rename, so the path never goes
 * missing and no third starter can slip in between. Only called under the
 * guard, after checking the path still holds `staleRaw`. Keeps a copy of the
 * stale record at `aside` for whoever investigates the crash.
 */
function replace(path: string, me: Holder, aside: string | null, staleRaw: string): void {
  if (aside !== null) keepCopy(aside, staleRaw);
  const tmp = writeTemp(path, me);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new Error(`instance lock: cannot replace stale ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The copy is for whoever investigates a crash; a disk too full for it must not stop the start. */
function keepCopy(aside: string, raw: string): void {
  try {
    writeFileSync(aside, raw);
  } catch {
    rmSync(aside, { force: true });
  }
}

/** A complete record in a temp file; on any failure (disk full) the temp file is gone again. */
function writeTemp(path: string, me: Holder): string {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o644);
  } catch (err) {
    throw writeError(tmp, err);
  }
  try {
    const data = Buffer.from(JSON.stringify(me));
    // writeSync may write part of it when the disk fills up; a short record would look stale to the next starter.
    if (writeSync(fd, data) !== data.length) throw Object.assign(new Error(`short write to ${tmp}: no space left on device`), { code: 'ENOSPC' });
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw writeError(tmp, err);
  }
  closeSync(fd);
  return tmp;
}

function writeError(file: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new DiskFullError(`cannot write the instance lock ${file}: ${describeStorageFailure(file, 'ENOSPC')}`, { cause: err });
  }
  return new Error(`instance lock: cannot write ${file}: ${(err as Error).message}`, { cause: err });
}

function releaseIfOurs(path: string, me: Holder): void {
  const raw = readRaw(path);
  if (raw === null) return;
  if (parseHolder(raw)?.nonce !== me.nonce) return; // taken over: it is someone else's now
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function readRaw(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`instance lock: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** null for anything that is not a record we wrote (treated as stale). */
function parseHolder(raw: string): Holder | null {
  try {
    const v = JSON.parse(raw) as Partial<Holder>;
    if (!Number.isInteger(v.pid) || (v.pid as number) <= 0 || typeof v.nonce !== 'string') return null;
    return {
      pid: v.pid as number,
      startTime: typeof v.startTime === 'string' ? v.startTime : null,
      bootId: typeof v.bootId === 'string' ? v.bootId : null,
      nonce: v.nonce,
    };
  } catch {
    return null;
  }
}

function isAlive(h: Holder): boolean {
  if (h.pid === process.pid) return heldNonces.has(h.nonce);
  const boot = bootId();
  if (h.bootId !== null && boot !== null && h.bootId !== boot) return false;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to another user
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const stat = procStat(h.pid);
  if (stat === null) return true; // no /proc: trust kill(0)
  if (stat.state === 'Z' || stat.state === 'X') return false; // exited, not yet reaped
  return h.startTime === null || stat.startTime === h.startTime;
}

function processStartTime(pid: number): string | null {
  return procStat(pid)?.startTime ?? null;
}

/** Fields 3 (state) and 22 (start time in clock ticks since boot) of /proc/<pid>/stat; null off Linux. */
function procStat(pid: number): { state: string; startTime: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // field 2 is "(comm)" and comm may contain spaces and parentheses: split after the last ')'
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const startTime = rest[19];
  return state === undefined || startTime === undefined ? null : { state, startTime };
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
