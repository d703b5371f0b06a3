// `query_device_logs`: the agent's own JSON log (`-logFile` and its rotations
// `.1`, `.2`), filtered by level, time window and tail. The files are read
// backwards from the newest line, in 1 MiB chunks, and reading stops once the
// tail is found (and one match more, which says it is truncated): a query
// costs about its tail whatever the size of the files, and only a filter that
// matches little reads far. Reading every file from the start for each query,
// in 64 KiB chunks that each waited a turn of the busy daemon's event loop,
// took over 30 s for a 20 MiB log under load in the daemon fuzz test.
// A query may still read every file, so at most `maxQueries` read at once;
// one more is answered at once with wamp.error.canceled. Unbounded, callers
// that did not wait piled up 22 whole-log reads that slowed each other past
// their callers' patience (and could pin the device's CPU).
import { createReadStream, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { DEFAULT_BACKUPS } from '../log/rotating-file.js';
import { DeviceApiError, WAMP_ERRORS } from './errors.js';

const READ_CHUNK_BYTES = 1024 * 1024;

export const DEVICE_LOG_LIMITS = { defaultTail: 300, maxLines: 5000, maxBytes: 4 * 1024 * 1024, maxQueries: 2 } as const;

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Level = (typeof LEVELS)[number];

export interface DeviceLogQuery {
  tail: number;
  /** Unix seconds. */
  since?: number;
  until?: number;
  /** Minimum level: `warn` returns warn, error and fatal. */
  level?: Level;
}

export interface DeviceLogResult {
  lines: string[];
  returned: number;
  truncated: boolean;
  files_scanned: number;
  device_time: string;
  oldest_available?: string;
}

/** The log file and its rotations, oldest first. */
export function rotatedFiles(logFile: string, backups = DEFAULT_BACKUPS): string[] {
  const out: string[] = [];
  for (let i = backups; i >= 1; i--) out.push(`${logFile}.${i}`);
  out.push(logFile);
  return out.filter((f) => existsSync(f));
}

// pino writes numbers when not configured otherwise; ours writes labels.
const NUMERIC: Record<number, Level> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

function levelRank(value: unknown): number {
  const label = typeof value === 'number' ? NUMERIC[value] : typeof value === 'string' ? value.toLowerCase() : undefined;
  return label === undefined ? -1 : LEVELS.indexOf(label as Level);
}

function timeSec(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value > 1e11 ? value / 1000 : value;
  if (typeof value === 'string') {
    const t = Date.parse(value);
    return Number.isFinite(t) ? t / 1000 : undefined;
  }
  return undefined;
}

/** The lines of a file, newest first, read backwards in chunks; lines end at `\n` (a `\r` before it is dropped). */
async function* linesNewestFirst(file: string): AsyncGenerator<string> {
  const fh = await open(file, 'r');
  try {
    let pos = (await fh.stat()).size;
    // The start of the line the last chunk began inside: it ends where the next chunk's first newline is.
    let partial = Buffer.alloc(0);
    while (pos > 0) {
      const size = Math.min(READ_CHUNK_BYTES, pos);
      pos -= size;
      const chunk = Buffer.alloc(size);
      const { bytesRead } = await fh.read(chunk, 0, size, pos);
      if (bytesRead < size) throw new Error(`${file} shrank while it was read`);
      const buf = partial.length > 0 ? Buffer.concat([chunk, partial]) : chunk;
      let end = buf.length;
      for (let nl = buf.lastIndexOf(0x0a, end - 1); nl >= 0; nl = end > 0 ? buf.lastIndexOf(0x0a, end - 1) : -1) {
        yield withoutCr(buf.toString('utf8', nl + 1, end));
        end = nl;
      }
      partial = buf.subarray(0, end);
    }
    if (partial.length > 0) yield withoutCr(partial.toString('utf8'));
  } finally {
    await fh.close();
  }
}

const withoutCr = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);

/** The time of the first line that has one, oldest file first. */
async function oldestTime(files: readonly string[]): Promise<number | undefined> {
  for (const file of files) {
    const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8', highWaterMark: READ_CHUNK_BYTES }), crlfDelay: Infinity });
    try {
      for await (const line of rl) {
        const t = timeSec(parseEntry(line)?.time);
        if (t !== undefined) return t;
      }
    } finally {
      rl.close();
    }
  }
  return undefined;
}

function parseEntry(line: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(line);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function queryDeviceLogs(logFile: string, q: DeviceLogQuery, nowMs: number): Promise<DeviceLogResult> {
  const files = rotatedFiles(logFile);
  const minRank = q.level === undefined ? -1 : LEVELS.indexOf(q.level);
  const filtering = q.level !== undefined || q.since !== undefined || q.until !== undefined;
  const newestFirst: string[] = [];
  let matched = 0;
  scan: for (const file of [...files].reverse()) {
    for await (const line of linesNewestFirst(file)) {
      if (line.trim() === '') continue;
      if (filtering) {
        // A line we cannot read cannot be placed in a window or a level.
        const entry = parseEntry(line);
        if (!entry) continue;
        const t = timeSec(entry.time);
        if (q.level !== undefined && levelRank(entry.level) < minRank) continue;
        if (q.since !== undefined && (t === undefined || t < q.since)) continue;
        if (q.until !== undefined && (t === undefined || t > q.until)) continue;
      }
      matched++;
      if (matched > q.tail) break scan;
      newestFirst.push(line);
    }
  }
  // The byte budget keeps the newest lines: those are what someone debugging wants.
  let bytes = 0;
  let count = 0;
  for (const line of newestFirst) {
    const size = Buffer.byteLength(line) + 1;
    if (bytes + size > DEVICE_LOG_LIMITS.maxBytes) break;
    bytes += size;
    count++;
  }
  const lines = newestFirst.slice(0, count).reverse();
  const oldest = await oldestTime(files);
  return {
    lines,
    returned: lines.length,
    truncated: lines.length < matched,
    files_scanned: files.length,
    device_time: new Date(nowMs).toISOString(),
    ...(oldest !== undefined ? { oldest_available: new Date(oldest * 1000).toISOString() } : {}),
  };
}

/** query_device_logs for one log file, at most `maxQueries` reading at a time. */
export class DeviceLogQueries {
  private reading = 0;

  constructor(
    private readonly logFile: string,
    private readonly maxQueries: number = DEVICE_LOG_LIMITS.maxQueries,
  ) {}

  /** Throws DeviceApiError (canceled, kwargs.limit) when `maxQueries` are already reading. */
  async query(q: DeviceLogQuery, nowMs: number): Promise<DeviceLogResult> {
    if (this.reading >= this.maxQueries) {
      throw new DeviceApiError(
        WAMP_ERRORS.canceled,
        `query_device_logs: ${this.maxQueries} queries are already reading the device log (the limit); ask again once one has answered`,
        { limit: this.maxQueries },
      );
    }
    this.reading++;
    try {
      return await queryDeviceLogs(this.logFile, q, nowMs);
    } finally {
      this.reading--;
    }
  }
}
