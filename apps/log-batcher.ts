// Live app logs for the studio link, the Reagent's way: one batch per app
// every 200 ms, at most 256 KiB of lines per batch, and a counted marker
// "… N log line(s) dropped (rate limit)" where lines had to go, never a
// silent gap. Only apps somebody listens to are buffered.

import type { Clock, TimerHandle } from '../actors/clock.js';
import type { LogBatch } from './service.js';

export interface BatcherSettings {
  batchIntervalMs: number;
  maxBatchBytes: number;
  maxBufferBytes: number;
}

interface Pending {
  lines: string[];
  bytes: number;
  messages: string[];
  dropped: number;
}

const MARKER_ROOM = 64;

export function dropMarker(n: number): string {
  return `… ${n} log line(s) dropped (rate limit)`;
}

export class LogBatcher {
  private readonly listeners = new Map<string, Set<(b: LogBatch) => void>>();
  private readonly buffers = new Map<string, Pending>();
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Pick<Clock, 'setTimer' | 'clearTimer'>,
    private readonly settings: BatcherSettings,
    private readonly onListenerError: (err: unknown) => void = () => {},
  ) {}

  subscribe(container: string, listener: (b: LogBatch) => void): () => void {
    let set = this.listeners.get(container);
    if (!set) {
      set = new Set();
      this.listeners.set(container, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size > 0 || this.listeners.get(container) !== set) return;
      this.listeners.delete(container);
      this.buffers.delete(container);
    };
  }

  listening(container: string): boolean {
    return this.listeners.has(container);
  }

  lines(container: string, lines: readonly string[]): void {
    if (!this.listeners.has(container) || lines.length === 0) return;
    const b = this.buffer(container);
    for (const line of lines) {
      const size = Buffer.byteLength(line) + 1;
      if (b.bytes + size > this.settings.maxBufferBytes) {
        b.dropped++;
        continue;
      }
      b.lines.push(line);
      b.bytes += size;
    }
    this.schedule();
  }

  message(container: string, text: string): void {
    if (!this.listeners.has(container)) return;
    this.buffer(container).messages.push(text);
    this.schedule();
  }

  /** Publishes what is buffered now (the timer does it every interval). */
  flush(): void {
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    const ready = [...this.buffers.entries()];
    this.buffers.clear();
    for (const [containerName, b] of ready) {
      const lines: string[] = [];
      let bytes = 0;
      let dropped = b.dropped;
      // Room is kept for the marker, so a batch with it stays within the limit.
      const budget = this.settings.maxBatchBytes - MARKER_ROOM;
      for (let i = 0; i < b.lines.length; i++) {
        const line = b.lines[i]!;
        const size = Buffer.byteLength(line) + 1;
        if (bytes + size > budget) {
          // The rest of the interval goes, oldest kept: what is published stays contiguous.
          dropped += b.lines.length - i;
          break;
        }
        lines.push(line);
        bytes += size;
      }
      if (dropped > 0) lines.push(dropMarker(dropped));
      const batch: LogBatch = { containerName, lines, messages: b.messages, dropped };
      for (const l of this.listeners.get(containerName) ?? []) {
        try {
          l(batch);
        } catch (err) {
          this.onListenerError(err);
        }
      }
    }
  }

  close(): void {
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.buffers.clear();
    this.listeners.clear();
  }

  private buffer(container: string): Pending {
    let b = this.buffers.get(container);
    if (!b) {
      b = { lines: [], bytes: 0, messages: [], dropped: 0 };
      this.buffers.set(container, b);
    }
    return b;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.flush();
    }, this.settings.batchIntervalMs);
  }
}
