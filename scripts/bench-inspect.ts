// Replay and bug-report numbers on a real journal FILE (SQLite), the way a
// user meets them: `reagent replay reagent.db` and `reagent bugreport`.
// Exported for scripts/bench.ts; `node --import tsx scripts/bench-inspect.ts [EVENTS]` runs it alone.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem } from '../actors/system.js';
import { ManualClock } from '../actors/clock.js';
import { replayRecords } from '../actors/replay.js';
import { builtinMachines } from '../machines/registry.js';
import { Journal } from '../adapters/store/journal.js';
import { openJournalReader } from '../adapters/store/journal-reader.js';
import { openRecording } from '../adapters/store/recording.js';
import { writeBugreport } from '../adapters/store/bugreport.js';
import { Redactor } from '../adapters/log/redactor.js';
import { connectionWorkload, seededRandom } from './bench-replay.js';

export interface BenchJournal {
  file: string;
  events: number;
  bytes: number;
  recordMs: number;
}

/** Records `events` events of 20 connection actors (connects, pings, drops, backoffs) into a journal file. */
export async function createBenchJournal(file: string, events: number, actors = 20): Promise<BenchJournal> {
  const started = performance.now();
  const journal = Journal.open({ path: file });
  const clock = new ManualClock(1_700_000_000_000);
  const registry = builtinMachines();
  journal.appendRun('bench', clock.now(), 'bench', registry.versions());
  const system = new ActorSystem({ journal, clock, registry, random: seededRandom(), run: 'bench' });
  for (const i of connectionWorkload(system, clock, actors)) {
    if (journal.nextSeq > events) break;
    // Group commit as the daemon does it, a turn of the event loop at a time.
    if (i % 5000 === 0) await system.flush();
  }
  await system.flush();
  system.close();
  const recorded = journal.nextSeq - 1;
  journal.close();
  return { file, events: recorded, bytes: statSync(file).size, recordMs: performance.now() - started };
}

export interface ReplayFileBench {
  events: number;
  /** Reading and decoding every record, nothing else. */
  readPerSec: number;
  /** Read + replay through the machines, end to end (what `reagent replay FILE` does). */
  replayPerSec: number;
  verdict: string;
  elapsedMs: number;
}

/** Replay throughput from a journal file (SQLite) or an export (NDJSON). */
export function benchReplayFile(file: string): ReplayFileBench {
  let t = performance.now();
  let n = 0;
  const reading = openRecording(file);
  for (const _ of reading.records()) n++;
  reading.close();
  const readMs = performance.now() - t;

  t = performance.now();
  const recording = openRecording(file);
  const report = replayRecords(recording.records(), { registry: builtinMachines() });
  recording.close();
  const elapsedMs = performance.now() - t;
  return {
    events: report.events,
    readPerSec: Math.round(n / (readMs / 1000)),
    replayPerSec: Math.round(report.events / (elapsedMs / 1000)),
    verdict: report.verdict,
    elapsedMs,
  };
}

export interface BugreportBench {
  events: number;
  bytes: number;
  elapsedMs: number;
  eventsPerSec: number;
}

/** Time to write a whole-journal bug report (read-only, redacted NDJSON, gzip when asked) of `file` to `out`. */
export function benchBugreport(file: string, out: string, gzip = false): BugreportBench {
  const t = performance.now();
  const r = writeBugreport({
    dbFile: file,
    out,
    gzip,
    agentVersion: 'bench',
    registry: builtinMachines(),
    config: { flags: { dbFileName: file } },
    redactor: new Redactor(),
    now: Date.now(),
  });
  const elapsedMs = performance.now() - t;
  return { events: r.events, bytes: r.bytes, elapsedMs, eventsPerSec: Math.round(r.events / (elapsedMs / 1000)) };
}

/** Counts rows per second straight from SQLite, to tell reading cost from replay cost. */
export function benchJournalRead(file: string): { events: number; perSec: number } {
  const t = performance.now();
  const reader = openJournalReader(file);
  let n = 0;
  for (const _ of reader.events({ batch: 5000 })) n++;
  reader.close();
  return { events: n, perSec: Math.round(n / ((performance.now() - t) / 1000)) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const events = Number(process.argv[2] ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'reagent-bench-inspect-'));
  try {
    const j = await createBenchJournal(join(dir, 'reagent.db'), events);
    console.log(`journal: ${j.events} events, ${(j.bytes / 2 ** 20).toFixed(1)} MiB, recorded in ${(j.recordMs / 1000).toFixed(1)} s`);
    console.log('sqlite read:', benchJournalRead(j.file));
    console.log('replay from sqlite:', benchReplayFile(j.file));
    const b = benchBugreport(j.file, join(dir, 'report.ndjson'));
    console.log('bugreport export:', b);
    console.log('replay from export:', benchReplayFile(join(dir, 'report.ndjson')));
    const g = benchBugreport(j.file, join(dir, 'report.ndjson.gz'), true);
    console.log('bugreport export, gzip:', g, `${(b.bytes / g.bytes).toFixed(1)}x smaller`);
    console.log('replay from gzip export:', benchReplayFile(join(dir, 'report.ndjson.gz')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
