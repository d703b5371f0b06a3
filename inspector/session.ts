// What one inspector shows: a live actor system, or a replayed recording.
// Both feed the same steps (every event with the actor's state after it)
// into the timeline, the Stately feed and the page's live updates, and both
// answer "what was this actor's context right after that event" (time
// travel): a replay by re-executing from a checkpoint, a live daemon from
// the bounded history of contexts it saw change.
import type { AnyStateMachine } from 'xstate';
import type { ActorSystem, Transition } from '../actors/system.js';
import { RUNTIME_EVENTS, type Json, type JournalRecord, type SpawnPayload } from '../actors/types.js';
import type { ReplayReport } from '../actors/replay.js';
import type { MachineRegistry } from '../machines/registry.js';
import { actorLabel } from './actor-labels.js';
import { activePaths, chartOf, resolveDelays, type Chart } from './chart.js';
import { LiveContexts, type LiveContextBudget } from './live-contexts.js';
import { ReplayContexts, type CheckpointBudget } from './replay-contexts.js';
import type { WalkOptions } from './replay-walk.js';
import { StatelyFeed } from './stately.js';
import { Timeline, type TimelineInput } from './timeline.js';

export type InspectorMode = 'live' | 'replay';

export interface InspectorSessionOptions {
  mode: InspectorMode;
  registry: MachineRegistry;
  run: string;
  agentVersion: string;
  /** A line for the page's header: the file being replayed, the device name. */
  title: string;
  /** Redacts anything leaving the process (payloads, contexts). */
  scrub?: (value: unknown) => unknown;
  /** Live: the timeline keeps at most this many events (default 200 000). */
  maxRows?: number;
  /** Live: bound of the history of contexts kept for time travel. */
  contextBudget?: LiveContextBudget;
}

/** An actor as the page lists it. */
export interface ActorInfo {
  id: string;
  machine: string | null;
  /** How many events it had: the page shows the busiest first. */
  events: number;
  /** A name a person recognises (a gateway session's connection and user), or null. */
  label: string | null;
  /** Replay: why this actor is shown on its recorded states only, without re-execution. */
  notReplayed: string | null;
}

/** One actor's context right after one event, or why there is none. */
export interface ContextDetail {
  actor: string;
  row: number | null;
  context: Json | null;
  unavailable: string | null;
  /** Something to know about the context shown (a replay that differs from the recording from some event on). */
  note: string | null;
  delays: Record<string, number>;
  status: string;
}

/** What the page is told about a replay's outcome. */
export interface ReplaySummary {
  line: string;
  report: Omit<ReplayReport, 'elapsedMs'> & { elapsedMs?: number };
}

type SnapshotRef = { status?: unknown; value?: unknown; context?: unknown };

/** The part of a live system or replay the session reads snapshots from. */
export interface SnapshotSource {
  snapshot(actorId: string): unknown;
}

export class InspectorSession {
  readonly mode: InspectorMode;
  readonly run: string;
  readonly agentVersion: string;
  readonly title: string;
  readonly timeline: Timeline;
  readonly stately: StatelyFeed;
  replay: ReplaySummary | null = null;
  private readonly registry: MachineRegistry;
  private readonly charts = new Map<string, Chart>();
  private readonly scrub: (value: unknown) => unknown;
  /** The latest snapshot of every actor (by reference: XState never mutates them). */
  private readonly latest = new Map<string, { machine: string | null; snapshot: SnapshotRef | undefined }>();
  private readonly listeners = new Set<() => void>();
  private readonly labels = new Map<string, string>();
  private readonly live: LiveContexts | null;
  private replayed: ReplayContexts | null = null;
  private notReplayed: ReadonlyMap<string, string> = new Map();
  private readonly seen = new Set<string>();
  /** Replay: per actor, the first event whose re-executed outcome differs from the recorded one. */
  private readonly differs = new Map<string, { seq: number; reason: string }>();
  /** Replay: actors whose recorded events had secrets redacted (a bug report). */
  private readonly redacted = new Set<string>();
  /** Actors with events since the last `takeActivity`, and whether the list itself (actors, labels) changed. */
  private active = new Set<string>();
  private actorsChanged = false;

