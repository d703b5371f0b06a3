// The records of a replayed recording, kept so any stretch of it can be
// re-executed again (the context at an event is rebuilt from the nearest
// checkpoint). Stored by column with interned strings, like the timeline:
// about 44 bytes per record plus each distinct payload once, so a
// million-event recording costs tens of megabytes, not the gigabyte its
// objects would. Outcomes (state, context hash, commands) are not kept: a
// re-execution needs only what went in.
import type { Json, JournalRecord } from '../actors/types.js';

const GROW = 1024;

class Strings {
  readonly values: string[] = [];
  private readonly index = new Map<string, number>();
  id(value: string): number {
    let i = this.index.get(value);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(value);
      this.index.set(value, i);
    }
    return i;
  }
}

export class RecordStore {
  private capacity = GROW;
  private count = 0;
  private seqs = new Float64Array(GROW);
  private ats = new Float64Array(GROW);
  private rands = new Float64Array(GROW);
  private cols = new Uint32Array(GROW * 5);
  private readonly runs = new Strings();
  private readonly actors = new Strings();
  private readonly sources = new Strings();
  private readonly types = new Strings();
  private readonly payloads = new Strings();

  get length(): number {
    return this.count;
  }

  append(r: JournalRecord): number {
    if (this.count === this.capacity) this.grow();
    const i = this.count++;
    this.seqs[i] = r.seq;
    this.ats[i] = r.at;
    this.rands[i] = r.rand;
    const c = i * 5;
    this.cols[c] = this.runs.id(r.run);
    this.cols[c + 1] = this.actors.id(r.actor);
    this.cols[c + 2] = this.sources.id(r.source);
    this.cols[c + 3] = this.types.id(r.type);
    this.cols[c + 4] = this.payloads.id(JSON.stringify(r.payload ?? null));
    return i;
  }

  /** The record at `index`, as it went in, without its recorded outcome (state, ctx and cmds are empty). */
  get(index: number): JournalRecord {
    if (index < 0 || index >= this.count) throw new RangeError(`record store: index ${index} out of [0, ${this.count})`);
    const c = index * 5;
    return {
      seq: this.seqs[index]!,
      run: this.runs.values[this.cols[c]!]!,
      at: this.ats[index]!,
      rand: this.rands[index]!,
      actor: this.actors.values[this.cols[c + 1]!]!,
      source: this.sources.values[this.cols[c + 2]!]!,
      type: this.types.values[this.cols[c + 3]!]!,
      payload: JSON.parse(this.payloads.values[this.cols[c + 4]!]!) as Json,
      state: null,
      ctx: null,
      cmds: [],
    };
  }

  private grow(): void {
    this.capacity *= 2;
    const grow = <T extends Float64Array | Uint32Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.seqs = grow(this.seqs, this.capacity);
    this.ats = grow(this.ats, this.capacity);
    this.rands = grow(this.rands, this.capacity);
    this.cols = grow(this.cols, this.capacity * 5);
  }
}
