// Names what a failed write to the agent's disk most likely ran into.
// node-sqlite3-wasm's VFS reports every failed write as SQLITE_IOERR ("disk I/O
// error") and drops the errno, so a full disk looks like a broken one. The
// file system's free space tells them apart well enough to say which.
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';

/** Below this much free space, a failed write is taken to be the disk being full. */
export const DISK_FULL_BELOW_BYTES = 1024 * 1024;

/** SQLite's words for a write that did not reach the disk (or a lock held too long). */
const STORAGE_FAILURE = /disk I\/O error|database or disk is full|SQLITE_(?:IOERR|FULL|BUSY)|database is locked|ENOSPC|EDQUOT|no space left/i;

export function isStorageFailure(message: string): boolean {
  return STORAGE_FAILURE.test(message);
}

export interface FreeSpace {
  dir: string;
  freeBytes: number;
  freeInodes: number | null;
}

/** Free space of the file system holding `file`, or null when it cannot be asked. */
export function freeSpace(file: string): FreeSpace | null {
  const dir = dirname(file);
  try {
    const s = statfsSync(dir);
    // Some file systems (tmpfs with nr_inodes=0) report no inode limit as 0 files.
    return { dir, freeBytes: s.bavail * s.bsize, freeInodes: s.files > 0 ? s.ffree : null };
  } catch {
    return null;
  }
}

/**
 * The cause of a storage failure in words a person acts on: "disk full (12
 * KiB free on /opt/reagent)" when the disk is (nearly) full or out of
 * inodes, else SQLite's message with the free space next to it.
 */
export function describeStorageFailure(file: string, message: string): string {
  if (/ENOSPC|no space left|database or disk is full|SQLITE_FULL/i.test(message)) return `disk full${spaceNote(freeSpace(file))}`;
  if (!/disk I\/O error|SQLITE_IOERR/i.test(message)) return message;
  const space = freeSpace(file);
  if (space && space.freeInodes === 0) return `disk full: no free inodes on ${space.dir}`;
  if (space && space.freeBytes < DISK_FULL_BELOW_BYTES) return `disk full${spaceNote(space)}`;
  return `${message}${spaceNote(space)}`;
}

function spaceNote(space: FreeSpace | null): string {
  return space ? ` (${Math.floor(space.freeBytes / 1024)} KiB free on ${space.dir})` : '';
}

/** The agent cannot start because its disk is full: temporary, so a supervisor may retry later. */
export class DiskFullError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DiskFullError';
  }
}

export function isDiskFull(description: string): boolean {
  return description.startsWith('disk full');
}

/** A DiskFullError, or a file system error (ENOSPC, EDQUOT) anywhere in the cause chain. */
export function isDiskFullError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DiskFullError) return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}
