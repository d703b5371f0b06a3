// Replay throughput: record a long run of connection actors on virtual time,
// then fold it back through the machines and count events per second.
import { ActorSystem } from '../actors/system.js';
import { ManualClock } from '../actors/clock.js';
import { replayRecords } from '../actors/replay.js';
import { builtinMachines } from '../machines/registry.js';
import type { Json, JournalPort, JournalRecord, NewJournalRecord } from '../actors/types.js';

class ArrayJournal implements JournalPort {
  readonly records: JournalRecord[] = [];
  append(r: NewJournalRecord): number {
    const seq = this.records.length + 1;
    this.records.push({ ...r, seq });
    return seq;
  }
  setOutcome(seq: number, o: Pick<JournalRecord, 'state' | 'ctx' | 'cmds'>): void {
    const r = this.records[seq - 1]!;
    r.state = o.state;
    r.ctx = o.ctx;
    r.cmds = o.cmds;
  }
  commit(): void {}
}

/**
 * A realistic mix on `actors` connection actors: links that connect, ping,
 * pong, drop and back off. Yields after each step so callers decide when it is
 * enough and when to commit.
 */
export function* connectionWorkload(system: ActorSystem, clock: ManualClock, actors = 20): Generator<number> {
  let s = 42;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const policy: Json = { connectTimeoutMs: 1250, pingIntervalMs: 5000, resetAfterMs: 60_000, backoff: { initialMs: 1000, maxMs: 30_000, multiplier: 2, jitter: 0.2 } };
  for (let a = 0; a < actors; a++) system.spawn(`link${a}`, 'connection', { link: 'net', policy });
  for (let a = 0; a < actors; a++) system.send(`link${a}`, 'net', 'START');
  for (let i = 0; ; i++) {
    const a = `link${i % actors}`;
    const r = random();
    if (r < 0.3) system.send(a, 'net', 'CONNECTED');
    else if (r < 0.7) system.send(a, 'net', 'PONG');
    else if (r < 0.8) system.send(a, 'net', 'DISCONNECTED', { reason: 'eof' });
    else if (r < 0.85) system.send(a, 'net', 'CONNECT_FAILED', { reason: 'refused' });
    else clock.advance(Math.floor(random() * 3000));
    yield i;
  }
}

/** Seeded randomness for the runtime, so every bench run records the same history. */
export function seededRandom(seed = 7): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

export function recordConnectionRun(events: number, actors = 20): JournalRecord[] {
  const journal = new ArrayJournal();
  const clock = new ManualClock(1_700_000_000_000);
  const system = new ActorSystem({ journal, clock, registry: builtinMachines(), random: seededRandom(), run: 'bench', replay: false });
  for (const _ of connectionWorkload(system, clock, actors)) if (journal.records.length >= events) break;
  system.close();
  return journal.records.slice(0, events);
}

export function benchReplay(events: number): { events: number; eventsPerSec: number; verdict: string } {
  const records = recordConnectionRun(events);
  const report = replayRecords(records, { registry: builtinMachines() });
  return { events: report.events, eventsPerSec: Math.round(report.events / (report.elapsedMs / 1000)), verdict: report.verdict };
}
