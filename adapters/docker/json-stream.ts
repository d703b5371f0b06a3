// Docker's progress streams (pull, push, build, events) are newline-delimited JSON.
// Failures after the HTTP 200 arrive as items with `error` / `errorDetail`, so every
// consumer has to look inside the stream, not only at the status code.

import { addAbortSignal, type Readable } from 'node:stream';
import { LineSplitter } from './log-lines.js';
import { EngineError, isAbort } from './errors.js';
import type { EngineLogger } from './types.js';

export type JsonItem = Record<string, unknown>;

function toReadable(stream: NodeJS.ReadableStream): Readable {
  return stream as Readable;
}

/** Yields each JSON object of the stream; lines that are not JSON objects come as `{ raw }`. */
export async function* jsonItems(stream: NodeJS.ReadableStream, signal?: AbortSignal): AsyncGenerator<JsonItem> {
  const readable = toReadable(stream);
  if (signal) addAbortSignal(signal, readable);
  const lines = new LineSplitter(16 << 20);
  const parse = (line: string): JsonItem | undefined => {
    if (line.trim() === '') return undefined;
    try {
      const v: unknown = JSON.parse(line);
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonItem) : { raw: line };
    } catch {
      return { raw: line };
    }
  };
  try {
    for await (const chunk of readable) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      for (const line of lines.push(buf)) {
        const item = parse(line);
        if (item) yield item;
      }
    }
    for (const line of lines.flush()) {
      const item = parse(line);
      if (item) yield item;
    }
  } finally {
    if (!readable.destroyed) readable.destroy();
  }
}

/** Handler failures logged per stream; after that they are only counted. */
const REPORTED_FAILURES = 10;

/**
 * Wraps what a consumer does with one item of an engine stream (a progress
 * line, a batch of log lines, an event): if it throws, that item is dropped
 * and logged, and the stream goes on. A bug in how we read one line must not
 * fail a pull, end a log follow or drop the event watcher. Deliberate
 * failures (an error item failing a pull) are thrown outside it.
 */
export function perItem<T>(logger: EngineLogger, what: string, handle: (item: T) => void): (item: T) => void {
  let failures = 0;
  return (item) => {
    try {
      handle(item);
    } catch (err) {
      failures++;
      if (failures <= REPORTED_FAILURES) {
        const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        logger.warn({ failures }, `${what}: an item from the engine was dropped, its handler failed (${reason.slice(0, 300)})${failures === REPORTED_FAILURES ? '; further failures are not logged' : ''}`);
      }
    }
  };
}

/** The error message carried by a stream item, if it is an error item. */
export function streamItemError(item: JsonItem): string | undefined {
  const detail = item['errorDetail'];
  if (typeof detail === 'object' && detail !== null) {
    const m = (detail as { message?: unknown }).message;
    if (typeof m === 'string' && m.length > 0) return m;
  }
  const e = item['error'];
  if (typeof e === 'string' && e.length > 0) return e;
  return undefined;
}

/** Runs `fn` and turns a caller abort into EngineError('aborted'). */
export async function abortable<T>(what: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    signal?.throwIfAborted();
    return await fn();
  } catch (err) {
    if (signal?.aborted || isAbort(err)) throw new EngineError('aborted', `${what}: aborted`, { cause: err });
    throw err;
  }
}
