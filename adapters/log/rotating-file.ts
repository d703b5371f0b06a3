// A synchronous, size-rotated log file for pino. Synchronous because the
// agent must not lose its last lines when it exits or crashes, and because a
// device logs little; rotation mirrors the Reagent's lumberjack setup
// (100 MiB, 2 backups) so the same disk budget holds.
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export const DEFAULT_MAX_BYTES = 100 * 1024 * 1024;
export const DEFAULT_BACKUPS = 2;

export interface RotatingFileOptions {
  path: string;
  /** Rotate before a write would take the file past this size. */
  maxBytes?: number;
  /** Rotated files kept: `path.1` (newest) … `path.<backups>`. 0 keeps none. */
  backups?: number;
  /** Told once per failure streak; the line is dropped rather than crashing the agent. */
  onError?: (err: Error) => void;
}

export class RotatingFile {
  readonly path: string;
  readonly maxBytes: number;
  readonly backups: number;
  readonly #onError: (err: Error) => void;
  #fd: number | null = null;
  #size = 0;
  #failing = false;
  /** Where the file must be cut back to at the next open: a line was torn and the cut failed then. */
  #cutAt: number | null = null;

  constructor(options: RotatingFileOptions) {
    this.path = options.path;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.backups = options.backups ?? DEFAULT_BACKUPS;
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes <= 0) throw new RangeError(`maxBytes must be a positive integer, got ${this.maxBytes}`);
    if (!Number.isSafeInteger(this.backups) || this.backups < 0) throw new RangeError(`backups must be a non-negative integer, got ${this.backups}`);
    this.#onError = options.onError ?? (() => {});
    // A read-only or missing log directory must not stop the agent: report
    // it and retry on the next write.
    try {
      this.#open();
    } catch (err) {
      this.#fail(err);
    }
  }

  write(chunk: string): boolean {
    const data = Buffer.from(chunk, 'utf8');
    try {
      // A line longer than maxBytes still goes out whole, into a fresh file:
      // splitting it would corrupt the JSON line.
      if (this.#fd === null) this.#open();
      if (this.#size > 0 && this.#size + data.length > this.maxBytes) this.#rotate();
      this.#writeAll(data);
      this.#failing = false;
    } catch (err) {
      this.#fail(err);
    }
    return true;
  }

  /** Writes are synchronous already; pino calls this on exit. */
  flushSync(): void {}

  end(): void {
    this.close();
  }

  close(): void {
    if (this.#fd === null) return;
    const fd = this.#fd;
    this.#fd = null;
    try {
      closeSync(fd);
    } catch (err) {
      this.#fail(err);
    }
  }

  #open(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    if (this.#cutAt !== null) {
      truncateIfLonger(this.path, this.#cutAt);
      this.#cutAt = null;
    }
    this.#fd = openSync(this.path, 'a', 0o600);
    this.#size = fstatSync(this.#fd).size;
  }

  /**
   * A line goes in whole or not at all: when the disk fills up halfway
   * through it, the part written is cut off again, so the file never holds a
   * torn JSON line (and the next line does not start in the middle of one).
   */
  #writeAll(data: Buffer): void {
    if (this.#fd === null) return;
    const fd = this.#fd;
    let offset = 0;
    try {
      while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
    } catch (err) {
      if (offset > 0) {
        try {
          ftruncateSync(fd, this.#size);
        } catch {
          this.#cutAt = this.#size;
        }
      }
      throw err;
    }
    this.#size += data.length;
  }

  #rotate(): void {
    this.close();
    if (this.backups === 0) {
      rmSync(this.path, { force: true });
    } else {
      // rename replaces the target, so the oldest backup drops out here.
      for (let i = this.backups - 1; i >= 1; i--) renameIfExists(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      renameIfExists(this.path, `${this.path}.1`);
    }
    this.#open();
  }

  #fail(err: unknown): void {
    // Drop the descriptor so the next write retries from a clean open
    // (the directory may have been removed, the disk may have been freed).
    if (this.#fd !== null) {
      try {
        closeSync(this.#fd);
      } catch {
        // already broken; nothing more to report
      }
      this.#fd = null;
    }
    if (this.#failing) return;
    this.#failing = true;
    this.#onError(err instanceof Error ? err : new Error(String(err)));
  }
}

function renameIfExists(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function truncateIfLonger(path: string, size: number): void {
  try {
    // truncate(2) would lengthen a shorter file (rotated meanwhile) with zeros
    if (statSync(path).size > size) truncateSync(path, size);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
