// A JournalPort whose commits fail on demand, like the SQLite journal on a
// full disk: the buffer stays, its size is counted, and it can be discarded
// at the runtime's memory bound. Snapshots are kept for replay checks.
import type { DiscardedRange, Json, JournalPort, JournalRecord, NewJournalRecord } from '../../actors/types.js';
import type { ReplaySnapshot } from '../../actors/replay.js';

export class FailingJournal implements JournalPort {
  /** Every record ever committed, in order (dropped ones never appear). */
  readonly committed: JournalRecord[] = [];
  readonly snapshots: ReplaySnapshot[] = [];
  /** While true, commit() throws as the SQLite journal does on a full disk. */
  failing = false;
  private buffer: JournalRecord[] = [];
  private next = 1;

  append(record: NewJournalRecord): number {
    const seq = this.next++;
    this.buffer.push({ ...record, seq, payload: JSON.parse(JSON.stringify(record.payload)) as Json });
    return seq;
  }

  setOutcome(seq: number, outcome: Pick<JournalRecord, 'state' | 'ctx' | 'cmds'>): void {
    const r = this.buffer.find((b) => b.seq === seq) ?? this.committed.find((c) => c.seq === seq);
    if (r) Object.assign(r, outcome);
  }

  commit(): void {
    if (this.buffer.length === 0) return;
    if (this.failing) throw new Error('journal test.db: commit of ' + this.buffer.length + ' records failed: disk full (0 KiB free on /test)');
    this.committed.push(...this.buffer);
    this.buffer = [];
  }

  get pending(): number {
    return this.buffer.length;
  }

  pendingBytes(): number {
    return this.buffer.reduce((n, r) => n + 120 + 2 * JSON.stringify(r.payload).length, 0);
  }

  discardPending(): DiscardedRange | null {
    if (this.buffer.length === 0) return null;
    const range = { from: this.buffer[0]!.seq, to: this.next - 1, count: this.buffer.length };
    this.buffer = [];
    return range;
  }

  writeSnapshot(run: string, seq: number, _at: number, data: Json): number {
    if (this.failing) throw new Error('disk full');
    this.snapshots.push({ run, seq, data });
    return this.snapshots.length;
  }
}
