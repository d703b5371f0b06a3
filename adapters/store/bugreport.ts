// `reagent bugreport`: one self-contained file a developer can replay. It is
// a journal export (NDJSON: header, then records) whose header also carries
// the machine definitions, the agent version, the effective configuration and
// the log tail, every secret redacted.
//
// It reads the journal next to a running daemon: read-only, never the
// instance lock, page by page (each page a short read transaction that waits
// out a commit through the busy timeout), up to the last seq it saw when it
// started, so a busy daemon cannot make it run forever.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { arch, platform } from 'node:os';
import type { Json, JournalRecord } from '../../actors/types.js';
import { replayRecords, type ReplaySnapshot } from '../../actors/replay.js';
import type { MachineRegistry } from '../../machines/registry.js';
import type { Redactor } from '../log/redactor.js';
import { writeNewFile } from './new-file.js';
import { EXPORT_FORMAT, EXPORT_FORMAT_VERSION, writeExportTo, type ExportHeader, type ExportRun, type ExportSnapshot } from './export.js';
import { openJournalReader, type JournalReader } from './journal-reader.js';

export interface BugreportOptions {
  dbFile: string;
  /** Created new (0600, never through a planted file or symlink); an existing one is refused unless `force`. */
  out: string;
  /** Replace an existing `out` (by rename: whatever it was is not written into). */
  force?: boolean;
  /** Gzip-compress the file (`bytes` is then its compressed size). */
  gzip?: boolean;
  agentVersion: string;
  registry: MachineRegistry;
  /** The effective configuration, as the daemon would run with it. Redacted here. */
  config: { [key: string]: unknown };
  /** Knows the literal secrets (device secret, tokens); also hides secret-looking keys and shapes. */
  redactor: Redactor;
  /** Wall time "now", for `sinceMs`. */
  now: number;
  /** Only the events of the last `sinceMs` milliseconds. */
  sinceMs?: number;
  /** Only the events from this seq on. */
  fromSeq?: number;
  /** The daemon's log file: its tail goes into the report. */
  logFile?: string;
  /** Bytes of log tail to include. Default 256 KiB. */
  logTailBytes?: number;
  /** Problems met while collecting the configuration, kept in the report. */
  notes?: string[];
  busyTimeoutMs?: number;
}

export interface BugreportResult {
  file: string;
  events: number;
  bytes: number;
  /** First and last seq in the report (null when it has no events). */
  fromSeq: number | null;
  toSeq: number | null;
  runs: number;
  /** Events whose payload had something redacted. */
  redactedEvents: number;
  notes: string[];
  elapsedMs: number;
}

/** What a bug report adds to an export header, under `extra.bugreport`. */
export interface BugreportExtra {
  [key: string]: Json;
  createdAt: string;
  host: { platform: string; arch: string; node: string };
  slice: { since: string | null; fromSeq: number | null; toSeq: number | null; requestedFrom: number | null };
  machineDefinitions: Json[];
  config: Json;
  notes: string[];
  logTail: string | null;
}

export function writeBugreport(opts: BugreportOptions): BugreportResult {
  const started = performance.now();
  const notes = [...(opts.notes ?? [])];
  const reader = openJournalReader(opts.dbFile, { busyTimeoutMs: opts.busyTimeoutMs });
  try {
    notes.push(...reader.notes);
    const lastSeq = reader.lastSeq();
    const first = firstEventOfSlice(reader, opts, lastSeq);
    if (!first) notes.push(lastSeq === 0 ? 'the journal has no events' : `no events in the requested slice (the journal ends at seq ${lastSeq})`);
    const runs = runsFrom(reader.runs(), first, opts);
    const snapshots = first ? startingSnapshots(reader, first, runs, opts, notes) : [];

    const extra: BugreportExtra = {
      createdAt: new Date(opts.now).toISOString(),
      host: { platform: platform(), arch: arch(), node: process.version },
      slice: {
        since: opts.sinceMs === undefined ? null : `${opts.sinceMs}ms`,
        requestedFrom: opts.fromSeq ?? null,
        fromSeq: first?.seq ?? null,
        toSeq: first ? lastSeq : null,
      },
      machineDefinitions: opts.registry.list().map((d) => ({
        name: d.name,
        version: d.version,
        definition: scrubLiterals(toJson(d.logic.toJSON()), opts.redactor),
      })),
      config: opts.redactor.scrub(opts.config) as Json,
      notes: notes.map((n) => opts.redactor.scrubString(n)),
      logTail: opts.logFile ? readTail(opts.logFile, opts.logTailBytes ?? 256 * 1024, opts.redactor) : null,
    };
    const header: ExportHeader = {
      format: EXPORT_FORMAT,
      formatVersion: EXPORT_FORMAT_VERSION,
      agentVersion: opts.agentVersion,
      createdAt: extra.createdAt,
      machines: opts.registry.versions(),
      runs: runs.map((r) => ({ ...r, machines: scrubLiterals(r.machines, opts.redactor) })),
      snapshots,
      extra: { bugreport: extra },
    };
    const records: Iterable<JournalRecord> = first ? reader.events({ fromSeq: first.seq, toSeq: lastSeq }) : [];
    const written = writeNewFile(opts.out, (fd) => writeExportTo(fd, header, records, opts.redactor, { scrubHeader: false, gzip: opts.gzip ?? false }), { force: opts.force ?? false });
    return {
      file: opts.out,
      events: written.events,
      bytes: written.bytes,
      fromSeq: first?.seq ?? null,
      toSeq: first && written.events > 0 ? lastSeq : null,
      runs: runs.length,
      redactedEvents: written.redacted,
      notes: extra.notes,
      elapsedMs: performance.now() - started,
    };
  } finally {
    reader.close();
  }
}

