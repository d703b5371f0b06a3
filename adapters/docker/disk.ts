// Free-space checks for the disk guard: disk-growing work (pull, build, run) is
// refused below a threshold instead of failing halfway with ENOSPC.

import { statfs } from 'node:fs/promises';

/** Bytes available to unprivileged writers on the filesystem holding `path`. */
export async function freeBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}

export type DiskCheck =
  | { ok: true; path: string; freeBytes: number; thresholdBytes: number }
  | { ok: false; path: string; freeBytes: number; thresholdBytes: number; reason: string };

export async function checkDisk(path: string, thresholdBytes: number): Promise<DiskCheck> {
  const free = await freeBytes(path);
  if (free >= thresholdBytes) return { ok: true, path, freeBytes: free, thresholdBytes };
  return {
    ok: false,
    path,
    freeBytes: free,
    thresholdBytes,
    reason: `only ${formatBytes(free)} free on the filesystem of ${path}; at least ${formatBytes(thresholdBytes)} is required`,
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
