// The disk check in front of every pull and build: below `minBytes` free the
// operation is refused with a reason the studio can show, below `warnBytes` it
// goes ahead with a warning. The Reagent's numbers (3 GiB warn, 1 GiB
// emergency) are the defaults; tests and small devices set their own.

import { formatBytes } from '../../adapters/docker/disk.js';

export interface DiskThresholds {
  warnBytes: number;
  minBytes: number;
}

const GiB = 1024 ** 3;

export const DEFAULT_DISK_THRESHOLDS: DiskThresholds = { warnBytes: 3 * GiB, minBytes: 1 * GiB };

export type DiskVerdict =
  | { level: 'ok'; freeBytes: number }
  | { level: 'warn' | 'refuse'; freeBytes: number; message: string }
  /** The free space could not be read (a remote engine, a vanished dir): the operation proceeds. */
  | { level: 'unknown'; message: string };

export async function judgeDisk(
  what: string,
  paths: readonly string[],
  thresholds: DiskThresholds,
  freeBytes: (path: string) => Promise<number>,
): Promise<DiskVerdict> {
  let lastError = 'no path to check';
  for (const path of paths) {
    let free: number;
    try {
      free = await freeBytes(path);
    } catch (err) {
      lastError = `${path}: ${(err as Error).message}`;
      continue;
    }
    if (free < thresholds.minBytes) {
      return {
        level: 'refuse',
        freeBytes: free,
        message: `disk: only ${formatBytes(free)} free on the filesystem of ${path}; ${what} needs at least ${formatBytes(thresholds.minBytes)} free`,
      };
    }
    if (free < thresholds.warnBytes) {
      return {
        level: 'warn',
        freeBytes: free,
        message: `disk: only ${formatBytes(free)} free on the filesystem of ${path} (warning below ${formatBytes(thresholds.warnBytes)})`,
      };
    }
    return { level: 'ok', freeBytes: free };
  }
  return { level: 'unknown', message: `disk: free space unknown (${lastError})` };
}