  constructor(opts: InspectorSessionOptions) {
    this.mode = opts.mode;
    this.run = opts.run;
    this.agentVersion = opts.agentVersion;
    this.title = opts.title;
    this.registry = opts.registry;
    this.scrub = opts.scrub ?? ((v) => v);
    this.timeline = new Timeline(opts.mode === 'live' ? (opts.maxRows ?? 200_000) : Number.POSITIVE_INFINITY);
    this.live = opts.mode === 'live' ? new LiveContexts(opts.contextBudget) : null;
    const machines = new Map<string, AnyStateMachine>(opts.registry.list().map((d) => [d.name, d.logic]));
    this.stately = new StatelyFeed({ rootId: `reagent:${opts.run}`, machines, scrub: opts.scrub });
  }

  /**
   * Fills the timeline with history from the journal (recorded outcomes, no
   * re-execution), so a live inspector opened late still shows how the actors
   * got where they are.
   */
  seed(records: Iterable<JournalRecord>): number {
    const machines = new Map<string, string>();
    let n = 0;
    for (const r of records) {
      if (r.type === RUNTIME_EVENTS.spawn) machines.set(r.actor, String((r.payload as Partial<SpawnPayload>)?.machine ?? ''));
      const machine = machines.get(r.actor) || null;
      this.noteSpawn(r.actor, machine, r.type, r.payload);
      this.timeline.append({ seq: r.seq, at: r.at, actor: r.actor, machine, source: r.source, type: r.type, payload: this.scrubPayload(r.payload), state: r.state, commands: r.cmds, history: true });
      n++;
    }
    return n;
  }

  /**
   * Replay: walks a recording (re-executing what this agent can, past any
   * divergence) into the timeline, keeping checkpoints so the context at
   * any event can be rebuilt. Every record of the walk becomes a row, with
   * its recorded state.
   */
  load(records: Iterable<JournalRecord>, opts: WalkOptions, budget?: CheckpointBudget): ReplayContexts {
    const contexts = new ReplayContexts(opts, budget);
    const notReplayed = new Map<string, string>();
    contexts.load(records, (step, _row, walker) => {
      const r = step.record;
      const skipped = step.replayed ? undefined : walker.skipped().get(r.actor);
      if (skipped !== undefined) notReplayed.set(r.actor, skipped);
      if ((r as { redacted?: unknown }).redacted === true) this.redacted.add(r.actor);
      if (step.differs && !this.differs.has(r.actor)) this.differs.set(r.actor, { seq: r.seq, reason: step.differs });
      this.noteSpawn(r.actor, step.machine, r.type, r.payload);
      const payload = this.scrubPayload(r.payload);
      this.timeline.append({
        seq: r.seq,
        at: r.at,
        actor: r.actor,
        machine: step.machine,
        source: r.source,
        type: r.type,
        payload,
        state: r.state,
        commands: r.cmds,
        differs: step.differs !== null,
      });
      const snapshot = step.replayed ? (walker.view()?.snapshot(r.actor) as SnapshotRef | undefined) : undefined;
      this.stately.record({ seq: r.seq, at: r.at, actor: r.actor, machine: step.machine, source: r.source, type: r.type, payload, snapshot });
    });
    this.replayed = contexts;
    this.notReplayed = notReplayed;
    return contexts;
  }

  /** Follows a live system from now on. Returns the unsubscribe. */
  attach(system: ActorSystem, now = 0): () => void {
    // Contexts of actors alive now hold for the last event read from the journal; earlier ones were never seen.
    const row = this.timeline.length - 1;
    this.live?.attached(this.timeline.length);
    for (const id of system.actorIds()) {
      const machine = system.machineOf(id)?.name ?? null;
      const snapshot = system.snapshot(id) as SnapshotRef | undefined;
      this.latest.set(id, { machine, snapshot });
      this.timeline.declareActor(id, machine, snapshot ? JSON.stringify(snapshot.value) : null);
      this.live?.note(id, row, snapshot?.context ?? null);
      this.seen.add(id);
      this.actorsChanged = true;
      this.setLabel(id, actorLabel(machine, snapshot?.context));
      if (machine) this.stately.declare(id, machine, snapshot, now);
    }
    return system.subscribe((t) => this.record(t, system));
  }

