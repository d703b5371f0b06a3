// Following an app's output: one stream per running container, split into lines.
//
// Non-TTY containers send stdout and stderr multiplexed in frames; each stream gets
// its own line splitter, because a frame boundary on one stream says nothing about
// line boundaries on the other. The Docker log stream ends by itself when the
// container stops, which ends the follow.
//
// dockerd (seen on 20.10 here; moby/moby#43860) sometimes ends a follow before
// sending the container's last output when it has no trailing newline. So when the
// stream ends, the retained log is read once more, with the same `since`, and
// whatever lies beyond the bytes already received on each stream is delivered too.

import { addAbortSignal, type Readable } from 'node:stream';
import type { EngineDeps } from './types.js';
import { EngineError, statusCodeOf, toEngineError } from './errors.js';
import { DockerDemuxer, LineSplitter, MAX_LINE_BYTES, type DemuxPiece, type LogLine, type LogStream } from './log-lines.js';
import { inspectOurs } from './containers.js';
import { perItem } from './json-stream.js';

type Ctx = Pick<EngineDeps, 'docker' | 'appsDir' | 'logger'>;

export interface FollowOptions {
  /**
   * Only output logged at or after this Unix time (seconds); default: everything
   * retained. (No `tail`: the end-of-stream catch-up needs a selection that a
   * second request reproduces exactly, and "the last N" moves.)
   */
  sinceSec?: number;
  maxLineBytes?: number;
}

export interface FollowResult {
  /** 'ended': the engine closed the stream (container stopped); 'aborted': the caller's signal. */
  reason: 'ended' | 'aborted';
  lines: number;
}

export async function followLogs(
  ctx: Ctx,
  container: string,
  onLines: (lines: LogLine[]) => void,
  signal?: AbortSignal,
  opts: FollowOptions = {},
): Promise<FollowResult> {
  if (signal?.aborted) return { reason: 'aborted', lines: 0 };
  const info = await inspectOurs(ctx, container, 'follow logs of');
  const tty = info.Config.Tty === true;
  let stream: Readable;
  try {
    stream = (await ctx.docker.getContainer(container).logs({
      follow: true,
      stdout: true,
      stderr: true,
      ...(opts.sinceSec !== undefined ? { since: opts.sinceSec } : {}),
      ...(signal ? { abortSignal: signal } : {}),
    })) as Readable;
  } catch (err) {
    if (signal?.aborted) return { reason: 'aborted', lines: 0 };
    throw toEngineError(err, `follow logs of ${container}`);
  }
  if (signal) addAbortSignal(signal, stream);

  const max = opts.maxLineBytes ?? MAX_LINE_BYTES;
  const splitters: Record<LogStream, LineSplitter> = { stdout: new LineSplitter(max), stderr: new LineSplitter(max) };
  const demux = new DockerDemuxer();
  const received: Record<LogStream, number> = { stdout: 0, stderr: 0 };
  let count = 0;
  const hand = perItem(ctx.logger, `follow logs of ${container}`, onLines);
  const deliver = (batch: LogLine[]): void => {
    if (batch.length === 0) return;
    count += batch.length;
    hand(batch);
  };
  const consume = (pieces: DemuxPiece[]): void => {
    const batch: LogLine[] = [];
    for (const piece of pieces) {
      received[piece.stream] += piece.payload.length;
      for (const text of splitters[piece.stream].push(piece.payload)) batch.push({ stream: piece.stream, text });
    }
    deliver(batch);
  };

  try {
    for await (const chunk of stream) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      consume(tty ? [{ stream: 'stdout', payload: buf }] : demux.push(buf));
    }
  } catch (err) {
    if (!signal?.aborted) {
      throw err instanceof EngineError ? err : toEngineError(err, `follow logs of ${container}`);
    }
  } finally {
    if (!stream.destroyed) stream.destroy();
  }
  if (!signal?.aborted) consume(await missedTail(ctx, container, tty, received, opts.sinceSec));
  // A last line without "\n" (e.g. `printf x` before exiting) is still a line.
  deliver([
    ...splitters.stdout.flush().map((text) => ({ stream: 'stdout' as const, text })),
    ...splitters.stderr.flush().map((text) => ({ stream: 'stderr' as const, text })),
  ]);
  return { reason: signal?.aborted ? 'aborted' : 'ended', lines: count };
}

/** The part of the retained log beyond `received` bytes per stream (see the header). */
async function missedTail(
  ctx: Ctx,
  container: string,
  tty: boolean,
  received: Readonly<Record<LogStream, number>>,
  sinceSec: number | undefined,
): Promise<DemuxPiece[]> {
  let all: Buffer;
  try {
    const res: unknown = await ctx.docker.getContainer(container).logs({
      follow: false,
      stdout: true,
      stderr: true,
      ...(sinceSec !== undefined ? { since: sinceSec } : {}),
    });
    all = Buffer.isBuffer(res) ? res : Buffer.from(String(res));
  } catch (err) {
    if (statusCodeOf(err) === 404) return []; // removed meanwhile: nothing left to read
    ctx.logger.warn({ container, err: (err as Error).message }, 'log catch-up read failed; the last output may be missing');
    return [];
  }
  const skip: Record<LogStream, number> = { ...received };
  const out: DemuxPiece[] = [];
  for (const piece of tty ? [{ stream: 'stdout' as const, payload: all }] : new DockerDemuxer().push(all)) {
    const n = Math.min(skip[piece.stream], piece.payload.length);
    skip[piece.stream] -= n;
    if (n < piece.payload.length) out.push({ stream: piece.stream, payload: piece.payload.subarray(n) });
  }
  return out;
}
