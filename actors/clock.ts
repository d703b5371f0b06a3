// Time, owned by the runtime. Machines never read the wall clock: the runtime
// stamps `at` on each event and XState's delayed transitions run on one of
// these clocks, so a recorded run can be re-executed on virtual time.

export type TimerHandle = { readonly id: number };

export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** Wall time and real timers: the daemon. */
export class SystemClock implements Clock {
  private next = 1;
  private readonly timers = new Map<number, NodeJS.Timeout>();

  now(): number {
    return Date.now();
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const id = this.next++;
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, Math.max(0, ms));
    this.timers.set(id, t);
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    const t = this.timers.get(handle.id);
    if (t) clearTimeout(t);
    this.timers.delete(handle.id);
  }

  /** Timers still pending (tests use it to prove a stopped system leaves none behind). */
  pending(): number {
    return this.timers.size;
  }
}

interface ManualTimer {
  id: number;
  due: number;
  fn: () => void;
}

/** Virtual time that moves only when told to: property tests and simulations. */
export class ManualClock implements Clock {
  private next = 1;
  private current: number;
  private readonly timers = new Map<number, ManualTimer>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const id = this.next++;
    this.timers.set(id, { id, due: this.current + Math.max(0, ms), fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle.id);
  }

  /** Due time of the earliest pending timer, if any. */
  nextDue(): number | undefined {
    let min: number | undefined;
    for (const t of this.timers.values()) if (min === undefined || t.due < min) min = t.due;
    return min;
  }

  /** Moves time forward by `ms`, firing due timers in due order (ties in creation order). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let first: ManualTimer | undefined;
      for (const t of this.timers.values()) {
        if (t.due <= target && (!first || t.due < first.due || (t.due === first.due && t.id < first.id))) first = t;
      }
      if (!first) break;
      this.timers.delete(first.id);
      this.current = Math.max(this.current, first.due);
      first.fn();
    }
    this.current = target;
  }

  /** Jumps to the next timer and fires it (and any due at the same time). */
  step(): boolean {
    const due = this.nextDue();
    if (due === undefined) return false;
    this.advance(due - this.current);
    return true;
  }
}

/**
 * Replay: time is whatever the record being replayed says (the runtime takes
 * it from the record); timers never fire on their own, the journal's timer
 * records fire them, in the recorded order.
 */
export class ReplayClock implements Clock {
  private next = 1;

  /** Only consulted for events without a recorded time, which replay never has. */
  now(): number {
    return 0;
  }

  setTimer(_fn: () => void, _ms: number): TimerHandle {
    return { id: this.next++ };
  }

  clearTimer(_handle: TimerHandle): void {}
}
