// Every event the inspector has seen, stored by column (typed arrays and
// interned strings) so a million of them fit in tens of megabytes, and
// queried by position: a page of a filtered list, or the state of every actor
// after a given event (time travel). Rows are numbered from 0 for the life of
// the timeline; a live timeline with a cap forgets its oldest rows.
import type { Json } from '../actors/types.js';
import type { Transition } from '../actors/system.js';

/** A dispatched event as the runtime reports it, with commands by type only. */
export type TimelineInput = Omit<Transition, 'commands'> & {
  commands: readonly string[];
  /** Read from the journal before the inspector attached (live): no context was seen for it. */
  history?: boolean;
  /** Replay: re-executing it gave another outcome than the recorded one. */
  differs?: boolean;
};

const CHANGED = 1;
const HISTORY = 2;
const DIFFERS = 4;

export interface TimelineRow {
  row: number;
  seq: number;
  at: number;
  actor: string;
  machine: string | null;
  source: string;
  type: string;
  /** JSON of the state value after the event (null: the actor is gone or never existed). */
  state: string | null;
  payload: Json;
  commands: string[];
  /** The event moved its actor to another state (or spawned or stopped it). */
  changed: boolean;
  history: boolean;
  differs: boolean;
}

export interface TimelineFilter {
  /** Exact actor id. */
  actor?: string;
  /** Exact source (adapter name, `clock`, `runtime`). */
  source?: string;
  /** Case-insensitive substring of the event type. */
  type?: string;
  /** Case-insensitive substring of the payload's JSON. */
  text?: string;
}

export interface ActorStateAt {
  actor: string;
  machine: string | null;
  state: string | null;
  /** Row of the event that put the actor in this state. */
  since: number;
}

class Interned {
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
  get size(): number {
    return this.values.length;
  }
}

interface FilterCache {
  key: string;
  /** Absolute rows that match, ascending. */
  rows: number[];
  /** Rows below this were scanned. */
  scanned: number;
}

const GROW = 1024;

export class Timeline {
  private capacity = GROW;
  private seqs = new Float64Array(GROW);
  private ats = new Float64Array(GROW);
  private actorCol = new Uint32Array(GROW);
  private machineCol = new Uint32Array(GROW);
  private sourceCol = new Uint32Array(GROW);
  private typeCol = new Uint32Array(GROW);
  private stateCol = new Int32Array(GROW);
  private payloadCol = new Uint32Array(GROW);
  private cmdsCol = new Uint32Array(GROW);
  private flagsCol = new Uint8Array(GROW);
  private readonly actors = new Interned();
  private readonly machines = new Interned();
  private readonly sources = new Interned();
  private readonly types = new Interned();
  private readonly states = new Interned();
  private payloads = new Interned();
  private cmds = new Interned();
  /** Per actor: rows where its state changed, the state it changed to (-1 = gone), and how many events it had. */
  private readonly changes = new Map<number, { rows: number[]; states: number[]; machine: number; events: number }>();
  private readonly filters: FilterCache[] = [];
  /** Absolute row number of stored row 0. */
  private base = 0;
  private count = 0;

  /** `maxRows`: keep at most this many (live mode); the oldest go first. */
  constructor(private readonly maxRows = Number.POSITIVE_INFINITY) {}

  /** One past the newest row. */
  get length(): number {
    return this.base + this.count;
  }

  /** The oldest row still kept. */
  get first(): number {
    return this.base;
  }

  append(e: TimelineInput): number {
    if (this.count === this.capacity) this.grow();
    const i = this.count++;
    const row = this.base + i;
    this.seqs[i] = e.seq;
    this.ats[i] = e.at;
    const actor = this.actors.id(e.actor);
    this.actorCol[i] = actor;
    const machine = this.machines.id(e.machine ?? '');
    this.machineCol[i] = machine;
    this.sourceCol[i] = this.sources.id(e.source);
    this.typeCol[i] = this.types.id(e.type);
    const state = e.state === null ? -1 : this.states.id(e.state);
    this.stateCol[i] = state;
    this.payloadCol[i] = this.payloads.id(JSON.stringify(e.payload));
    this.cmdsCol[i] = this.cmds.id(e.commands.length ? e.commands.join('\n') : '');
    let ch = this.changes.get(actor);
    if (!ch) this.changes.set(actor, (ch = { rows: [], states: [], machine, events: 0 }));
    ch.events++;
    let flags = (e.history ? HISTORY : 0) | (e.differs ? DIFFERS : 0);
    if (ch.states.length === 0 || ch.states[ch.states.length - 1] !== state) {
      ch.rows.push(row);
      ch.states.push(state);
      if (e.machine !== null) ch.machine = machine;
      flags |= CHANGED;
    }
    this.flagsCol[i] = flags;
    if (this.count > this.maxRows * 1.25) this.trim();
    return row;
  }

