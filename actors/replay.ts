// Re-executes recorded events through the machines on virtual time and checks
// that every recorded outcome (state value, context hash, emitted commands) is
// reproduced. The live ActorSystem does the work; only the journal port
// differs: here it compares instead of writing.
import { ReplayClock } from './clock.js';
import { ActorSystem, ReplayMismatch, type Transition } from './system.js';
import { RUNTIME_EVENTS, type Json, type JournalPort, type JournalRecord, type NewJournalRecord, type SpawnPayload } from './types.js';
import { versionRefusal, type MachineRegistry } from '../machines/registry.js';

export interface Outcome {
  state: string | null;
  ctx: number | null;
  cmds: string[];
}

export interface Divergence {
  seq: number;
  run: string;
  actor: string;
  machine: string | null;
  type: string;
  expected: Outcome;
  actual: Outcome;
  /** What differs, in words: "state", "context", "commands", or an error. */
  reason: string;
  /**
   * The export this came from had secrets removed from this actor's events or
   * snapshot before this point: a context difference is then expected, not a bug.
   */
  redacted?: boolean;
}

export interface ReplayReport {
  verdict: 'reproduced' | 'diverged' | 'refused';
  events: number;
  runs: number;
  elapsedMs: number;
  divergence?: Divergence;
  /** Why a recording was refused (machine missing or of another version). */
  refusal?: string;
}

export interface ReplaySnapshot {
  run: string;
  /** The last event whose effect the snapshot includes; replay resumes after it. */
  seq: number;
  data: Json;
  /** Contexts in `data` were redacted (an export): context hashes may not match. */
  redacted?: boolean;
}

/** What an observer of a replay may look at after each step. */
export type ReplayView = Pick<ActorSystem, 'snapshot' | 'machineOf' | 'actorIds'>;

export interface ReplayOptions {
  registry: MachineRegistry;
  /** Stop after this sequence number (inclusive). */
  until?: number;
  /** Replay only this actor's events. Actors share nothing inside the runtime, so this is exact. */
  actor?: string;
  /** Compaction snapshots to start runs from, by run id. */
  snapshots?: Map<string, ReplaySnapshot>;
  /**
   * Every snapshot of the recording: a run with a journal gap (events never
   * written while the disk was full) resumes from the snapshot at the gap's end.
   */
  resumePoints?: readonly ReplaySnapshot[];
  /** Called after each replayed event (the inspector's time travel uses it). */
  onStep?: (t: Transition, system: ReplayView) => void;
  /** Called once at the end, before the actors stop: the last run's state (bug reports persist it). */
  atEnd?: (system: ActorSystem, report: Omit<ReplayReport, 'elapsedMs'>) => void;
}

class Stop extends Error {}