  /** One dispatched event and where it left its actor. */
  record(t: Transition, source: SnapshotSource): void {
    const known = this.latest.get(t.actor);
    // A stop leaves no actor to ask, but the page and Stately still need to know whose it was.
    const machine = t.machine ?? (t.type === RUNTIME_EVENTS.stop ? (known?.machine ?? null) : null);
    const snapshot = t.machine === null ? undefined : (source.snapshot(t.actor) as SnapshotRef | undefined);
    if (machine !== null) this.latest.set(t.actor, { machine, snapshot });
    this.noteSpawn(t.actor, machine, t.type, t.payload);
    const payload = this.scrubPayload(t.payload);
    const input: TimelineInput = {
      seq: t.seq,
      at: t.at,
      actor: t.actor,
      machine,
      source: t.source,
      type: t.type,
      payload,
      state: t.state,
      commands: t.commands.map((c) => c.type),
    };
    const row = this.timeline.append(input);
    // An event for an actor that does not exist (journaled, not dispatched) leaves no context to note.
    if (t.type === RUNTIME_EVENTS.stop) this.live?.note(t.actor, row, null);
    else if (t.machine !== null) this.live?.note(t.actor, row, snapshot?.context ?? null);
    this.stately.record({ seq: t.seq, at: t.at, actor: t.actor, machine, source: t.source, type: t.type, payload, snapshot });
    for (const l of this.listeners) l();
  }

  /** Every actor seen, with its activity and label. */
  actorList(): ActorInfo[] {
    return this.timeline.actorList().map((a) => ({ ...a, label: this.labels.get(a.id) ?? null, notReplayed: this.notReplayed.get(a.id) ?? null }));
  }

  /**
   * What changed since the last call, for the page's batched updates: the
   * event counts of actors that had events, and whether the list itself did.
   */
  takeActivity(): { actorsChanged: boolean; events: Record<string, number> } {
    const events: Record<string, number> = {};
    if (this.active.size) {
      const counts = new Map(this.timeline.actorList().map((a) => [a.id, a.events]));
      for (const id of this.active) events[id] = counts.get(id) ?? 0;
    }
    const out = { actorsChanged: this.actorsChanged, events };
    this.active = new Set();
    this.actorsChanged = false;
    return out;
  }

  /** Called (synchronously) after every recorded step; the server batches its pushes. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  chart(machine: string): Chart | undefined {
    let c = this.charts.get(machine);
    if (!c) {
      const def = this.registry.get(machine);
      if (!def) return undefined;
      c = chartOf(def.name, def.version, def.logic);
      this.charts.set(machine, c);
    }
    return c;
  }

  machineVersions(): Record<string, number> {
    return this.registry.versions();
  }

  /**
   * An actor's context (redacted) right after the event at `row`, with its
   * machine's delays resolved with it; without `row`, its newest context.
   */
  detail(actor: string, row?: number): ContextDetail | null {
    // A replay's newest context is the one after its last event.
    if (row === undefined && this.replayed) row = this.timeline.length - 1;
    if (row === undefined || row < 0) return this.latestDetail(actor);
    const state = this.timeline.stateAt(row).find((s) => s.actor === actor);
    const machine = state?.machine ?? this.latest.get(actor)?.machine ?? null;
    const base = { actor, row, note: null, delays: {}, status: state === undefined ? 'not spawned' : state.state === null ? 'stopped' : 'active' };
    const answer = this.contextAt(actor, row);
    if ('unavailable' in answer) return { ...base, context: null, unavailable: answer.unavailable };
    const raw = JSON.parse(answer.context) as unknown;
    const def = machine ? this.registry.get(machine) : undefined;
    return {
      ...base,
      context: (this.scrub(raw) ?? null) as Json,
      unavailable: null,
      note: answer.note ?? null,
      delays: def ? resolveDelays(def.logic, raw) : {},
    };
  }

