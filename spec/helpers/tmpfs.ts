// A small tmpfs as an agent's data directory, to fill the disk on purpose.
// Mounting needs root (tests run as root in CI); without it the tests that
// need one skip with a loud notice locally and fail when CI=true.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Free bytes right now. */
  free(): number;
  /** Writes a filler file until only about `leaveBytes` are free (0: until the disk is full). */
  fill(leaveBytes?: number): void;
  /** Removes the filler files: space returns. */
  release(): void;
  /** Unmounts and removes the mount point. */
  unmount(): void;
}

/** Why tmpfs tests cannot run here, or null when they can. */
export function tmpfsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  return null;
}

export function mountTmpfs(sizeKiB: number, prefix = 'reagent-tmpfs-'): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  const fillers: string[] = [];
  const free = () => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    free,
    fill(leaveBytes = 0) {
      const file = join(dir, `filler-${fillers.length}`);
      fillers.push(file);
      const fd = openSync(file, 'w');
      const chunk = Buffer.alloc(64 * 1024);
      try {
        for (let room = free() - leaveBytes; room > 0; room = free() - leaveBytes) {
          writeSync(fd, chunk, 0, Math.min(chunk.length, room));
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
    },
    release() {
      for (const f of fillers.splice(0)) rmSync(f, { force: true });
    },
    unmount() {
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For spec files that need a tmpfs: null when they can run; otherwise a
 * banner, one skipped test so the skip shows in the counts, and the reason.
 * Under CI=true a missing tmpfs is an error, not a skip.
 */
export function tmpfsOrSkip(what: string, skip: (name: string, reason: string) => void): string | null {
  const why = tmpfsUnavailable();
  if (why === null) return null;
  if (process.env['CI'] === 'true' || process.env['CI'] === '1') throw new Error(`full-disk tests must run in CI, but: ${why}`);
  const bar = '#'.repeat(78);
  process.stderr.write(`\n${bar}\n#  FULL-DISK TESTS SKIPPED (${what}): ${why}\n#  (Under CI=true this is an error.)\n${bar}\n\n`);
  skip(`${what}: skipped, no tmpfs`, why);
  return why;
}
