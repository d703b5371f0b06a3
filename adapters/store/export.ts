// The portable form of a journal: NDJSON, one header line then one record per
// line. Self-contained (runs, snapshots, machine versions), scrubbed of secrets
// on the way out, and streamable both ways so a million events never sit in
// memory at once.
//
// Gzip (a bug report's default): written as one gzip member per 4 MiB of
// lines (a multi-member stream every gunzip reads), so writing stays
// synchronous and bounded; read back by its magic bytes, whatever the name,
// decompressed up to a bound (REAGENT_REPLAY_MAX_MB) so a small file cannot
// expand to fill the memory.
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import type { Json, JournalRecord } from '../../actors/types.js';
import { RecordingRefusedError } from './recording-refused.js';

export const EXPORT_FORMAT = 'reagent-journal';
export const EXPORT_FORMAT_VERSION = 1;

export interface ExportRun {
  run: string;
  startedAt: number;
  agentVersion: string;
  machines: Json;
}

export interface ExportSnapshot {
  run: string;
  seq: number;
  at: number;
  data: Json;
  /** Secrets were removed from the actors' contexts: their context hashes will differ in replay. */
  redacted?: boolean;
}

/** A record as exported: `redacted` marks a payload the scrubber changed (replay then expects context differences). */
export type ExportedRecord = JournalRecord & { redacted?: true };

export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  formatVersion: number;
  agentVersion: string;
  createdAt: string;
  machines: Record<string, number>;
  runs: ExportRun[];
  snapshots: ExportSnapshot[];
  /** Anything else a bug report carries (effective configuration, notes), already redacted. */
  extra?: { [key: string]: Json };
}

export interface Scrubber {
  scrub(value: unknown): unknown;
}

export interface ExportOptions {
  /** Pass the header through the scrubber too (default). Off when the caller redacted it part by part. */
  scrubHeader?: boolean;
  /** Gzip-compress what is written (`bytes` then counts compressed bytes). */
  gzip?: boolean;
}

/** Default bound of what a recording may hold (decompressed), in MiB: REAGENT_REPLAY_MAX_MB overrides it. */
export const DEFAULT_REPLAY_MAX_MB = 2048;
/** Lines gathered before a write (plain) or a gzip member (gzip). */
const FLUSH_BYTES = 4 << 20;

export interface ReadExportOptions {
  /** The most bytes the (decompressed) export may have. */
  maxBytes?: number;
}

export interface ExportResult {
  events: number;
  bytes: number;
  /** Records whose payload the scrubber changed. */
  redacted: number;
}

/** Writes header and records; every payload passes through the scrubber first. */
export function writeExport(
  path: string,
  header: ExportHeader,
  records: Iterable<JournalRecord>,
  scrubber?: Scrubber,
  opts: ExportOptions = {},
): ExportResult {
  const fd = openSync(path, 'w', 0o600);
  try {
    return writeExportTo(fd, header, records, scrubber, opts);
  } finally {
    closeSync(fd);
  }
}

/** The same into an open file (see store/new-file.ts for creating one safely); the caller closes it. */
export function writeExportTo(
  fd: number,
  header: ExportHeader,
  records: Iterable<JournalRecord>,
  scrubber?: Scrubber,
  opts: ExportOptions = {},
): ExportResult {
  let bytes = 0;
  let events = 0;
  let redacted = 0;
  let buffer = '';
  const write = (data: Buffer) => {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    bytes += data.length;
  };
  const flush = () => {
    if (!buffer) return;
    const data = Buffer.from(buffer, 'utf8');
    write(opts.gzip ? gzipSync(data, { level: zlibConstants.Z_DEFAULT_COMPRESSION }) : data);
    buffer = '';
  };
  const safeHeader = scrubber && opts.scrubHeader !== false ? (scrubber.scrub(header) as ExportHeader) : header;
  buffer += JSON.stringify(safeHeader) + '\n';
  for (const r of records) {
    let line: string;
    if (scrubber) {
      const payload = scrubber.scrub(r.payload) as Json;
      const changed = JSON.stringify(payload) !== JSON.stringify(r.payload);
      if (changed) redacted++;
      line = JSON.stringify(changed ? { ...r, payload, redacted: true } : r);
    } else {
      line = JSON.stringify(r);
    }
    buffer += line + '\n';
    events++;
    if (buffer.length > FLUSH_BYTES) flush();
  }
  flush();
  return { events, bytes, redacted };
}

