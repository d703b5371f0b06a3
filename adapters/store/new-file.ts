// Creating an output file safely where other users can write too (bug reports
// go wherever `-o` says, /tmp included, and the writer is root): the content
// goes to a fresh 0600 temporary file in the same directory, opened with
// O_CREAT|O_EXCL|O_NOFOLLOW, so no file or symlink planted in advance is ever
// opened; it is then linked under the final name, which fails if anything
// (a file, a symlink, a directory) already has that name by then, or, with
// `force`, renamed over it, which replaces the name and never writes into
// what it named. Either way a reader sees no half-written file.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fsyncSync, linkSync, lstatSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export class FileExistsError extends Error {
  constructor(readonly path: string) {
    super(`${path} already exists; give --force to replace it`);
    this.name = 'FileExistsError';
  }
}

export interface NewFileOptions {
  /** Replace whatever has the name (by rename: its content is never touched). */
  force?: boolean;
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Writes `target` through `write(fd)` as a new 0600 file; returns what `write` returned. */
export function writeNewFile<T>(target: string, write: (fd: number) => T, opts: NewFileOptions = {}): T {
  // Fail before the work when the answer is already known; the link below is what holds.
  if (!opts.force && exists(target)) throw new FileExistsError(target);
  const dir = dirname(target);
  const { fd, temp } = openTemp(dir, basename(target));
  let open = true;
  try {
    // The mode given to open() is narrowed by the umask, never widened; make it exact.
    fchmodSync(fd, 0o600);
    const result = write(fd);
    fsyncSync(fd);
    closeSync(fd);
    open = false;
    if (opts.force) {
      renameSync(temp, target);
    } else {
      try {
        linkSync(temp, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(target);
        throw err;
      }
      unlinkSync(temp);
    }
    syncDir(dir);
    return result;
  } catch (err) {
    if (open) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // already renamed or linked away
    }
    throw err;
  }
}

function openTemp(dir: string, name: string): { fd: number; temp: string } {
  for (let attempt = 0; ; attempt++) {
    const temp = join(dir, `.${name.slice(0, 100)}.${randomBytes(8).toString('hex')}.tmp`);
    try {
      return { fd: openSync(temp, CREATE, 0o600), temp };
    } catch (err) {
      // Someone holds this name (guessed or planted): take another; never open theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 10) throw err;
    }
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Makes a new or moved name durable; some filesystems cannot fsync a directory, which is not an error here. */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
