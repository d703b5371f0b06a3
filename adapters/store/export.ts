// The portable form of a journal: NDJSON, one header line then one record per
// line. Self-contained (runs, snapshots, machine versions), scrubbed of secrets
// on the way out, and streamable both ways so a million events never sit in
// memory at once.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
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
  const flush = () => {
    if (!buffer) return;
    bytes += writeSync(fd, buffer);
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
    if (buffer.length > 1 << 20) flush();
  }
  flush();
  return { events, bytes, redacted };
}

export class ExportFormatError extends Error {}

/** Reads an export: the header at once, the records lazily. */
export function readExport(path: string): { header: ExportHeader; records(): Generator<ExportedRecord> } {
  const lines = readLines(path);
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

/** Synchronous line reader over a file of any size. */
function* readLines(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  const chunk = Buffer.allocUnsafe(1 << 20);
  // A chunk boundary may cut a multi-byte character; the decoder carries it over.
  const decoder = new StringDecoder('utf8');
  let rest = '';
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const text = rest + decoder.write(chunk.subarray(0, n));
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      yield* parts;
    }
    rest += decoder.end();
    if (rest) yield rest;
  } finally {
    closeSync(fd);
  }
}
