// `query_device_logs`: the agent's own JSON log (`-logFile` and its rotations
// `.1`, `.2`), filtered by level, time window and tail. Files are streamed
// line by line and only the last `tail` matches are kept, so a query over
// 300 MiB of rotated logs costs `tail` lines of memory, not the files.
// They are read in 1 MiB chunks: each chunk waits its turn in an event loop
// that may be busy with the studio link, and with the 64 KiB default a query
// over a 20 MiB log took 320 turns, over 30 s in the loaded daemon fuzz test.
// A query reads every file whatever its tail, so at most `maxQueries` read at
// once; one more is answered at once with wamp.error.canceled. Unbounded,
// callers that did not wait piled up 22 whole-log reads that slowed each
// other past their callers' patience (and could pin the device's CPU).
import { createReadStream, existsSync } from 'node:fs';
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

export async function queryDeviceLogs(logFile: string, q: DeviceLogQuery, nowMs: number): Promise<DeviceLogResult> {
  const files = rotatedFiles(logFile);
  const minRank = q.level === undefined ? -1 : LEVELS.indexOf(q.level);
  const filtering = q.level !== undefined || q.since !== undefined || q.until !== undefined;
  const kept: string[] = [];
  let matched = 0;
  let oldest: number | undefined;
  for (const file of files) {
    const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8', highWaterMark: READ_CHUNK_BYTES }), crlfDelay: Infinity });
    for await (const line of rl) {
      if (line.trim() === '') continue;
      let entry: Record<string, unknown> | undefined;
      try {
        const parsed: unknown = JSON.parse(line);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) entry = parsed as Record<string, unknown>;
      } catch {
        entry = undefined;
      }
      const t = entry ? timeSec(entry.time) : undefined;
      if (oldest === undefined && t !== undefined) oldest = t;
      if (filtering) {
        // A line we cannot read cannot be placed in a window or a level.
        if (!entry) continue;
        if (q.level !== undefined && levelRank(entry.level) < minRank) continue;
        if (q.since !== undefined && (t === undefined || t < q.since)) continue;
        if (q.until !== undefined && (t === undefined || t > q.until)) continue;
      }
      matched++;
      kept.push(line);
      // Trimmed in chunks: shifting one line per match would be quadratic.
      if (kept.length >= 2 * q.tail + 64) kept.splice(0, kept.length - q.tail);
    }
  }
  if (kept.length > q.tail) kept.splice(0, kept.length - q.tail);
  // The byte budget keeps the newest lines: those are what someone debugging wants.
  let bytes = 0;
  let start = kept.length;
  while (start > 0) {
    const size = Buffer.byteLength(kept[start - 1]!) + 1;
    if (bytes + size > DEVICE_LOG_LIMITS.maxBytes) break;
    bytes += size;
    start--;
  }
  const lines = kept.slice(start);
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
