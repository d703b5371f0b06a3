// Re-executes a recording for the inspector. `reagent replay` stops at the
// first divergence, which is right for a verdict but leaves a person with
// nothing past it: a bug report whose secrets were redacted diverges at the
// first event that carried one (a DSN, a token), often the third event of
// the run. The walk goes on through every record instead: the actors are
// re-executed wherever this agent can (their contexts are what time travel
// shows), and where it cannot (a machine this agent lacks, or of another
// version) the record is still walked, shown with its recorded state.
//
// The rules for where a run starts (its compaction snapshot) and where a
// journal gap resumes are those of actors/replay.ts, so up to a divergence
// the walk and a replay reach the same contexts.
import { ReplayClock } from '../actors/clock.js';
import { ActorSystem } from '../actors/system.js';
import type { ReplaySnapshot } from '../actors/replay.js';
import { RUNTIME_EVENTS, type Json, type JournalPort, type JournalRecord, type SpawnPayload } from '../actors/types.js';
import type { MachineRegistry } from '../machines/registry.js';

export interface WalkOptions {
  registry: MachineRegistry;
  /** Only this actor's records (as `replay --actor`). */
  actor?: string;
  /** The newest compaction snapshot of each run. */
  snapshots?: ReadonlyMap<string, ReplaySnapshot>;
  /** Every snapshot of the recording (journal gaps resume from them). */
  resumePoints?: readonly ReplaySnapshot[];
}

/** What re-executing one record did, next to what the recording says it did. */
export interface WalkStep {
  record: JournalRecord;
  /** The actor's machine (from its spawn), or null when it never had a known one. */
  machine: string | null;
  /** Whether the machines ran this record (false: the actor is not re-executed, see `notReplayed`). */
  replayed: boolean;
  /** The re-executed outcome differs from the recorded one: "state", "context", "commands" or an error. */
  differs: string | null;
}

/** Why an actor is walked without being re-executed. */
export type NotReplayed = ReadonlyMap<string, string>;

/** Everything a walk needs to continue from here: `Walker.resume` takes it back. */
export interface WalkCheckpoint {
  run: string | null;
  resumeAfter: number;
  actors: Json;
  machines: Array<[string, string]>;
  notReplayed: Array<[string, string]>;
}

/** A journal port for re-execution: it keeps the outcome of the record being run, and stores nothing. */
class OutcomeJournal implements JournalPort {
  outcome: Pick<JournalRecord, 'state' | 'ctx' | 'cmds'> | null = null;
  append(): number {
    throw new Error('the machines produced an event that was never recorded');
  }
  setOutcome(_seq: number, outcome: Pick<JournalRecord, 'state' | 'ctx' | 'cmds'>): void {
    this.outcome = outcome;
  }
  commit(): void {}
}

export class Walker {
  private readonly journal = new OutcomeJournal();
  private system: ActorSystem | null = null;
  private run: string | null = null;
  private resumeAfter = 0;
  /** Machine of every actor seen, stopped ones included (a stop leaves no cell to ask). */
  private readonly machines = new Map<string, string>();
  private readonly notReplayed = new Map<string, string>();

  constructor(private readonly opts: WalkOptions) {}

  /** A walker that continues from `checkpoint`, as if it had walked everything before it. */
  static resume(opts: WalkOptions, checkpoint: WalkCheckpoint): Walker {
    const w = new Walker(opts);
    w.run = checkpoint.run;
    w.resumeAfter = checkpoint.resumeAfter;
    for (const [a, m] of checkpoint.machines) w.machines.set(a, m);
    for (const [a, r] of checkpoint.notReplayed) w.notReplayed.set(a, r);
    if (checkpoint.run !== null) {
      w.system = w.newSystem(checkpoint.run);
      w.system.restore(checkpoint.actors);
    }
    return w;
  }

  /** Walks one record; null when it is not part of the walk (a snapshot covers it, or `actor` names another actor). */
  step(record: JournalRecord): WalkStep | null {
    if (record.run !== this.run) this.openRun(record);
    if (record.type === RUNTIME_EVENTS.journalGap && record.seq > this.resumeAfter) this.resumeAtGap(record);
    if (record.seq <= this.resumeAfter) return null;
    if (this.opts.actor !== undefined && record.actor !== this.opts.actor) return null;
    if (record.type === RUNTIME_EVENTS.spawn) {
      const machine = (record.payload as Partial<SpawnPayload> | null)?.machine;
      if (typeof machine === 'string') this.machines.set(record.actor, machine);
      const refusal = spawnRefusal(record, this.opts.registry);
      if (refusal) this.notReplayed.set(record.actor, refusal);
      else this.notReplayed.delete(record.actor);
    }
    const machine = this.machines.get(record.actor) ?? null;
    const known = machine !== null && this.opts.registry.get(machine) !== undefined;
    if (this.notReplayed.has(record.actor) || this.system === null) {
      return { record, machine: this.notReplayed.has(record.actor) ? null : known ? machine : null, replayed: false, differs: null };
    }
    this.journal.outcome = null;
    let differs: string | null = null;
    try {
      this.system.replayRecord(record);
      differs = compare(record, this.journal.outcome);
    } catch (err) {
      differs = `error: ${err instanceof Error ? err.message : String(err)}`;
    }
    return { record, machine: known ? machine : null, replayed: true, differs };
  }

