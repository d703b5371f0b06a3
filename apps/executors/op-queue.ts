// One lane per app: the app statechart relies on its Docker commands running
// strictly in the order it emitted them, one at a time (a `run` must never
// overtake the `stop` before it). Different apps run in parallel.
//
// A job can be canceled while it waits (it never starts) or while it runs
// (its AbortSignal fires); either way the job itself reports the outcome, so a
// canceled operation still answers with its own result.

export interface LaneJob<Tag> {
  readonly tag: Tag;
  /** Runs the job; `signal` fires on cancel or shutdown. Must not throw (report failures itself). */
  run(signal: AbortSignal): Promise<void>;
  /** Called instead of `run` when the job is canceled before it started. */
  dropped(reason: string): void;
}

interface Lane<Tag> {
  waiting: LaneJob<Tag>[];
  running: { job: LaneJob<Tag>; controller: AbortController } | null;
}

export type CancelResult = 'running' | 'waiting' | 'none';

export class SerialLanes<Tag> {
  private readonly lanes = new Map<string, Lane<Tag>>();
  private readonly idleWaiters = new Set<() => void>();
  private closed = false;

  enqueue(key: string, job: LaneJob<Tag>): void {
    if (this.closed) {
      job.dropped('shutting down');
      return;
    }
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { waiting: [], running: null };
      this.lanes.set(key, lane);
    }
    lane.waiting.push(job);
    if (!lane.running) this.next(key, lane);
  }

  /** Cancels the first job of `key` whose tag matches: aborts it if running, drops it if waiting. */
  cancel(key: string, matches: (tag: Tag) => boolean, reason = 'canceled'): CancelResult {
    const lane = this.lanes.get(key);
    if (!lane) return 'none';
    if (lane.running && matches(lane.running.job.tag)) {
      lane.running.controller.abort(new Error(reason));
      return 'running';
    }
    const i = lane.waiting.findIndex((j) => matches(j.tag));
    if (i < 0) return 'none';
    const [job] = lane.waiting.splice(i, 1);
    job?.dropped(reason);
    return 'waiting';
  }

  /** Whether a job of `key` is running or waiting. */
  busy(key: string): boolean {
    const lane = this.lanes.get(key);
    return lane !== undefined && (lane.running !== null || lane.waiting.length > 0);
  }

  /** Aborts every running job, drops every waiting one, and refuses new ones. */
  close(reason = 'shutting down'): void {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      for (const job of lane.waiting.splice(0)) job.dropped(reason);
      lane.running?.controller.abort(new Error(reason));
    }
  }

  /** Resolves once no job runs or waits (or after `timeoutMs`). */
  idle(timeoutMs = 30_000): Promise<void> {
    if (this.lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      timer.unref?.();
      const waiters = this.idleWaiters;
      function done(): void {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }

  private next(key: string, lane: Lane<Tag>): void {
    const job = lane.waiting.shift();
    if (!job) {
      lane.running = null;
      this.lanes.delete(key);
      if (this.lanes.size === 0) for (const w of [...this.idleWaiters]) w();
      return;
    }
    const controller = new AbortController();
    lane.running = { job, controller };
    void job
      .run(controller.signal)
      .catch(() => undefined)
      .then(() => this.next(key, lane));
  }
}
