// The last N lines of every app (its output, pull and build progress, agent
// messages), in memory while the daemon runs and in `app_log_history` once a
// stream ends or the daemon stops, so `get_app_log_history` still has them
// after a restart. One row per container, overwritten: never a write per line.

import type { LinkStorage } from '../adapters/store/link-storage.js';

interface Ring {
  lines: string[];
  /** How many of `lines` are the app's own output (not agent or progress lines). */
  appLines: number[];
  dirty: boolean;
}

export interface StoredHistory {
  lines: string[];
  /** Whether any line is the app's own output. */
  hasAppOutput: boolean;
  updatedAt: number;
}

export class AppLogHistory {
  private readonly rings = new Map<string, Ring>();

  constructor(
    private readonly db: LinkStorage | undefined,
    private readonly limit: number,
    private readonly now: () => number,
  ) {
    if (!(limit >= 1)) throw new RangeError('log history limit must be at least 1');
  }

  append(container: string, lines: readonly string[], fromApp: boolean): void {
    if (lines.length === 0) return;
    const ring = this.ring(container);
    for (const line of lines) {
      ring.lines.push(line);
      ring.appLines.push(fromApp ? 1 : 0);
    }
    const excess = ring.lines.length - this.limit;
    if (excess > 0) {
      ring.lines.splice(0, excess);
      ring.appLines.splice(0, excess);
    }
    ring.dirty = true;
  }

  /** The history of a container: memory first, else what was persisted. */
  read(container: string): StoredHistory | undefined {
    const ring = this.rings.get(container) ?? this.load(container);
    if (!ring) return undefined;
    return { lines: [...ring.lines], hasAppOutput: ring.appLines.some((x) => x === 1), updatedAt: this.updatedAt(container) ?? this.now() };
  }

  /** When the persisted history of `container` was last written (ms), if ever. */
  updatedAt(container: string): number | undefined {
    if (!this.db) return undefined;
    const row = this.db.get('SELECT updated_at FROM app_log_history WHERE container = ?', [container]);
    return row ? Number(row['updated_at']) : undefined;
  }

  persist(container: string): void {
    const ring = this.rings.get(container);
    if (!ring?.dirty || !this.db) return;
    // not caused by a journaled event: written now, on its own
    this.db.write((tx) =>
      tx.run(
        `INSERT INTO app_log_history (container, lines, app_lines, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (container) DO UPDATE SET lines = excluded.lines, app_lines = excluded.app_lines, updated_at = excluded.updated_at`,
        [container, JSON.stringify(ring.lines), JSON.stringify(ring.appLines), this.now()],
      ),
    );
    ring.dirty = false;
  }

  persistAll(): void {
    for (const container of this.rings.keys()) this.persist(container);
  }

  forget(container: string): void {
    this.rings.delete(container);
    this.db?.write((tx) => tx.run('DELETE FROM app_log_history WHERE container = ?', [container]));
  }

  private ring(container: string): Ring {
    let ring = this.rings.get(container) ?? this.load(container);
    if (!ring) ring = { lines: [], appLines: [], dirty: false };
    this.rings.set(container, ring);
    return ring;
  }

  private load(container: string): Ring | undefined {
    if (!this.db) return undefined;
    const row = this.db.get('SELECT lines, app_lines FROM app_log_history WHERE container = ?', [container]);
    if (!row) return undefined;
    try {
      const lines: unknown = JSON.parse(String(row['lines']));
      const marks: unknown = JSON.parse(String(row['app_lines']));
      if (!Array.isArray(lines) || !lines.every((l) => typeof l === 'string')) return undefined;
      const appLines = Array.isArray(marks) && marks.length === lines.length ? marks.map((m) => (m === 1 ? 1 : 0)) : lines.map(() => 1);
      const ring: Ring = { lines: lines.slice(-this.limit), appLines: appLines.slice(-this.limit), dirty: false };
      this.rings.set(container, ring);
      return ring;
    } catch {
      return undefined;
    }
  }
}
