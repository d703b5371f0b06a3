// How the journal's group commits go: a JournalPort that forwards to the real
// journal and times each commit(). The actor system is given this instead of
// the journal, so /metrics can tell commit latency and /healthz whether the
// last commit failed, without the runtime knowing about either.
import { performance } from 'node:perf_hooks';
import type { DiscardedRange, Json, JournalPort, JournalRecord, NewJournalRecord } from '../../actors/types.js';

/** Upper bounds (seconds) of the commit latency histogram: an SD card's fsync ranges from 1 ms to seconds. */
export const COMMIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

export interface CommitStats {
  /** Commits that succeeded / failed in this run. */
  readonly ok: number;
  readonly failed: number;
  /** Sum of the successful commits' durations (s) and their count per bucket (cumulative counts are made when rendering). */
  readonly sumSeconds: number;
  readonly buckets: readonly number[];
  /** Whether the last attempt failed, and why (the journal's own words: "disk full (12 KiB free on …)"). */
  readonly failing: boolean;
  readonly lastError: string | null;
}

export class TimedJournal implements JournalPort {
  private okCount = 0;
  private failedCount = 0;
  private sum = 0;
  private readonly counts: number[] = COMMIT_BUCKETS.map(() => 0);
  private lastError: string | null = null;
  private failingNow = false;
  readonly pendingBytes?: () => number;
  readonly discardPending?: () => DiscardedRange | null;
  readonly writeSnapshot?: (run: string, seq: number, at: number, data: Json) => number;

  constructor(private readonly inner: JournalPort) {
    // Optional members stay optional: the runtime bounds memory only for journals that can tell.
    if (inner.pendingBytes) this.pendingBytes = () => inner.pendingBytes!();
    if (inner.discardPending) this.discardPending = () => inner.discardPending!();
    if (inner.writeSnapshot) this.writeSnapshot = (run, seq, at, data) => inner.writeSnapshot!(run, seq, at, data);
  }

  append(record: NewJournalRecord): number {
    return this.inner.append(record);
  }

  setOutcome(seq: number, outcome: Pick<JournalRecord, 'state' | 'ctx' | 'cmds'>): void {
    this.inner.setOutcome(seq, outcome);
  }

  commit(): void {
    // Nothing buffered: the journal returns at once; timing that would only flatter the histogram.
    const empty = this.inner.pendingBytes?.() === 0;
    const start = performance.now();
    try {
      this.inner.commit();
    } catch (err) {
      this.failedCount++;
      this.failingNow = true;
      this.lastError = err instanceof Error ? err.message : String(err);
      throw err;
    }
    this.failingNow = false;
    if (empty) return;
    const seconds = (performance.now() - start) / 1000;
    this.okCount++;
    this.sum += seconds;
    const i = COMMIT_BUCKETS.findIndex((b) => seconds <= b);
    if (i >= 0) this.counts[i]!++;
  }

  stats(): CommitStats {
    return { ok: this.okCount, failed: this.failedCount, sumSeconds: this.sum, buckets: [...this.counts], failing: this.failingNow, lastError: this.failingNow ? this.lastError : null };
  }
}
