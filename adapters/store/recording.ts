// A recording to replay: either a journal database (opened read-only, never
// migrated or repaired, so a bug report's file stays as it came) or an NDJSON
// export (a bug report is one). Both yield the same records and snapshots, and
// say which agent versions made them.
import type { JournalRecord } from '../../actors/types.js';
import { readExport, type ExportHeader, type ExportRun, type ExportSnapshot } from './export.js';
import { isSqliteFile, openJournalReader } from './journal-reader.js';

export interface Recording {
  kind: 'journal' | 'export';
  header?: ExportHeader;
  snapshots: ExportSnapshot[];
  /** The daemon starts the recording covers (agent version, machine versions). */
  runs: ExportRun[];
  /** Anything done to read it consistently. */
  notes: readonly string[];
  records(filter?: { run?: string; fromSeq?: number; toSeq?: number }): Iterable<JournalRecord>;
  close(): void;
}

export interface OpenRecordingOptions {
  /** The most bytes an export may hold, decompressed (REAGENT_REPLAY_MAX_MB). */
  maxBytes?: number;
}

/** A journal database, or an export plain or gzip (told apart by their first bytes, never by the name). */
export function openRecording(path: string, opts: OpenRecordingOptions = {}): Recording {
  return isSqliteFile(path) ? openJournalFile(path) : openExportFile(path, opts);
}

function openExportFile(path: string, opts: OpenRecordingOptions): Recording {
  const exp = readExport(path, opts);
  return {
    kind: 'export',
    header: exp.header,
    snapshots: exp.header.snapshots ?? [],
    runs: exp.header.runs ?? [],
    notes: [],
    *records(filter) {
      for (const r of exp.records()) {
        if (filter?.run !== undefined && r.run !== filter.run) continue;
        if (filter?.fromSeq !== undefined && r.seq < filter.fromSeq) continue;
        if (filter?.toSeq !== undefined && r.seq > filter.toSeq) return;
        yield r;
      }
    },
    close() {},
  };
}

function openJournalFile(path: string): Recording {
  const reader = openJournalReader(path);
  try {
    const snapshots = reader.snapshots().map(({ run, seq, at, data }) => ({ run, seq, at, data }));
    const runs = reader.runs();
    return {
      kind: 'journal',
      snapshots,
      runs,
      notes: reader.notes,
      records: (filter) => reader.events({ run: filter?.run, fromSeq: filter?.fromSeq, toSeq: filter?.toSeq, batch: 5000 }),
      close: () => reader.close(),
    };
  } catch (err) {
    reader.close();
    throw new Error(`${path}: not a reagent journal (${(err as Error).message})`, { cause: err });
  }
}