export class ExportFormatError extends Error {}

/** Reads an export: the header at once, the records lazily. */
export function readExport(path: string, opts: ReadExportOptions = {}): { header: ExportHeader; records(): Generator<ExportedRecord> } {
  const lines = readLines(path, opts.maxBytes ?? DEFAULT_REPLAY_MAX_MB * 1024 * 1024);
  const first = lines.next();
  if (first.done) throw new ExportFormatError(`${path}: empty file, expected a reagent journal export`);
  let header: ExportHeader;
  try {
    header = JSON.parse(first.value) as ExportHeader;
  } catch {
    throw new ExportFormatError(`${path}: line 1 is not JSON; expected a reagent journal export header`);
  }
  if (header?.format !== EXPORT_FORMAT) {
    throw new ExportFormatError(`${path}: field "format": expected "${EXPORT_FORMAT}", got ${JSON.stringify(header?.format)}`);
  }
  if (header.formatVersion > EXPORT_FORMAT_VERSION) {
    throw new RecordingRefusedError(
      `${path}: export format v${header.formatVersion} is newer than this agent understands (v${EXPORT_FORMAT_VERSION}); use a newer reagent`,
    );
  }
  let consumed = false;
  return {
    header,
    *records() {
      if (consumed) throw new Error('export records can be read once');
      consumed = true;
      let n = 1;
      for (const line of lines) {
        n++;
        if (!line) continue;
        let rec: ExportedRecord;
        try {
          rec = JSON.parse(line) as ExportedRecord;
        } catch {
          throw new ExportFormatError(`${path}: line ${n} is not JSON`);
        }
        if (typeof rec.seq !== 'number' || typeof rec.type !== 'string' || typeof rec.actor !== 'string') {
          throw new ExportFormatError(`${path}: line ${n}: expected a journal record with seq, actor and type`);
        }
        yield rec;
      }
    },
  };
}

/** Whether the file starts with gzip's magic bytes (1f 8b). */
export function isGzipFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

function tooLarge(path: string, maxBytes: number): ExportFormatError {
  const mb = Math.floor(maxBytes / (1024 * 1024));
  return new ExportFormatError(`${path}: holds more than ${mb} MiB of recording; raise REAGENT_REPLAY_MAX_MB (now ${mb}) to replay it`);
}

/** Synchronous line reader over a plain or gzip file, at most `maxBytes` of text. */
function* readLines(path: string, maxBytes: number): Generator<string> {
  if (isGzipFile(path)) {
    let offset = 0;
    let text: Buffer;
    try {
      text = gunzipSync(readFileSync(path), { maxOutputLength: maxBytes });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(path, maxBytes);
      throw new ExportFormatError(`${path}: not a complete gzip file (${(err as Error).message})`);
    }
    yield* linesOf((chunk) => {
      const n = Math.min(chunk.length, text.length - offset);
      text.copy(chunk, 0, offset, offset + n);
      offset += n;
      return n;
    });
    return;
  }
  const fd = openSync(path, 'r');
  try {
    if (fstatSync(fd).size > maxBytes) throw tooLarge(path, maxBytes);
    yield* linesOf((chunk) => readSync(fd, chunk, 0, chunk.length, null));
  } finally {
    closeSync(fd);
  }
}

/** Lines from a source that fills a chunk and says how much (0 at the end). */
function* linesOf(read: (chunk: Buffer) => number): Generator<string> {
  const chunk = Buffer.allocUnsafe(1 << 20);
  // A chunk boundary may cut a multi-byte character; the decoder carries it over.
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for (;;) {
    const n = read(chunk);
    if (n === 0) break;
    const text = rest + decoder.write(chunk.subarray(0, n));
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    yield* parts;
  }
  rest += decoder.end();
  if (rest) yield rest;
}
