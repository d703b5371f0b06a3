// What one inspector shows: a live actor system, or a replayed recording.
// Both feed the same steps (every dispatched event with the actor's state
// after it) into the timeline, the Stately feed and the page's live updates.
import type { AnyStateMachine } from 'xstate';
import type { ActorSystem, Transition } from '../actors/system.js';
import { RUNTIME_EVENTS, type Json, type JournalRecord, type SpawnPayload } from '../actors/types.js';
import type { ReplayReport } from '../actors/replay.js';
import type { MachineRegistry } from '../machines/registry.js';
import { activePaths, chartOf, resolveDelays, type Chart } from './chart.js';
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

  constructor(opts: InspectorSessionOptions) {
    this.mode = opts.mode;
    this.run = opts.run;
    this.agentVersion = opts.agentVersion;
    this.title = opts.title;
    this.registry = opts.registry;
    this.scrub = opts.scrub ?? ((v) => v);
    this.timeline = new Timeline(opts.mode === 'live' ? (opts.maxRows ?? 200_000) : Number.POSITIVE_INFINITY);
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
      this.timeline.append({ seq: r.seq, at: r.at, actor: r.actor, machine, source: r.source, type: r.type, payload: this.scrubPayload(r.payload), state: r.state, commands: r.cmds });
      n++;
    }
    return n;
  }

  /** Follows a live system from now on. Returns the unsubscribe. */
  attach(system: ActorSystem, now = 0): () => void {
    for (const id of system.actorIds()) {
      const machine = system.machineOf(id)?.name ?? null;
      const snapshot = system.snapshot(id) as SnapshotRef | undefined;
      this.latest.set(id, { machine, snapshot });
      this.timeline.declareActor(id, machine, snapshot ? JSON.stringify(snapshot.value) : null);
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
    this.timeline.append(input);
    this.stately.record({ seq: t.seq, at: t.at, actor: t.actor, machine, source: t.source, type: t.type, payload, snapshot });
    for (const l of this.listeners) l();
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

  /** The newest context of an actor (redacted) and its machine's delays resolved with it. */
  detail(actor: string): { context: Json; delays: Record<string, number>; status: string } | null {
    const l = this.latest.get(actor);
    if (!l || !l.machine) return null;
    const def = this.registry.get(l.machine);
    const context = l.snapshot?.context;
    return {
      context: (this.scrub(JSON.parse(JSON.stringify(context ?? null) ?? 'null')) ?? null) as Json,
      delays: def && context !== undefined ? resolveDelays(def.logic, context) : {},
      status: l.snapshot ? String(l.snapshot.status ?? 'active') : 'stopped',
    };
  }

  /** Every actor's state after `row`, with the state paths to highlight. */
  stateAt(row: number) {
    return this.timeline.stateAt(row).map((s) => {
      const value = s.state === null ? null : (JSON.parse(s.state) as unknown);
      return { ...s, value, active: value === null ? [] : activePaths(value) };
    });
  }

  private scrubPayload(payload: Json): Json {
    // Most payloads are empty or tiny; a redactor pass is only worth it when there is text in them.
    if (payload === null || typeof payload !== 'object') return typeof payload === 'string' ? (this.scrub(payload) as Json) : payload;
    if (Array.isArray(payload) ? payload.length === 0 : Object.keys(payload).length === 0) return payload;
    return this.scrub(payload) as Json;
  }
}
