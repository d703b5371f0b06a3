// One log stream per running app container. A follow ends by itself when the
// container stops; when a new container of the same name starts meanwhile
// (a restart, a `run` that replaced it), the follow starts again once the old
// one has delivered its last lines.

import type { DockerEngine } from '../adapters/docker/engine.js';
import type { EngineLogger } from '../adapters/docker/types.js';
import { EngineError } from '../adapters/docker/errors.js';

interface Follow {
  containerId: string | null;
  controller: AbortController;
  /** A newer container of the same name to follow when this one ends. */
  next: { containerId: string | null } | null;
  done: Promise<void>;
}

export interface LogFollowsDeps {
  engine: DockerEngine;
  onLines(container: string, lines: string[]): void;
  /** The stream ended: persist the history. */
  onEnd(container: string): void;
  logger: EngineLogger;
}

export class LogFollows {
  private readonly follows = new Map<string, Follow>();
  private closed = false;

  constructor(private readonly deps: LogFollowsDeps) {}

  /**
   * Follows `container` unless it already is. `sinceSec` skips output already
   * in the history (re-attaching after a daemon restart).
   */
  ensure(container: string, containerId: string | null, sinceSec?: number): void {
    if (this.closed) return;
    const current = this.follows.get(container);
    if (current) {
      // Another container of that name: follow it once this stream has delivered its last lines.
      if (containerId !== current.containerId) current.next = { containerId };
      return;
    }
    const controller = new AbortController();
    const follow: Follow = { containerId, controller, next: null, done: Promise.resolve() };
    this.follows.set(container, follow);
    follow.done = this.deps.engine
      .followLogs(container, (batch) => this.deps.onLines(container, batch.map((l) => l.text)), controller.signal, sinceSec !== undefined ? { sinceSec } : {})
      .then(
        (r) => this.deps.logger.debug({ container, lines: r.lines, reason: r.reason }, 'log stream ended'),
        (err: unknown) => {
          const quiet = err instanceof EngineError && (err.code === 'not-found' || err.code === 'conflict');
          this.deps.logger[quiet ? 'debug' : 'warn']({ container, err: (err as Error).message }, 'log stream failed');
        },
      )
      .finally(() => {
        this.follows.delete(container);
        this.deps.onEnd(container);
        if (follow.next && !controller.signal.aborted) this.ensure(container, follow.next.containerId);
      });
  }

  isFollowing(container: string): boolean {
    return this.follows.has(container);
  }

  /** Stops every follow and waits for them to hand over their last lines. */
  async closeAll(): Promise<void> {
    this.closed = true;
    const all = [...this.follows.values()];
    for (const f of all) f.controller.abort();
    await Promise.all(all.map((f) => f.done));
  }
}