  /**
   * An actor that existed before the first row (a live inspector attached
   * late): it shows in `stateAt` from the start with the state it had then.
   */
  declareActor(actor: string, machine: string | null, state: string | null): void {
    const a = this.actors.id(actor);
    if (this.changes.has(a)) return;
    this.changes.set(a, { rows: [this.base - 1], states: [state === null ? -1 : this.states.id(state)], machine: this.machines.id(machine ?? ''), events: 0 });
  }

  get(row: number): TimelineRow | undefined {
    const i = row - this.base;
    if (i < 0 || i >= this.count) return undefined;
    const machine = this.machines.values[this.machineCol[i]!]!;
    const state = this.stateCol[i]!;
    const cmds = this.cmds.values[this.cmdsCol[i]!]!;
    const flags = this.flagsCol[i]!;
    return {
      row,
      seq: this.seqs[i]!,
      at: this.ats[i]!,
      actor: this.actors.values[this.actorCol[i]!]!,
      machine: machine === '' ? null : machine,
      source: this.sources.values[this.sourceCol[i]!]!,
      type: this.types.values[this.typeCol[i]!]!,
      state: state < 0 ? null : this.states.values[state]!,
      payload: JSON.parse(this.payloads.values[this.payloadCol[i]!]!) as Json,
      commands: cmds === '' ? [] : cmds.split('\n'),
      changed: (flags & CHANGED) !== 0,
      history: (flags & HISTORY) !== 0,
      differs: (flags & DIFFERS) !== 0,
    };
  }

