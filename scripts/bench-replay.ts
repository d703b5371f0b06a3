// Replay throughput: record a long run of connection actors on virtual time,
// then fold it back through the machines and count events per second.
import { createActor, type AnyActorRef } from 'xstate';
import { ActorSystem } from '../actors/system.js';
import type { LooseCatalog } from '../actors/contracts.js';
import { ManualClock } from '../actors/clock.js';
import { replayRecords } from '../actors/replay.js';
import { builtinMachines } from '../machines/registry.js';
import { RUNTIME_EVENTS, type Json, type JournalPort, type JournalRecord, type NewJournalRecord, type SpawnPayload } from '../actors/types.js';

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
export function* connectionWorkload(system: ActorSystem<LooseCatalog>, clock: ManualClock, actors = 20): Generator<number> {
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
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry: builtinMachines(), random: seededRandom(), run: 'bench', replay: false });
  for (const _ of connectionWorkload(system, clock, actors)) if (journal.records.length >= events) break;
  system.close();
  return journal.records.slice(0, events);
}

/**
 * The ceiling the runtime is measured against: bare XState, `createActor` +
 * `send` over the same recorded events, and nothing else (no journal, no
 * outcome encoding, no comparison, no timer bookkeeping). A timer record is
 * sent as the event XState would have delivered (its type is XState's
 * `xstate.after.*` event); XState's own timers never fire. Returns the final
 * state values, so the bench can check both did the same work.
 */
export function bareXStateReplay(records: readonly JournalRecord[]): { elapsedMs: number; states: Map<string, string> } {
  const registry = builtinMachines();
  let timerIds = 0;
  const clock = { setTimeout: () => ++timerIds, clearTimeout: () => {} };
  const t0 = performance.now();
  const actors = new Map<string, AnyActorRef>();
  for (const rec of records) {
    if (rec.type === RUNTIME_EVENTS.spawn) {
      const p = rec.payload as SpawnPayload;
      actors.set(rec.actor, createActor(registry.get(p.machine)!.logic, { input: p.input, clock, logger: () => {} }).start());
    } else if (rec.type === RUNTIME_EVENTS.stop) {
      actors.get(rec.actor)?.stop();
      actors.delete(rec.actor);
    } else if (rec.source === 'clock') {
      actors.get(rec.actor)?.send({ type: rec.type });
    } else {
      actors.get(rec.actor)?.send({ ...(rec.payload as object), type: rec.type, at: rec.at, rand: rec.rand });
    }
  }
  const elapsedMs = performance.now() - t0;
  const states = new Map([...actors].map(([id, a]) => [id, JSON.stringify(a.getSnapshot().value)]));
  for (const a of actors.values()) a.stop();
  return { elapsedMs, states };
}

export interface ReplayBench {
  events: number;
  verdict: string;
  /** Best round: the one least disturbed by other load on a shared machine. */
  eventsPerSec: number;
  xstateEventsPerSec: number;
  /** Every round, for the ranges. */
  rounds: { runtime: number[]; xstate: number[] };
  /** runtime / bare XState, from the best rounds of each. */
  ratio: number;
  /** Both ended with every actor in the same state. */
  sameStates: boolean;
}

/** Replay through the runtime vs bare XState over the same recording, interleaved `rounds` times. */
export function benchReplay(events: number, rounds = 2): ReplayBench {
  const records = recordConnectionRun(events);
  const runtime: number[] = [];
  const xstate: number[] = [];
  let verdict = 'reproduced';
  let sameStates = true;
  for (let i = 0; i < rounds; i++) {
    const bare = bareXStateReplay(records);
    xstate.push(Math.round(records.length / (bare.elapsedMs / 1000)));
    let last: Map<string, string> | undefined;
    const report = replayRecords(records, {
      registry: builtinMachines(),
      atEnd: (system) => {
        last = new Map(system.actorIds().map((id) => [id, JSON.stringify(system.snapshot(id)?.value)]));
      },
    });
    runtime.push(Math.round(report.events / (report.elapsedMs / 1000)));
    if (report.verdict !== 'reproduced') verdict = report.verdict;
    if (!last || last.size !== bare.states.size || [...bare.states].some(([id, s]) => last!.get(id) !== s)) sameStates = false;
  }
  const eventsPerSec = Math.max(...runtime);
  const xstateEventsPerSec = Math.max(...xstate);
  return { events: records.length, verdict, eventsPerSec, xstateEventsPerSec, rounds: { runtime, xstate }, ratio: eventsPerSec / xstateEventsPerSec, sameStates };
}