/** Parses `90s`, `30m`, `2h`, `1d`, `1h30m`, `500ms`: Go's time.ParseDuration units plus days. */
export function parseDuration(text: string): number | null {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) return null;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(m[1]) * units[m[2]!]!;
  return Number.isFinite(total) ? Math.round(total) : null;
}

type First = { seq: number; run: string; at: number };

/** The first event of the slice, found by paging through (seq, at) so no read lock is held for long. */
function firstEventOfSlice(reader: JournalReader, opts: BugreportOptions, lastSeq: number): First | null {
  const sinceAt = opts.sinceMs === undefined ? undefined : opts.now - opts.sinceMs;
  return reader.firstEvent({ fromSeq: opts.fromSeq, toSeq: lastSeq, sinceAt });
}

/**
 * The run of the first event and every later one: a bug report covers the
 * daemon starts in its slice, also those that journaled nothing yet.
 */
function runsFrom(all: ExportRun[], first: First | null, opts: BugreportOptions): ExportRun[] {
  if (!first) {
    if (opts.sinceMs !== undefined) return all.filter((r) => r.startedAt >= opts.now - opts.sinceMs!);
    return opts.fromSeq === undefined ? all : [];
  }
  const i = all.findIndex((r) => r.run === first.run);
  return i < 0 ? all : all.slice(i);
}

/**
 * A slice that starts in the middle of a run needs the actors' state at its
 * start, or replay would meet events for actors it never saw spawn. The
 * history before the slice is replayed here, with this agent's machines, and
 * persisted; later runs start with their own compaction snapshot if they have one.
 */
function startingSnapshots(reader: JournalReader, first: First, runs: ExportRun[], opts: BugreportOptions, notes: string[]): ExportSnapshot[] {
  const runIds = new Set(runs.map((r) => r.run));
  const all = reader.snapshots();
  const out: ExportSnapshot[] = [];
  for (const s of all) {
    // Other runs' snapshots, and those inside the slice (where a journal gap resumes).
    const inSlice = s.run === first.run && s.seq >= first.seq;
    if ((s.run !== first.run && runIds.has(s.run)) || inSlice) out.push(redactSnapshot({ run: s.run, seq: s.seq, at: s.at, data: s.data }, opts.redactor));
  }

  const earlier = reader.firstEvent({ run: first.run, toSeq: first.seq - 1 });
  const prior = all.filter((s) => s.run === first.run && s.seq < first.seq).at(-1);
  if (!earlier && !prior) return out; // the slice starts where its run starts
  if (prior && prior.seq === first.seq - 1) {
    out.push(redactSnapshot({ run: prior.run, seq: prior.seq, at: prior.at, data: prior.data }, opts.redactor));
    return out;
  }
  const snapshots = new Map<string, ReplaySnapshot>();
  if (prior) snapshots.set(prior.run, prior);
  let persisted: ExportSnapshot | undefined;
  let lastAt = first.at;
  const prefix = (function* () {
    for (const r of reader.events({ run: first.run, fromSeq: prior?.seq, toSeq: first.seq - 1 })) {
      lastAt = r.at;
      yield r;
    }
  })();
  const report = replayRecords(prefix, {
    registry: opts.registry,
    snapshots,
    resumePoints: all,
    atEnd: (system, r) => {
      if (r.verdict === 'reproduced') persisted = { run: first.run, seq: first.seq - 1, at: lastAt, data: system.persist() };
    },
  });
  if (persisted) {
    out.push(redactSnapshot(persisted, opts.redactor));
    notes.push(`the slice starts at seq ${first.seq}, inside run ${first.run}: the state before it was rebuilt by replaying ${report.events} earlier events`);
  } else {
    const why = report.verdict === 'refused' ? report.refusal : `diverged at seq ${report.divergence?.seq} (${report.divergence?.reason})`;
    notes.push(
      `the slice starts at seq ${first.seq}, inside run ${first.run}, and the history before it could not be rebuilt (${why}); ` +
        'a replay of this report will miss the state its actors had at the start',
    );
  }
  return out;
}

function redactSnapshot(s: ExportSnapshot, redactor: Redactor): ExportSnapshot {
  const data = redactor.scrub(s.data) as Json;
  const changed = JSON.stringify(data) !== JSON.stringify(s.data);
  return changed ? { ...s, data, redacted: true } : { ...s, data };
}

function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value) ?? 'null') as Json;
}

/**
 * Statechart definitions are scrubbed of known secret values only: key-based
 * redaction would blank a state merely named like a secret (`awaitingToken`).
 */
function scrubLiterals(value: Json, redactor: Redactor): Json {
  if (typeof value === 'string') return redactor.scrubString(value);
  if (Array.isArray(value)) return value.map((v) => scrubLiterals(v, redactor));
  if (value && typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) out[redactor.scrubString(k)] = scrubLiterals(v, redactor);
    return out;
  }
  return value;
}

/** The last `bytes` of the log, from a line start; redacted again (the file may predate a secret's registration). */
function readTail(path: string, bytes: number, redactor: Redactor): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    const n = readSync(fd, buf, 0, buf.length, start);
    let text = buf.subarray(0, n).toString('utf8');
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    return redactor.scrubString(text);
  } finally {
    closeSync(fd);
  }
}