  private contextAt(actor: string, row: number): { context: string; note?: string } | { unavailable: string } {
    if (row < this.timeline.first || row >= this.timeline.length) return { unavailable: `event #${row} is not in the timeline` };
    if (this.live) return this.live.at(actor, row);
    if (!this.replayed) return { unavailable: 'no recording was loaded' };
    let at = this.replayed.at(row);
    const notReplayed = at.notReplayed.get(actor);
    if (notReplayed) return { unavailable: `${actor} is shown on its recorded states only, without its context: ${notReplayed}` };
    let context = at.contexts.get(actor);
    let stopped: string | undefined;
    if (context === undefined) {
      const here = this.timeline.stateAt(row).find((s) => s.actor === actor);
      if (!here) return { unavailable: 'the actor did not exist yet at this event' };
      // Stopped: show what it held right before its stop (a gateway session lives a few seconds).
      if (here.state === null && here.since > this.timeline.first) {
        at = this.replayed.at(here.since - 1);
        context = at.contexts.get(actor);
        stopped = `${actor} stopped at event #${here.since}; this is its context when it stopped.`;
      }
      if (context === undefined) return { unavailable: `${actor} had stopped by this event` };
    }
    const seq = this.timeline.get(row)?.seq ?? Number.POSITIVE_INFINITY;
    const d = this.differs.get(actor);
    if (!d || d.seq > seq) return stopped ? { context, note: stopped } : { context };
    const why = this.redacted.has(actor)
      ? ' Secrets were redacted from its recorded events (a bug report), which changes what re-execution computes: expected.'
      : '';
    return { context, note: `${stopped ? `${stopped} ` : ''}From seq ${d.seq} on, re-executing ${actor} gives another ${d.reason} than the recording; this is the re-executed context.${why}` };
  }

  private latestDetail(actor: string): ContextDetail | null {
    const l = this.latest.get(actor);
    if (!l || !l.machine) return null;
    const def = this.registry.get(l.machine);
    const context = l.snapshot?.context;
    return {
      actor,
      row: null,
      context: (this.scrub(JSON.parse(JSON.stringify(context ?? null) ?? 'null')) ?? null) as Json,
      unavailable: null,
      note: null,
      delays: def && context !== undefined ? resolveDelays(def.logic, context) : {},
      status: l.snapshot ? String(l.snapshot.status ?? 'active') : 'stopped',
    };
  }

  /** Frees what a replay keeps for rebuilding contexts. */
  close(): void {
    this.replayed?.close();
  }

  /** Every actor's state after `row`, with the state paths to highlight. */
  stateAt(row: number) {
    return this.timeline.stateAt(row).map((s) => {
      const value = s.state === null ? null : (JSON.parse(s.state) as unknown);
      return { ...s, value, active: value === null ? [] : activePaths(value) };
    });
  }

  /** Keeps the label of a spawned actor (from its input) and marks what the page must hear about. */
  private noteSpawn(actor: string, machine: string | null, type: string, payload: Json): void {
    if (!this.seen.has(actor)) {
      this.seen.add(actor);
      this.actorsChanged = true;
    }
    this.active.add(actor);
    if (type !== RUNTIME_EVENTS.spawn) return;
    const input = (payload as Partial<SpawnPayload> | null)?.input;
    this.setLabel(actor, actorLabel(machine, input));
    this.actorsChanged = true;
  }

  private setLabel(actor: string, label: string | null): void {
    if (label === null) return;
    const safe = String(this.scrub(label));
    if (this.labels.get(actor) === safe) return;
    this.labels.set(actor, safe);
    this.actorsChanged = true;
  }

  private scrubPayload(payload: Json): Json {
    // Most payloads are empty or tiny; a redactor pass is only worth it when there is text in them.
    if (payload === null || typeof payload !== 'object') return typeof payload === 'string' ? (this.scrub(payload) as Json) : payload;
    if (Array.isArray(payload) ? payload.length === 0 : Object.keys(payload).length === 0) return payload;
    return this.scrub(payload) as Json;
  }
}
