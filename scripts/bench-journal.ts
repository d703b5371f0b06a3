// How much the journal costs over bare SQLite, on this machine, in one run.
//
// raw:    node-sqlite3-wasm, the journal's own schema and pragmas, rows already
//         serialised, one prepared INSERT, one transaction for everything
//         (the fastest the driver can go; one fsync in total).
// append: Journal.append for every record plus commit() every GROUP records
//         (1024 by default: the runtime commits once per event-loop turn, so a
//         burst that arrives in one turn is one transaction; JSON encoding and
//         the fsyncs of every commit are included).
// rawGroupCommit: the raw loop, but committing every GROUP rows like append.
//         append / rawGroupCommit is the journal's own overhead; raw /
//         rawGroupCommit is what the fsyncs of synchronous=FULL cost (three per
//         commit in rollback-journal mode), which no code here can remove.
//
// Each variant runs ROUNDS times, interleaved, after a warm-up; medians count,
// because fsync latency on shared disks varies a lot from one call to the next.
// Usage: node --import tsx scripts/bench-journal.ts [events]

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import sqlite3 from 'node-sqlite3-wasm';
import type { NewJournalRecord } from '../actors/types.js';
import { Journal } from '../adapters/store/journal.js';
import { MIGRATIONS } from '../adapters/store/migrations.js';

export interface BenchJournalResult {
  appendPerSec: number;
  rawInsertPerSec: number;
  /** appendPerSec / rawInsertPerSec; the target is >= 0.5. */
  ratio: number;
  /** The raw loop committing every `group` rows: the ceiling for group commit of that size. */
  rawGroupCommitPerSec: number;
  group: number;
  /**
   * What one commit costs on this disk, from the two raw loops:
   * (1/rawGroupCommit - 1/raw) x group. Three fsyncs with synchronous=FULL.
   */
  commitMs: number;
}

const DEFAULT_GROUP = 1024;
const ROUNDS = 5;

function record(i: number): NewJournalRecord {
  return {
    run: 'bench-run',
    at: 1_700_000_000_000 + i,
    source: i % 2 === 0 ? 'wamp' : 'clock',
    actor: `studio-link-${i % 4}`,
    type: 'wamp.message',
    payload: { topic: 'reswarm.api.device.status', seq: i, args: [i % 100, 'ok', { cpu: 0.25, mem: 1024 }] },
    rand: (i % 997) / 997,
    state: '{"connected":"idle"}',
    ctx: (i * 2654435761) >>> 0,
    cmds: i % 5 === 0 ? ['wamp.publish'] : [],
  };
}

function rawRow(seq: number, r: NewJournalRecord): (string | number | null)[] {
  return [seq, r.run, r.at, r.source, r.actor, r.type, JSON.stringify(r.payload), r.rand, r.state, r.ctx, JSON.stringify(r.cmds)];
}

function removeDb(path: string): void {
  for (const f of [path, `${path}-journal`]) rmSync(f, { force: true });
  rmSync(`${path}.lock`, { recursive: true, force: true });
}

function timeRaw(path: string, rows: (string | number | null)[][], group = rows.length): number {
  removeDb(path);
  const db = new sqlite3.Database(path);
  try {
    db.exec('PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL');
    for (const m of MIGRATIONS) db.exec(m.sql);
    const insert = db.prepare('INSERT INTO events (seq, run, at, source, actor, type, payload, rand, state, ctx, cmds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    try {
      const t0 = performance.now();
      for (let start = 0; start < rows.length; start += group) {
        db.exec('BEGIN IMMEDIATE');
        const end = Math.min(rows.length, start + group);
        for (let i = start; i < end; i++) insert.run(rows[i]!);
        db.exec('COMMIT');
      }
      return (performance.now() - t0) / 1000;
    } finally {
      insert.finalize();
    }
  } finally {
    db.close();
    removeDb(path);
  }
}

function timeAppend(path: string, records: NewJournalRecord[], group: number): number {
  removeDb(path);
  const journal = Journal.open({ path });
  try {
    const t0 = performance.now();
    let n = 0;
    for (const r of records) {
      journal.append(r);
      if (++n % group === 0) journal.commit();
    }
    journal.commit();
    return (performance.now() - t0) / 1000;
  } finally {
    journal.close();
    removeDb(path);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function benchJournal(opts: { events: number; dir: string; group?: number }): Promise<BenchJournalResult> {
  const GROUP = opts.group ?? DEFAULT_GROUP;
  if (!Number.isInteger(opts.events) || opts.events < GROUP) {
    throw new RangeError(`benchJournal: events must be an integer >= ${GROUP}, got ${opts.events}`);
  }
  mkdirSync(opts.dir, { recursive: true });
  const path = join(opts.dir, 'bench-journal.db');
  const records = Array.from({ length: opts.events }, (_, i) => record(i));
  const rows = records.map((r, i) => rawRow(i + 1, r));

  const warm = Math.max(GROUP, Math.floor(opts.events / 10));
  timeRaw(path, rows.slice(0, warm));
  timeAppend(path, records.slice(0, warm), GROUP);

  const raw: number[] = [];
  const append: number[] = [];
  const rawGroup: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    raw.push(timeRaw(path, rows));
    await yieldToLoop();
    append.push(timeAppend(path, records, GROUP));
    await yieldToLoop();
    rawGroup.push(timeRaw(path, rows, GROUP));
    await yieldToLoop();
  }
  const rawInsertPerSec = opts.events / median(raw);
  const appendPerSec = opts.events / median(append);
  const rawGroupCommitPerSec = opts.events / median(rawGroup);
  const commitMs = (1 / rawGroupCommitPerSec - 1 / rawInsertPerSec) * GROUP * 1000;
  return { appendPerSec, rawInsertPerSec, ratio: appendPerSec / rawInsertPerSec, rawGroupCommitPerSec, group: GROUP, commitMs };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const events = Number(process.argv[2] ?? 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'reagent-bench-journal-'));
  try {
    const r = await benchJournal({ events, dir });
    console.log(
      `journal bench, ${events} events: append ${Math.round(r.appendPerSec)}/s, raw insert ${Math.round(r.rawInsertPerSec)}/s, ` +
        `ratio ${r.ratio.toFixed(2)} (target >= 0.5); raw with a commit every ${DEFAULT_GROUP}: ${Math.round(r.rawGroupCommitPerSec)}/s ` +
        `(append reaches ${((r.appendPerSec / r.rawGroupCommitPerSec) * 100).toFixed(0)}% of it)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