function sameList(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A journal port that checks outcomes against the recording instead of storing them. */
class ComparingJournal implements JournalPort {
  current: JournalRecord | undefined;
  divergence: Divergence | undefined;
  machineOf: (actor: string) => string | null = () => null;

  /** Replay hands recorded sequence numbers to the system, so nothing new is ever appended. */
  append(_record: NewJournalRecord): number {
    throw new ReplayMismatch('the machines produced an event that was never recorded');
  }

  setOutcome(seq: number, actual: Outcome): void {
    const rec = this.current;
    if (!rec || rec.seq !== seq) return;
    let reason: string | undefined;
    if (rec.state !== actual.state) reason = 'state';
    else if (rec.ctx !== null && rec.ctx !== actual.ctx) reason = 'context';
    else if (!sameList(rec.cmds, actual.cmds)) reason = 'commands';
    if (!reason) return;
    const expected: Outcome = { state: rec.state, ctx: rec.ctx, cmds: rec.cmds };
    this.divergence = {
      seq,
      run: rec.run,
      actor: rec.actor,
      machine: this.machineOf(rec.actor),
      type: rec.type,
      expected,
      actual,
      reason,
    };
    throw new Stop();
  }

  commit(): void {}
}

export function replayRecords(records: Iterable<JournalRecord>, opts: ReplayOptions): ReplayReport {
  const started = performance.now();
  const journal = new ComparingJournal();
  let system: ActorSystem | undefined;
  let run: string | undefined;
  let runs = 0;
  let events = 0;
  let resumeAfter = 0;
  // Actors whose recorded inputs were redacted (export scrubbing): their contexts may legitimately differ.
  const redacted = new Set<string>();
  const finish = (r: Omit<ReplayReport, 'events' | 'runs' | 'elapsedMs'>): ReplayReport => {
    if (r.divergence && redacted.has(r.divergence.actor)) r.divergence.redacted = true;
    if (system && opts.atEnd) opts.atEnd(system, { ...r, events, runs });
    system?.close();
    return { ...r, events, runs, elapsedMs: performance.now() - started };
  };

  /** A fresh system for `runId`, from `snap` when given; a refusal when the snapshot cannot be used. */
  const openRun = (runId: string, snap: ReplaySnapshot | undefined): string | undefined => {
    system?.close();
    const sys = new ActorSystem({
      journal,
      clock: new ReplayClock(),
      registry: opts.registry,
      random: () => 0,
      run: runId,
      replay: true,
    });
    journal.machineOf = (actor) => sys.machineOf(actor)?.name ?? null;
    system = sys;
    if (snap) {
      const refusal = checkSnapshot(snap, opts.registry);
      if (refusal) return refusal;
      sys.restore(snap.data);
      if (snap.redacted) for (const id of sys.actorIds()) redacted.add(id);
    }
    const onStep = opts.onStep;
    if (onStep) sys.subscribe((t) => onStep(t, sys));
    return undefined;
  };

  for (const rec of records) {
    if (opts.until !== undefined && rec.seq > opts.until) break;
    if (rec.run !== run) {
      run = rec.run;
      runs++;
      // A compacted run (or a bug report's slice) lost its early events: start from the snapshot that replaced them.
      const snap = startingPoint(opts, rec.run, rec.seq);
      resumeAfter = snap ? snap.seq : 0;
      const refusal = openRun(rec.run, snap);
      if (refusal) return finish({ verdict: 'refused', refusal });
    }
    if (rec.type === RUNTIME_EVENTS.journalGap && rec.seq > resumeAfter) {
      // The events before this note were never written: the actors continue from the snapshot taken at the gap.
      const to = (rec.payload as { to?: unknown } | null)?.to;
      const snap = findResumePoint(opts, rec.run, typeof to === 'number' ? to : -1);
      if (!snap) {
        return finish({
          verdict: 'refused',
          refusal: `record ${rec.seq}: run ${rec.run} has a journal gap (events up to seq ${String(to)} were never written while the journal could not commit) and the recording has no snapshot at seq ${String(to)} to resume from`,
        });
      }
      const refusal = openRun(rec.run, snap);
      if (refusal) return finish({ verdict: 'refused', refusal });
    }
    if (rec.seq <= resumeAfter) continue;
    if (opts.actor !== undefined && rec.actor !== opts.actor) continue;
    const malformed = checkRecord(rec);
    if (malformed) return finish({ verdict: 'refused', refusal: malformed });
    if (rec.type === RUNTIME_EVENTS.spawn) {
      const refusal = checkSpawn(rec, opts.registry);
      if (refusal) return finish({ verdict: 'refused', refusal });
    }
    if ((rec as { redacted?: boolean }).redacted) redacted.add(rec.actor);
    journal.current = rec;
    events++;
    try {
      system!.replayRecord(rec);
    } catch (err) {
      if (err instanceof Stop) return finish({ verdict: 'diverged', divergence: journal.divergence! });
      const message = err instanceof Error ? err.message : String(err);
      return finish({
        verdict: 'diverged',
        divergence: {
          seq: rec.seq,
          run: rec.run,
          actor: rec.actor,
          machine: journal.machineOf(rec.actor),
          type: rec.type,
          expected: { state: rec.state, ctx: rec.ctx, cmds: rec.cmds },
          actual: { state: null, ctx: null, cmds: [] },
          reason: `error: ${message}`,
        },
      });
    }
  }
  return finish({ verdict: 'reproduced' });
}

/** The newest snapshot of `run` that covers everything before its first record here (seq `first`). */
function startingPoint(opts: ReplayOptions, run: string, first: number): ReplaySnapshot | undefined {
  let best: ReplaySnapshot | undefined;
  const latest = opts.snapshots?.get(run);
  for (const s of [...(latest ? [latest] : []), ...(opts.resumePoints ?? [])]) {
    if (s.run === run && s.seq <= first && (!best || s.seq > best.seq)) best = s;
  }
  return best;
}

function findResumePoint(opts: ReplayOptions, run: string, seq: number): ReplaySnapshot | undefined {
  const latest = opts.snapshots?.get(run);
  if (latest && latest.seq === seq) return latest;
  return opts.resumePoints?.find((s) => s.run === run && s.seq === seq);
}

/** A spawn of a machine this agent lacks, or of another version, cannot be replayed faithfully. */
/**
 * Records read back are the one untyped way into the runtime (typed sends
 * cover the rest): what no agent writes (an event without a type, a payload
 * that is not an object) is refused here, with the reason, before an actor sees it.
 */
function checkRecord(rec: JournalRecord): string | undefined {
  if (typeof rec.type !== 'string' || rec.type === '') return `record ${rec.seq}: an event without a type`;
  if (typeof rec.actor !== 'string') return `record ${rec.seq}: ${rec.type} names no actor`;
  const p: unknown = rec.payload;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return `record ${rec.seq}: ${rec.type} for ${rec.actor} has a payload that is not an object (${p === null ? 'null' : Array.isArray(p) ? 'an array' : typeof p})`;
  return undefined;
}

function checkSpawn(rec: JournalRecord, registry: MachineRegistry): string | undefined {
  const p = rec.payload as Partial<SpawnPayload> | null;
  const name = typeof p?.machine === 'string' ? p.machine : undefined;
  if (!name) return `record ${rec.seq}: spawn of ${rec.actor} names no machine`;
  const def = registry.get(name);
  if (!def) return `record ${rec.seq}: machine "${name}" is not part of this agent`;
  if (p?.version !== def.version) {
    const why = versionRefusal(def, p?.version);
    if (why.startsWith('recorded before')) return `record ${rec.seq}: ${rec.actor} was ${why}`;
    return (
      `record ${rec.seq}: ${rec.actor} was recorded with machine "${name}" v${String(p?.version)}, ` +
      `this agent has v${def.version}; replay it with the agent version that recorded it, or re-record`
    );
  }
  return undefined;
}

function checkSnapshot(snap: ReplaySnapshot, registry: MachineRegistry): string | undefined {
  const actors = Array.isArray(snap.data) ? (snap.data as Array<{ id?: unknown; machine?: unknown; version?: unknown }>) : [];
  for (const a of actors) {
    const def = typeof a.machine === 'string' ? registry.get(a.machine) : undefined;
    if (!def) return `snapshot at seq ${snap.seq}: machine "${String(a.machine)}" is not part of this agent`;
    if (a.version !== def.version) {
      const why = versionRefusal(def, a.version);
      if (why.startsWith('recorded before')) return `snapshot at seq ${snap.seq}: ${String(a.id)} was ${why}`;
      return `snapshot at seq ${snap.seq}: ${String(a.id)} was recorded with machine "${def.name}" v${String(a.version)}, this agent has v${def.version}`;
    }
  }
  return undefined;
}

/** One human line for a report: what the CLI prints. */
export function describeReport(r: ReplayReport): string {
  const rate = r.elapsedMs > 0 ? Math.round((r.events / r.elapsedMs) * 1000) : r.events;
  if (r.verdict === 'reproduced') {
    return `reproduced: ${r.events} events in ${r.runs} run(s) replayed, every recorded state matched (${rate} events/s)`;
  }
  if (r.verdict === 'refused') return `refused: ${r.refusal}`;
  const d = r.divergence!;
  return (
    `diverged at seq ${d.seq} (run ${d.run}): actor ${d.actor} (machine ${d.machine ?? '?'}) on ${d.type}: ` +
    `${d.reason} differs; expected state ${d.expected.state} cmds [${d.expected.cmds.join(', ')}], ` +
    `got state ${d.actual.state} cmds [${d.actual.cmds.join(', ')}]` +
    (d.redacted ? ' (secrets were redacted from this actor\'s recorded events, which changes its context: expected for a bug report)' : '')
  );
}