  /** The row holding `seq`, or the last row before it. */
  rowOfSeq(seq: number): number | undefined {
    let lo = 0;
    let hi = this.count - 1;
    if (hi < 0 || this.seqs[0]! > seq) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.seqs[mid]! <= seq) lo = mid;
      else hi = mid - 1;
    }
    return this.base + lo;
  }

  /** Actors seen so far, with their machine and how many events each had (forgotten rows included). */
  actorList(): Array<{ id: string; machine: string | null; events: number }> {
    return [...this.changes.entries()].map(([a, ch]) => {
      const m = this.machines.values[ch.machine]!;
      return { id: this.actors.values[a]!, machine: m === '' ? null : m, events: ch.events };
    });
  }

  /** Sources and event types seen so far (filter menus). */
  vocabulary(): { sources: string[]; types: string[] } {
    return { sources: [...this.sources.values], types: [...this.types.values] };
  }

  /** Every actor's state right after the event at `row`; actors not yet seen then are left out. */
  stateAt(row: number): ActorStateAt[] {
    const out: ActorStateAt[] = [];
    for (const [a, ch] of this.changes) {
      const k = lastAtOrBefore(ch.rows, row);
      if (k < 0) continue;
      const s = ch.states[k]!;
      const m = this.machines.values[ch.machine]!;
      out.push({ actor: this.actors.values[a]!, machine: m === '' ? null : m, state: s < 0 ? null : this.states.values[s]!, since: ch.rows[k]! });
    }
    return out;
  }

  /** Matching rows in [offset, offset + limit) of the filtered list, and how many match in all. */
  query(filter: TimelineFilter, offset: number, limit: number): { total: number; rows: TimelineRow[] } {
    const cache = this.filtered(filter);
    if (!cache) {
      const total = this.count;
      const rows: TimelineRow[] = [];
      for (let k = Math.max(0, offset); k < Math.min(total, offset + limit); k++) rows.push(this.get(this.base + k)!);
      return { total, rows };
    }
    const rows = cache.rows.slice(Math.max(0, offset), Math.max(0, offset + limit)).map((r) => this.get(r)!);
    return { total: cache.rows.length, rows };
  }

  /** Position in the filtered list of the last matching row at or before `row` (-1: none). */
  indexOf(filter: TimelineFilter, row: number): number {
    const cache = this.filtered(filter);
    if (!cache) return Math.min(row, this.length - 1) - this.base;
    return lastAtOrBefore(cache.rows, row);
  }

  private filtered(filter: TimelineFilter): FilterCache | null {
    const key = filterKey(filter);
    if (key === '') return null;
    let cache = this.filters.find((f) => f.key === key);
    if (!cache) {
      cache = { key, rows: [], scanned: this.base };
      this.filters.unshift(cache);
      if (this.filters.length > 6) this.filters.pop();
    }
    if (cache.scanned < this.length) this.scan(filter, cache);
    return cache;
  }

  private scan(filter: TimelineFilter, cache: FilterCache): void {
    const actor = filter.actor ? this.actors.values.indexOf(filter.actor) : -2;
    const source = filter.source ? this.sources.values.indexOf(filter.source) : -2;
    if (actor === -1 || source === -1) {
      cache.scanned = this.length;
      return;
    }
    // Substring tests run once per distinct type or payload, not once per row.
    const typeNeedle = filter.type?.toLowerCase();
    const typeOk = typeNeedle ? this.types.values.map((t) => t.toLowerCase().includes(typeNeedle)) : null;
    const textNeedle = filter.text?.toLowerCase();
    const textMemo = new Map<number, boolean>();
    const textOk = (p: number) => {
      let ok = textMemo.get(p);
      if (ok === undefined) textMemo.set(p, (ok = this.payloads.values[p]!.toLowerCase().includes(textNeedle!)));
      return ok;
    };
    for (let i = Math.max(0, cache.scanned - this.base); i < this.count; i++) {
      if (actor >= 0 && this.actorCol[i] !== actor) continue;
      if (source >= 0 && this.sourceCol[i] !== source) continue;
      if (typeOk && !typeOk[this.typeCol[i]!]) continue;
      if (textNeedle && !textOk(this.payloadCol[i]!)) continue;
      cache.rows.push(this.base + i);
    }
    cache.scanned = this.length;
  }

  private grow(): void {
    this.capacity *= 2;
    const grow = <T extends Float64Array | Uint32Array | Int32Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(this.capacity);
      b.set(a);
      return b;
    };
    this.seqs = grow(this.seqs);
    this.ats = grow(this.ats);
    this.actorCol = grow(this.actorCol);
    this.machineCol = grow(this.machineCol);
    this.sourceCol = grow(this.sourceCol);
    this.typeCol = grow(this.typeCol);
    this.stateCol = grow(this.stateCol);
    this.payloadCol = grow(this.payloadCol);
    this.cmdsCol = grow(this.cmdsCol);
    this.flagsCol = grow(this.flagsCol);
  }

  /** Forgets the oldest rows down to `maxRows`; payloads are re-interned so their table shrinks too. */
  private trim(): void {
    const drop = this.count - this.maxRows;
    for (const col of [this.seqs, this.ats, this.actorCol, this.machineCol, this.sourceCol, this.typeCol, this.stateCol, this.payloadCol, this.cmdsCol, this.flagsCol]) {
      col.copyWithin(0, drop, this.count);
    }
    this.count -= drop;
    this.base += drop;
    const payloads = new Interned();
    const cmds = new Interned();
    for (let i = 0; i < this.count; i++) {
      this.payloadCol[i] = payloads.id(this.payloads.values[this.payloadCol[i]!]!);
      this.cmdsCol[i] = cmds.id(this.cmds.values[this.cmdsCol[i]!]!);
    }
    this.payloads = payloads;
    this.cmds = cmds;
    // Each actor keeps its last change before the new first row: the state it was in then.
    for (const ch of this.changes.values()) {
      const k = lastAtOrBefore(ch.rows, this.base);
      if (k > 0) {
        ch.rows.splice(0, k);
        ch.states.splice(0, k);
      }
    }
    for (const f of this.filters) {
      const k = f.rows.findIndex((r) => r >= this.base);
      f.rows.splice(0, k < 0 ? f.rows.length : k);
    }
  }
}

function filterKey(f: TimelineFilter): string {
  const parts = [f.actor ?? '', f.source ?? '', f.type?.toLowerCase() ?? '', f.text?.toLowerCase() ?? ''];
  return parts.every((p) => p === '') ? '' : JSON.stringify(parts);
}

/** Index of the last element <= x in an ascending array, or -1. */
function lastAtOrBefore(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  if (hi < 0 || sorted[0]! > x) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (sorted[mid]! <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
