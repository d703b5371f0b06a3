// A window of a container's retained output (`docker logs --since --until
// --tail --timestamps`), for log queries: read once, demultiplexed, split
// into lines, bounded in lines and bytes.

import type Dockerode from 'dockerode';
import { DockerDemuxer, LineSplitter, type LogStream } from './log-lines.js';
import { toEngineError } from './errors.js';
import { validateContainerName } from './naming.js';

export interface LogWindowQuery {
  /** The newest N lines of the window; undefined: all of it. */
  tail?: number;
  /** Unix seconds (fractions allowed). */
  since?: number;
  until?: number;
  /** Prefix every line with Docker's RFC3339Nano timestamp. */
  timestamps?: boolean;
  /** Bounds of the answer; older lines go first when it is cut. */
  maxLines: number;
  maxBytes: number;
}

export interface LogWindow {
  lines: string[];
  /** Lines were left out because of `maxLines`/`maxBytes`. */
  truncated: boolean;
}

export async function readLogWindow(docker: Dockerode, container: string, q: LogWindowQuery): Promise<LogWindow> {
  validateContainerName(container);
  const c = docker.getContainer(container);
  let tty = false;
  let raw: unknown;
  try {
    tty = (await c.inspect()).Config.Tty === true;
    raw = await c.logs({
      follow: false,
      stdout: true,
      stderr: true,
      timestamps: q.timestamps ?? false,
      ...(q.tail !== undefined ? { tail: q.tail } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.until !== undefined ? { until: q.until } : {}),
    });
  } catch (err) {
    throw toEngineError(err, `logs of ${container}`);
  }
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw));
  const splitters: Record<LogStream, LineSplitter> = { stdout: new LineSplitter(), stderr: new LineSplitter() };
  const all: string[] = [];
  const pieces = tty ? [{ stream: 'stdout' as const, payload: buf }] : new DockerDemuxer().push(buf);
  for (const p of pieces) all.push(...splitters[p.stream].push(p.payload));
  all.push(...splitters.stdout.flush(), ...splitters.stderr.flush());
  return boundLines(all, q.maxLines, q.maxBytes);
}

/** The newest lines that fit both bounds, in their original order. */
export function boundLines(all: readonly string[], maxLines: number, maxBytes: number): LogWindow {
  const out: string[] = [];
  let bytes = 0;
  for (let i = all.length - 1; i >= 0 && out.length < maxLines; i--) {
    const line = all[i]!;
    const size = Buffer.byteLength(line) + 1;
    if (bytes + size > maxBytes) break;
    bytes += size;
    out.push(line);
  }
  out.reverse();
  return { lines: out, truncated: out.length < all.length };
}
