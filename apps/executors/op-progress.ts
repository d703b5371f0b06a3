// Pull and build progress, thinned out: Docker reports every few KiB of every
// layer, but each OP_PROGRESS event is journaled, so the machine gets one
// summary per interval, and the app's log history gets the lines a person
// would want to read afterwards ("Pull complete"), not the byte counters.

import type { PullProgress } from '../../adapters/docker/pull.js';

/** At most one `ready()` per `intervalMs`; the first call is always ready. */
export class Throttle {
  private last = Number.NEGATIVE_INFINITY;
  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  ready(): boolean {
    const t = this.now();
    if (t - this.last < this.intervalMs) return false;
    this.last = t;
    return true;
  }
}

export interface PullSummary {
  [key: string]: number;
  layers: number;
  layersDone: number;
  /** Bytes downloaded so far over the layers whose size is known. */
  current: number;
  total: number;
}

const DONE = new Set(['Pull complete', 'Already exists']);
/** Counter updates: summarised, never written line by line. */
const NOISY = new Set(['Downloading', 'Extracting', 'Waiting', 'Verifying Checksum', 'Download complete', 'Pulling fs layer']);

export class PullTally {
  private readonly layers = new Map<string, { current: number; total: number; done: boolean }>();

  /** Adds one progress item; returns a line for the history, if it deserves one. */
  add(p: PullProgress): string | undefined {
    if (p.layer !== '') {
      const l = this.layers.get(p.layer) ?? { current: 0, total: 0, done: false };
      if (p.status === 'Downloading') {
        if (p.current !== undefined) l.current = p.current;
        if (p.total !== undefined) l.total = p.total;
      }
      if (DONE.has(p.status)) {
        l.done = true;
        if (l.total > 0) l.current = l.total;
      }
      this.layers.set(p.layer, l);
    }
    if (NOISY.has(p.status)) return undefined;
    return p.layer !== '' ? `${p.layer}: ${p.status}` : p.status;
  }

  summary(): PullSummary {
    let current = 0;
    let total = 0;
    let layersDone = 0;
    for (const l of this.layers.values()) {
      current += l.current;
      total += l.total;
      if (l.done) layersDone++;
    }
    return { layers: this.layers.size, layersDone, current, total };
  }
}
