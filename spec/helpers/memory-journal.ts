// An in-memory JournalPort for tests of the runtime and machines: the real
// SQLite journal has its own tests; here we want speed and inspection.
import type { JournalPort, JournalRecord, NewJournalRecord } from '../../actors/types.js';

export class MemoryJournal implements JournalPort {
  readonly records: JournalRecord[] = [];
  /** Sequence numbers committed so far (the durable prefix). */
  committed = 0;
  commits = 0;

  append(record: NewJournalRecord): number {
    const seq = this.records.length + 1;
    this.records.push({ ...record, seq, payload: JSON.parse(JSON.stringify(record.payload)) });
    return seq;
  }

  setOutcome(seq: number, outcome: Pick<JournalRecord, 'state' | 'ctx' | 'cmds'>): void {
    const r = this.records[seq - 1];
    if (r) Object.assign(r, outcome);
  }

  commit(): void {
    if (this.committed !== this.records.length) this.commits++;
    this.committed = this.records.length;
  }
}