  /** The re-executed system as it stands (null before the first record). */
  view(): ActorSystem | null {
    return this.system;
  }

  /** Why an actor is not re-executed, by actor. */
  skipped(): NotReplayed {
    return this.notReplayed;
  }

  machineOf(actor: string): string | null {
    return this.machines.get(actor) ?? null;
  }

  checkpoint(): WalkCheckpoint {
    return {
      run: this.run,
      resumeAfter: this.resumeAfter,
      actors: this.system ? this.system.persist() : [],
      machines: [...this.machines],
      notReplayed: [...this.notReplayed],
    };
  }

  close(): void {
    this.system?.close();
    this.system = null;
  }

  private newSystem(run: string): ActorSystem {
    this.system?.close();
    // Replay mode: commands are recorded, never executed; timers fire only from recorded clock events.
    return new ActorSystem({ journal: this.journal, clock: new ReplayClock(), registry: this.opts.registry, random: () => 0, run, replay: true });
  }

  private openRun(record: JournalRecord): void {
    this.run = record.run;
    this.system = this.newSystem(record.run);
    const snap = this.startOf(record);
    this.resumeAfter = snap ? snap.seq : 0;
    if (snap) this.restore(snap);
  }

  /** The events before this note were never written: the actors continue from the snapshot taken at the gap. */
  private resumeAtGap(record: JournalRecord): void {
    const to = (record.payload as { to?: unknown } | null)?.to;
    const seq = typeof to === 'number' ? to : -1;
    const latest = this.opts.snapshots?.get(record.run);
    const snap = latest && latest.seq === seq ? latest : this.opts.resumePoints?.find((s) => s.run === record.run && s.seq === seq);
    // Without one the walk goes on with the actors as they were (replay refuses such a recording).
    if (!snap) return;
    this.system = this.newSystem(record.run);
    this.restore(snap);
  }

  /** Restores the actors this agent can run; the others are walked on their recorded states. */
  private restore(snap: ReplaySnapshot): void {
    const actors = Array.isArray(snap.data) ? (snap.data as Array<{ id?: unknown; machine?: unknown; version?: unknown }>) : [];
    const usable: Json[] = [];
    for (const a of actors) {
      const id = String(a.id);
      const name = typeof a.machine === 'string' ? a.machine : null;
      if (name) this.machines.set(id, name);
      const def = name ? this.opts.registry.get(name) : undefined;
      if (!def) this.notReplayed.set(id, `machine "${String(a.machine)}" is not part of this agent`);
      else if (a.version !== def.version) this.notReplayed.set(id, `recorded with machine "${def.name}" v${String(a.version)}, this agent has v${def.version}`);
      else {
        this.notReplayed.delete(id);
        usable.push(a as Json);
      }
    }
    this.system!.restore(usable);
  }

  /** The newest snapshot of the record's run that covers everything before it (as replay chooses it). */
  private startOf(record: JournalRecord): ReplaySnapshot | undefined {
    let best: ReplaySnapshot | undefined;
    const latest = this.opts.snapshots?.get(record.run);
    for (const s of [...(latest ? [latest] : []), ...(this.opts.resumePoints ?? [])]) {
      if (s.run === record.run && s.seq <= record.seq && (!best || s.seq > best.seq)) best = s;
    }
    return best;
  }
}

function spawnRefusal(record: JournalRecord, registry: MachineRegistry): string | undefined {
  const p = record.payload as Partial<SpawnPayload> | null;
  const name = typeof p?.machine === 'string' ? p.machine : undefined;
  if (!name) return 'its spawn names no machine';
  const def = registry.get(name);
  if (!def) return `machine "${name}" is not part of this agent`;
  if (p?.version !== def.version) return `recorded with machine "${name}" v${String(p?.version)}, this agent has v${def.version}`;
  return undefined;
}

function compare(rec: JournalRecord, actual: Pick<JournalRecord, 'state' | 'ctx' | 'cmds'> | null): string | null {
  if (!actual) return null;
  if (rec.state !== actual.state) return 'state';
  if (rec.ctx !== null && rec.ctx !== actual.ctx) return 'context';
  if (rec.cmds.length !== actual.cmds.length || rec.cmds.some((c, i) => c !== actual.cmds[i])) return 'commands';
  return null;
}
