// What is at the journal's paths before SQLite opens them. SQLite's own
// errors for a directory or a dangling symlink at `<db>` ("Could not open the
// database") and for a file at `<db>.lock` (every transaction "locked") do not
// say what is wrong, and a supervisor restarting the agent would repeat them
// forever. These checks say it in one line, or move the junk aside.
import { lstatSync, readlinkSync, renameSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The journal path holds something that is not a journal and should not be moved by us: the agent refuses to start. */
export class JournalPathError extends Error {
  constructor(
    readonly dbPath: string,
    readonly problem: 'directory' | 'dangling-symlink' | 'not-a-file',
    message: string,
  ) {
    super(message);
    this.name = 'JournalPathError';
  }
}

/**
 * Refuses a `<db>` that is a directory (often a mount point or a mistyped
 * -dbFileName), a symlink to nothing (often storage that is not mounted: a
 * fresh journal elsewhere would split the history and fill the wrong disk),
 * or another kind of file (fifo, socket, device). A missing file is fine:
 * SQLite creates it.
 */
export function checkJournalPath(dbPath: string): void {
  const path = resolve(dbPath);
  const link = lstatOrNull(path);
  if (link === null) return;
  if (link.isSymbolicLink()) {
    const target = resolve(dirname(path), readlinkSync(path));
    const resolved = statOrNull(path);
    if (resolved === null) {
      throw new JournalPathError(
        path,
        'dangling-symlink',
        `journal ${path} is a symbolic link to ${target}, which does not exist (storage not mounted?); ` +
          `mount it, or create an empty file there to start a fresh journal, or remove the link`,
      );
    }
    return checkKind(path, resolved, ` (a symbolic link to ${target})`);
  }
  checkKind(path, link, '');
}

function checkKind(path: string, stats: Stats, via: string): void {
  if (stats.isFile()) return;
  if (stats.isDirectory()) {
    throw new JournalPathError(path, 'directory', `journal ${path}${via} is a directory, not a journal file; move it away or choose another -dbFileName`);
  }
  throw new JournalPathError(path, 'not-a-file', `journal ${path}${via} is not a regular file; move it away or choose another -dbFileName`);
}

/**
 * node-sqlite3-wasm's lock is a directory, `<db>.lock`. Anything else there
 * (a file, a symlink) is nobody's lock: no driver we know creates one, and
 * with it every transaction fails as "locked". Only a caller holding the
 * single-instance lock may move it, to `<db>.lock.quarantine-<time>`;
 * returns where it went, or null when there was nothing to move.
 */
export function quarantineLockFile(dbPath: string, now: Date): string | null {
  const lock = `${resolve(dbPath)}.lock`;
  const stats = lstatOrNull(lock);
  if (stats === null || stats.isDirectory()) return null;
  const base = `${lock}.quarantine-${now.toISOString().replace(/[-:]/g, '')}`;
  let dest = base;
  for (let i = 1; lstatOrNull(dest) !== null; i++) dest = `${base}-${i}`;
  renameSync(lock, dest);
  return dest;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return null;
    throw err;
  }
}
