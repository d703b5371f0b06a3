// Contexts of past events in a live inspector. A running daemon cannot be
// rewound, so every context the inspector sees change is kept, as JSON text,
// keyed by the timeline row where it changed: the context at row N is the
// last change at or before N. The history is bounded in changes and bytes;
// past the bound the oldest changes go first, and a row before the oldest
// change kept for its actor answers why it has no context instead of a
// wrong one. Only superseded contexts count against the bound: each
// actor's current one is always kept. The journal holds no contexts (only their hash), so rows the
// inspector read from it at start (before it attached) have none either.
export interface LiveContextBudget {
  /** Most context changes kept, over all actors (default 20 000). */
  maxChanges?: number;
  /** Most bytes of context text kept (default 32 MiB). */
  maxBytes?: number;
}

export type ContextAnswer = { context: string; note?: string } | { unavailable: string };

interface History {
  rows: number[];
  texts: (string | null)[];
  /** Index of the oldest change still kept (dropped ones are compacted away now and then). */
  start: number;
  /** Rows up to this one lost their context to the bound (-Infinity: none). */
  dropped: number;
  /** Row of the first change ever noted: before it the actor did not exist (as far as the inspector saw). */
  first: number;
  last: unknown;
}

export class LiveContexts {
  private readonly byActor = new Map<string, History>();
  /** Actors in the order their contexts were superseded (oldest first): what goes when over the bound. */
  private readonly order: string[] = [];
  private head = 0;
  private bytes = 0;
  private readonly maxChanges: number;
  private readonly maxBytes: number;
  /** First row observed live; rows before it came from the journal. */
  private attachedAt = Number.POSITIVE_INFINITY;

  constructor(budget: LiveContextBudget = {}) {
    this.maxChanges = Math.max(1, budget.maxChanges ?? 20_000);
    this.maxBytes = budget.maxBytes ?? 32 * 1024 * 1024;
  }

  /** What the page says about the bound. */
  describeBound(): string {
    return `the live inspector keeps the last ${this.maxChanges.toLocaleString('en')} context changes (at most ${Math.round(this.maxBytes / 1024 / 1024)} MiB)`;
  }

  /** From `row` on, every change is seen (rows before it were read from the journal). */
  attached(row: number): void {
    this.attachedAt = row;
  }

  /**
   * The actor's context after the event at `row` (null: the actor is gone).
   * Cheap when nothing changed: XState keeps the same context object then.
   */
  note(actor: string, row: number, context: unknown): void {
    let h = this.byActor.get(actor);
    if (!h) this.byActor.set(actor, (h = { rows: [], texts: [], start: 0, dropped: Number.NEGATIVE_INFINITY, first: row, last: undefined }));
    if (h.rows.length > h.start && context === h.last) return;
    h.last = context;
    if (h.rows.length > h.start) {
      // The current context becomes history: from now on it counts against the bound.
      this.order.push(actor);
      this.bytes += h.texts[h.texts.length - 1]?.length ?? 0;
    }
    h.rows.push(row);
    h.texts.push(context === null ? null : (JSON.stringify(context) ?? 'null'));
    while (this.order.length - this.head > this.maxChanges || (this.bytes > this.maxBytes && this.order.length > this.head)) this.dropOldest();
    // Consumed queue heads are compacted now and then rather than shifted every time.
    if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  at(actor: string, row: number): ContextAnswer {
    const h = this.byActor.get(actor);
    const k = h ? lastAtOrBefore(h.rows, row, h.start) : -1;
    if (h && k >= 0) {
      const text = h.texts[k]!;
      if (text !== null) return { context: text };
      // Stopped: what it last held is what a person looks for (a gateway session lives a few seconds).
      const before = k - 1 >= h.start ? h.texts[k - 1] : null;
      if (before != null) return { context: before, note: `${actor} stopped at event #${h.rows[k]}; this is its context when it stopped.` };
      return { unavailable: `${actor} stopped at event #${h.rows[k]}` };
    }
    // Actors alive when the inspector attached have their context noted at the last row read from the journal.
    if (row < this.attachedAt - 1) {
      return {
        unavailable:
          'this event happened before the inspector started: the journal keeps states and a hash of each context, not contexts. ' +
          'To travel through the contexts of earlier events, write a bug report (reagent bugreport -o r.ndjson) and open it with reagent replay r.ndjson --inspect',
      };
    }
    if (h && row >= h.first && row <= h.dropped) {
      return { unavailable: `this event is older than the context history kept: ${this.describeBound()}, and ${actor}'s oldest kept is from event #${h.rows[h.start] ?? '?'}` };
    }
    return { unavailable: 'the actor did not exist yet at this event' };
  }

  /** Superseded contexts held, and their bytes (current ones are not counted). */
  usage(): { changes: number; bytes: number } {
    return { changes: this.order.length - this.head, bytes: this.bytes };
  }

  private dropOldest(): void {
    const actor = this.order[this.head++]!;
    const h = this.byActor.get(actor)!;
    this.bytes -= h.texts[h.start]?.length ?? 0;
    h.texts[h.start] = null;
    h.start++;
    // The context dropped held until the next change, which is kept (an actor's newest never goes).
    h.dropped = h.rows[h.start]! - 1;
    if (h.start > 64 && h.start * 2 > h.rows.length) {
      h.rows.splice(0, h.start);
      h.texts.splice(0, h.start);
      h.start = 0;
    }
  }
}

/** Index of the last element <= x in sorted[from..], or -1. */
function lastAtOrBefore(sorted: readonly number[], x: number, from = 0): number {
  let lo = from;
  let hi = sorted.length - 1;
  if (hi < from || sorted[from]! > x) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (sorted[mid]! <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
