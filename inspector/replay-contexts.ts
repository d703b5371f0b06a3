// Contexts at any event of a replayed recording, for time travel. Keeping
// every actor's context after every event would cost gigabytes for a
// million-event recording; instead the walk keeps a checkpoint (every
// actor's persisted snapshot) every `every` events, and a context at row N
// is rebuilt by resuming from the nearest checkpoint at or before N and
// re-executing the records in between. Checkpoints are bounded in number
// and bytes: past either bound every other one is dropped and the spacing
// doubles, so memory stays flat while the re-executed stretch grows only
// logarithmically. Stepping forward continues the last rebuild instead of
// starting again from a checkpoint.
import type { JournalRecord } from '../actors/types.js';
import { RecordStore } from './record-store.js';
import { Walker, type WalkOptions, type WalkStep } from './replay-walk.js';

export interface CheckpointBudget {
  /** Initial spacing of checkpoints, in events (default 256). */
  every?: number;
  /** Most checkpoints kept (default 256). */
  maxCheckpoints?: number;
  /** Most bytes of checkpoints kept (default 64 MiB). */
  maxBytes?: number;
}

/** Every actor alive right after one event, as re-executed. Contexts are JSON text, not yet redacted. */
export interface ContextsAt {
  row: number;
  contexts: ReadonlyMap<string, string>;
  /** Actors walked on their recorded states only, and why. */
  notReplayed: ReadonlyMap<string, string>;
}

interface Checkpoint {
  /** Timeline row the checkpoint is taken after. */
  row: number;
  /** Store index of the first record not included. */
  next: number;
  data: string;
}

const CACHED = 32;

export class ReplayContexts {
  private readonly store = new RecordStore();
  /** Store index of the record behind each timeline row. */
  private rowIndex = new Uint32Array(1024);
  private rows = 0;
  private checkpoints: Checkpoint[] = [];
  private bytes = 0;
  private every: number;
  private readonly maxCheckpoints: number;
  private readonly maxBytes: number;
  private cursor: { row: number; next: number; walker: Walker } | null = null;
  private readonly cache = new Map<number, ContextsAt>();
  /** Records re-executed to answer `at` (tests and benchmarks read it). */
  reexecuted = 0;

  constructor(
    private readonly opts: WalkOptions,
    budget: CheckpointBudget = {},
  ) {
    this.every = Math.max(1, budget.every ?? 256);
    this.maxCheckpoints = Math.max(1, budget.maxCheckpoints ?? 256);
    this.maxBytes = budget.maxBytes ?? 64 * 1024 * 1024;
  }

  /** Rows walked so far (one per record that is part of the walk). */
  get length(): number {
    return this.rows;
  }

  /** The current spacing of checkpoints, in rows. */
  get spacing(): number {
    return this.every;
  }

  /** Checkpoints kept, and their size in bytes. */
  usage(): { checkpoints: number; bytes: number } {
    return { checkpoints: this.checkpoints.length, bytes: this.bytes };
  }

  /**
   * Walks the whole recording once; `onStep` sees each record that is part of
   * the walk with the walker after it (row numbers count from 0 in that order).
   */
  load(records: Iterable<JournalRecord>, onStep: (step: WalkStep, row: number, walker: Walker) => void): void {
    const walker = new Walker(this.opts);
    try {
      for (const record of records) {
        const index = this.store.append(record);
        const step = walker.step(record);
        if (!step) continue;
        const row = this.rows++;
        if (row === this.rowIndex.length) {
          const grown = new Uint32Array(this.rowIndex.length * 2);
          grown.set(this.rowIndex);
          this.rowIndex = grown;
        }
        this.rowIndex[row] = index;
        onStep(step, row, walker);
        if ((row + 1) % this.every === 0) this.keep({ row, next: index + 1, data: JSON.stringify(walker.checkpoint()) });
      }
    } finally {
      walker.close();
    }
  }

  /** Every actor's context right after the event at `row`. */
  at(row: number): ContextsAt {
    if (!Number.isInteger(row) || row < 0 || row >= this.rows) throw new RangeError(`contexts: row ${row} out of [0, ${this.rows})`);
    const hit = this.cache.get(row);
    if (hit) {
      this.cache.delete(row);
      this.cache.set(row, hit);
      return hit;
    }
    const target = this.rowIndex[row]!;
    const cp = this.nearest(row);
    let start: { walker: Walker; next: number };
    if (this.cursor && this.cursor.row <= row && this.cursor.row >= (cp?.row ?? -1)) {
      start = this.cursor;
    } else {
      this.cursor?.walker.close();
      this.cursor = null;
      start = cp ? { walker: Walker.resume(this.opts, JSON.parse(cp.data)), next: cp.next } : { walker: new Walker(this.opts), next: 0 };
    }
    const { walker } = start;
    for (let i = start.next; i <= target; i++) {
      walker.step(this.store.get(i));
      this.reexecuted++;
    }
    this.cursor = { row, next: target + 1, walker };
    const system = walker.view();
    const contexts = new Map<string, string>();
    for (const id of system?.actorIds() ?? []) {
      const snap = system!.snapshot(id) as { context?: unknown } | undefined;
      contexts.set(id, JSON.stringify(snap?.context ?? null) ?? 'null');
    }
    const result: ContextsAt = { row, contexts, notReplayed: new Map(walker.skipped()) };
    this.cache.set(row, result);
    if (this.cache.size > CACHED) this.cache.delete(this.cache.keys().next().value!);
    return result;
  }

  /** Frees the walker kept for stepping forward. */
  close(): void {
    this.cursor?.walker.close();
    this.cursor = null;
  }

  private nearest(row: number): Checkpoint | undefined {
    let lo = 0;
    let hi = this.checkpoints.length - 1;
    if (hi < 0 || this.checkpoints[0]!.row > row) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.checkpoints[mid]!.row <= row) lo = mid;
      else hi = mid - 1;
    }
    return this.checkpoints[lo];
  }

  private keep(cp: Checkpoint): void {
    this.checkpoints.push(cp);
    this.bytes += cp.data.length;
    while (this.checkpoints.length > 1 && (this.checkpoints.length > this.maxCheckpoints || this.bytes > this.maxBytes)) {
      this.every *= 2;
      this.checkpoints = this.checkpoints.filter((c) => (c.row + 1) % this.every === 0);
      this.bytes = this.checkpoints.reduce((n, c) => n + c.data.length, 0);
    }
  }
}
