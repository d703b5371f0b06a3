// The actor system: one XState actor per id, every inbound event journaled
// before it is dispatched, commands handed to adapters only after the event
// that caused them is durable. The same class runs live and in replay; replay
// just feeds recorded time, randomness and timer firings instead of real ones.
import { createActor, type AnyActorRef, type AnyStateMachine } from 'xstate';
import type { Clock, TimerHandle } from './clock.js';
import { contextHash } from './context-hash.js';
import type { MachineDefinition, MachineRegistry } from '../machines/registry.js';
import {
  RUNTIME_EVENTS,
  RUNTIME_NOTES,
  type Command,
  type Json,
  type JournalPort,
  type JournalRecord,
  type SpawnPayload,
} from './types.js';

export type CommandHandler = (command: Command, actorId: string) => void | Promise<void>;

export interface CommandOptions {
  /**
   * Commands that may run while their cause is not durable yet, because the
   * journal cannot commit (disk full): those that keep the device reachable
   * (a link's connect, disconnect, ping). Every other command waits for its
   * cause to be committed. Each early run is journaled (`@runtime.ran-before-durable`).
   * Normally, with commits succeeding, these commands wait like any other.
   */
  beforeDurable?: boolean | ((command: Command) => boolean);
}

/** Default bound of the memory held for records the journal could not commit yet. */
export const DEFAULT_MAX_PENDING_BYTES = 8 * 1024 * 1024;

/** Longest pause between two commit attempts while the journal is failing. */
const MAX_RETRY_MS = 5000;

/** What subscribers (links, the inspector) learn after every dispatched event. */
export interface Transition {
  seq: number;
  actor: string;
  machine: string | null;
  source: string;
  type: string;
  at: number;
  payload: Json;
  state: string | null;
  commands: Command[];
}

export interface SystemLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ActorSystemOptions {
  journal: JournalPort;
  clock: Clock;
  registry: MachineRegistry;
  /** Uniform [0, 1): the only randomness machines see, journaled with each event. */
  random: () => number;
  run: string;
  logger?: SystemLogger;
  /** Replay mode: commands are recorded but never executed and timers never fire by themselves. */
  replay?: boolean;
  /**
   * Bound of the memory held for records not yet committed (journals that can
   * tell, see `JournalPort.pendingBytes`). When commits keep failing and it
   * is reached, those records are dropped, the commands they held back run,
   * and a replay of this run resumes from a snapshot taken there. Default 8 MiB.
   */
  maxPendingBytes?: number;
}

interface PendingTimer {
  /** XState's scheduled-event id: for `after` transitions it is also the event type. */
  id: string;
  event: { type: string; at?: number; rand?: number };
  fire: () => void;
  handle: TimerHandle;
}

interface Cell {
  id: string;
  definition: MachineDefinition;
  ref: AnyActorRef;
  timers: Map<string, PendingTimer>;
  /** Commands emitted by the event being dispatched right now. */
  emitted: Command[];
  /** Outcome encodings of the last snapshot: XState keeps value and context objects when nothing changed. */
  lastValue: unknown;
  lastState: string | null;
  lastContext: unknown;
  lastCtx: number | null;
}

interface Queued {
  command: Command;
  actor: string;
  /** The record that caused it. */
  seq: number;
}

interface Registered {
  handler: CommandHandler;
  beforeDurable: (command: Command) => boolean;
}

/** Records dropped at the memory bound, and the picture of the actors that replaces them. */
interface Gap {
  from: number;
  to: number;
  count: number;
  at: number;
  data: Json;
}

interface Inbound {
  actor: string;
  source: string;
  type: string;
  payload: Json;
  /** Recorded values in replay; drawn from the clock and `random` live. */
  at?: number;
  rand?: number;
  seq?: number;
}

const NO_COMMANDS: Command[] = [];

type ScheduledEvent = { id: string; event: { type: string } };

/**
 * The event XState is scheduling right now: its scheduler records it just
 * before it calls the clock. Read from the system's own table when XState
 * exposes it (no copy: this runs for every `after` state entered, live and in
 * replay), else from the public snapshot, which copies the table.
 */
function lastScheduled(ref: AnyActorRef): ScheduledEvent | undefined {
  const system = ref.system as { _snapshot?: { _scheduledEvents?: Record<string, ScheduledEvent> } };
  const table = system._snapshot?._scheduledEvents ?? (ref.system.getSnapshot()._scheduledEvents as Record<string, ScheduledEvent>);
  let last: ScheduledEvent | undefined;
  for (const key in table) last = table[key];
  return last;
}

/** Thrown in replay when the machines do something the recording did not. */
export class ReplayMismatch extends Error {}

export class ActorSystem {
  private readonly cells = new Map<string, Cell>();
  private readonly handlers = new Map<string, Registered>();
  private readonly listeners = new Set<(t: Transition) => void>();
  private readonly mailbox: Inbound[] = [];
  private dispatching = false;
  private outbox: Queued[] = [];
  private commitScheduled = false;
  private commitFailures = 0;
  private lastCommitError = '';
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Seq of the newest record appended, and of the newest known to be committed. */
  private lastAppended = 0;
  private lastCommitted = 0;
  private readonly durableWaiters: Array<{ seq: number; resolve: (durable: boolean) => void }> = [];
  private gap: Gap | null = null;

  constructor(private readonly opts: ActorSystemOptions) {}

  get run(): string {
    return this.opts.run;
  }

  /** Routes commands whose type starts with `<prefix>.` to `handler`. */
  handle(prefix: string, handler: CommandHandler, options: CommandOptions = {}): () => void {
    if (this.handlers.has(prefix)) throw new Error(`commands "${prefix}.*" already have a handler`);
    const early = options.beforeDurable;
    const beforeDurable = typeof early === 'function' ? early : () => early === true;
    const entry: Registered = { handler, beforeDurable };
    this.handlers.set(prefix, entry);
    return () => {
      if (this.handlers.get(prefix) === entry) this.handlers.delete(prefix);
    };
  }

  /** Whether the last commit attempt failed (disk full, I/O error): commands then wait, link commands excepted. */
  get journalFailing(): boolean {
    return this.commitFailures > 0;
  }

  /**
   * Resolves true once every record appended so far is committed, false if
   * they never will be (dropped at the memory bound, or the system closed)
   * or `waitMs` passed first. Adapters that must not tell a peer something
   * before it is on record (an exec's exit code) wait for it.
   */
  durable(waitMs?: number): Promise<boolean> {
    if (this.opts.replay || this.lastAppended <= this.lastCommitted) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    if (this.retryTimer && this.durableWaiters.length === 0) {
      // A waiter now: the next attempt comes soon rather than after the failure backoff.
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.commitNow();
      }, 250);
    }
    return new Promise((resolve) => {
      const waiter: { seq: number; resolve: (durable: boolean) => void } = { seq: this.lastAppended, resolve };
      this.durableWaiters.push(waiter);
      if (waitMs === undefined) return;
      const timer = setTimeout(() => {
        // Given up: no longer a reason to retry often.
        const i = this.durableWaiters.indexOf(waiter);
        if (i >= 0) this.durableWaiters.splice(i, 1);
        resolve(false);
      }, waitMs);
      waiter.resolve = (durable: boolean) => {
        clearTimeout(timer);
        resolve(durable);
      };
    });
  }

  subscribe(listener: (t: Transition) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  has(actorId: string): boolean {
    return this.cells.has(actorId);
  }

  actorIds(): string[] {
    return [...this.cells.keys()];
  }

  /** The live XState snapshot of an actor (read-only use). */
  snapshot(actorId: string): ReturnType<AnyActorRef['getSnapshot']> | undefined {
    return this.cells.get(actorId)?.ref.getSnapshot();
  }

  machineOf(actorId: string): MachineDefinition | undefined {
    return this.cells.get(actorId)?.definition;
  }

  /** Starts an actor. Journaled, so a replay spawns it with the same input. */
  spawn(actorId: string, machine: string, input: Json, source = 'runtime'): void {
    const def = this.opts.registry.get(machine);
    if (!def) throw new Error(`unknown machine "${machine}"`);
    const payload: SpawnPayload = { machine, version: def.version, input };
    this.enqueue({ actor: actorId, source, type: RUNTIME_EVENTS.spawn, payload });
  }

  stop(actorId: string, source = 'runtime'): void {
    this.enqueue({ actor: actorId, source, type: RUNTIME_EVENTS.stop, payload: {} });
  }

  /** An adapter's event for an actor. The payload must be JSON: it is what replay sees. */
  send(actorId: string, source: string, type: string, payload: { [key: string]: Json } = {}): void {
    this.enqueue({ actor: actorId, source, type, payload });
  }

  /** Replay: re-dispatches one journal record with its recorded time and randomness. */
  replayRecord(record: JournalRecord): void {
    // A record already has the shape of an inbound item; replay is single-threaded, so no mailbox.
    this.dispatch(record);
  }

  /** Commits the journal (one attempt even while commits fail) and runs the commands waiting for it. Tests and shutdown await it. */
  async flush(): Promise<void> {
    this.commitNow(true);
    await Promise.resolve();
  }

  /** Stops every actor (cancelling their timers) and commits. Commands still queued are dropped. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const cell of this.cells.values()) {
      cell.ref.stop();
      for (const t of cell.timers.values()) this.opts.clock.clearTimer(t.handle);
    }
    this.cells.clear();
    this.outbox.length = 0;
    if (!this.opts.replay) {
      const pending = this.lastAppended - this.lastCommitted;
      try {
        this.opts.journal.commit();
        this.lastCommitted = this.lastAppended;
        this.writeGapSnapshot();
      } catch (err) {
        this.opts.logger?.error({ events: pending, reason: errorText(err) }, `journal: the last ${pending} event(s) could not be written at close and are lost: ${errorText(err)}`);
      }
    }
    this.settleWaiters();
  }

  /**
   * A persistable picture of every actor: XState's persisted snapshot plus the
   * timers it is waiting for. Written by compaction so a replay can start there.
   */
  persist(): Json {
    return [...this.cells.values()].map((c) => ({
      id: c.id,
      machine: c.definition.name,
      version: c.definition.version,
      snapshot: c.ref.getPersistedSnapshot() as unknown as Json,
      timers: [...c.timers.values()].map((t) => ({ id: t.id, type: t.event.type })),
    }));
  }

  /** Replay from a compaction snapshot: recreates the actors without re-running entry actions. */
  restore(data: Json): void {
    if (!Array.isArray(data)) throw new Error('snapshot data: expected an array of actors');
    for (const entry of data) {
      const e = entry as { id: string; machine: string; snapshot: Json; timers: Array<{ id: string; type: string }> };
      const def = this.opts.registry.get(e.machine);
      if (!def) throw new Error(`snapshot names unknown machine "${e.machine}"`);
      const cell = this.createCell(e.id, def, undefined, e.snapshot);
      // Starting a restored actor does not re-run entry actions, so its timers are re-registered by hand.
      cell.ref.start();
      for (const t of e.timers) {
        const event = { type: t.type };
        cell.timers.set(t.id, {
          id: t.id,
          event,
          handle: { id: -1 },
          fire: () => cell.ref.send(event),
        });
      }
    }
  }

  private enqueue(item: Inbound): void {
    if (this.closed) return;
    this.mailbox.push(item);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.mailbox.shift(); next; next = this.mailbox.shift()) this.dispatch(next);
    } finally {
      this.dispatching = false;
    }
    this.scheduleCommit();
  }

  private dispatch(item: Inbound): void {
    const at = item.at ?? this.opts.clock.now();
    const rand = item.rand ?? this.opts.random();
    const seq = item.seq ?? this.appendLive({
      run: this.opts.run,
      at,
      source: item.source,
      actor: item.actor,
      type: item.type,
      payload: item.payload,
      rand,
      state: null,
      ctx: null,
      cmds: [],
    });

    let cell = this.cells.get(item.actor);
    const note = RUNTIME_NOTES.has(item.type);
    if (item.type === RUNTIME_EVENTS.spawn) {
      if (cell) {
        this.opts.logger?.warn({ actor: item.actor }, 'spawn of an actor that already exists; ignored');
      } else {
        const p = item.payload as SpawnPayload;
        const def = this.opts.registry.get(p.machine);
        if (!def) throw new ReplayMismatch(`record ${seq}: unknown machine "${p.machine}"`);
        cell = this.createCell(item.actor, def, p.input);
        cell.ref.start();
      }
    } else if (item.type === RUNTIME_EVENTS.stop) {
      if (cell) {
        cell.ref.stop();
        for (const t of cell.timers.values()) this.opts.clock.clearTimer(t.handle);
        this.cells.delete(item.actor);
        cell = undefined;
      }
    } else if (note) {
      // The runtime's own note on the record: the actor never sees it.
    } else if (cell) {
      if (item.source === 'clock') this.fire(cell, item.type, at, rand);
      else cell.ref.send({ ...(item.payload as object), type: item.type, at, rand });
    } else {
      this.opts.logger?.warn({ actor: item.actor, type: item.type }, 'event for an unknown actor; journaled, not dispatched');
    }

    const emitted = cell && cell.emitted.length ? cell.emitted.splice(0) : NO_COMMANDS;
    const state = cell ? this.encodeOutcome(cell) : null;
    this.opts.journal.setOutcome(seq, {
      state,
      ctx: cell ? cell.lastCtx : null,
      cmds: emitted.length ? emitted.map((c) => c.type) : [],
    });
    // Replay never executes commands: queueing them would only hold memory until close().
    if (!this.opts.replay) for (const command of emitted) this.outbox.push({ command, actor: item.actor, seq });
    if (this.listeners.size) {
      const t: Transition = {
        seq,
        actor: item.actor,
        machine: cell?.definition.name ?? null,
        source: item.source,
        type: item.type,
        at,
        payload: item.payload,
        state,
        commands: emitted,
      };
      for (const l of this.listeners) l(t);
    }
  }

  /** Encodes state value and context hash, reusing the last encoding when XState kept the objects. */
  private encodeOutcome(cell: Cell): string {
    const snap = cell.ref.getSnapshot() as { value: unknown; context: unknown };
    if (snap.value !== cell.lastValue || cell.lastState === null) {
      cell.lastValue = snap.value;
      cell.lastState = JSON.stringify(snap.value);
    }
    if (snap.context !== cell.lastContext || cell.lastCtx === null) {
      cell.lastContext = snap.context;
      cell.lastCtx = contextHash(snap.context);
    }
    return cell.lastState;
  }

  /** Fires a pending XState timer, stamping the event with the time and randomness of its record. */
  private fire(cell: Cell, type: string, at: number, rand: number): void {
    let timer: PendingTimer | undefined;
    for (const t of cell.timers.values()) if (t.event.type === type) timer = t;
    // A timer cancelled after it came due but before its record was dispatched
    // is a no-op, live and in replay alike, so both see the same thing.
    if (!timer) return;
    cell.timers.delete(timer.id);
    timer.event.at = at;
    timer.event.rand = rand;
    timer.fire();
  }

  private createCell(id: string, definition: MachineDefinition, input: Json | undefined, snapshot?: Json): Cell {
    const cell: Cell = {
      id,
      definition,
      ref: undefined as unknown as AnyActorRef,
      timers: new Map(),
      emitted: [],
      lastValue: undefined,
      lastState: null,
      lastContext: undefined,
      lastCtx: null,
    };
    const clock = this.xstateClock(cell);
    const logic = definition.logic as AnyStateMachine;
    cell.ref = createActor(logic, {
      id,
      input,
      clock,
      ...(snapshot !== undefined ? { snapshot: snapshot as never } : {}),
      logger: () => {},
    });
    cell.ref.on('*', (emitted: Command) => {
      cell.emitted.push(emitted);
    });
    cell.ref.subscribe({
      error: (err: unknown) => this.opts.logger?.error({ actor: id, err }, 'actor failed'),
    });
    this.cells.set(id, cell);
    return cell;
  }

  /**
   * The clock XState schedules delayed transitions on. When a timer comes due
   * it is not dispatched directly: it becomes a `clock` event that is journaled
   * first, like any other inbound event.
   */
  private xstateClock(cell: Cell) {
    return {
      setTimeout: (fn: () => void, ms: number) => {
        const scheduled = lastScheduled(cell.ref);
        const id = scheduled?.id ?? `timer-${cell.timers.size}`;
        const event = scheduled?.event ?? { type: id };
        const timer: PendingTimer = { id, event, fire: fn, handle: { id: -1 } };
        timer.handle = this.opts.clock.setTimer(() => {
          if (cell.timers.get(id) !== timer) return;
          this.enqueue({ actor: cell.id, source: 'clock', type: event.type, payload: { timer: id } });
        }, ms);
        cell.timers.set(id, timer);
        return timer;
      },
      clearTimeout: (timer: PendingTimer) => {
        if (!timer) return;
        this.opts.clock.clearTimer(timer.handle);
        if (cell.timers.get(timer.id) === timer) cell.timers.delete(timer.id);
      },
    };
  }

  private appendLive(record: Parameters<JournalPort['append']>[0]): number {
    const seq = this.opts.journal.append(record);
    this.lastAppended = seq;
    return seq;
  }

  private scheduleCommit(): void {
    if (this.commitScheduled || this.opts.replay) return;
    this.commitScheduled = true;
    setImmediate(() => this.commitNow());
  }

  /**
   * Group commit, then the commands: an effect never runs before its cause
   * is durable. While commits fail (a retry is pending), only the retry
   * timer (or `force`) tries again; meanwhile the commands that keep the
   * device reachable run anyway, and the memory held is bounded.
   */
  private commitNow(force = false): void {
    this.commitScheduled = false;
    // close() committed already, and the journal may be closed by now.
    if (this.opts.replay || this.closed) return;
    if (this.retryTimer && !force) {
      this.whileFailing();
      return;
    }
    try {
      this.opts.journal.commit();
    } catch (err) {
      this.commitFailed(err);
      return;
    }
    this.lastCommitted = this.lastAppended;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.commitFailures > 0) {
      this.opts.logger?.warn({ failures: this.commitFailures }, 'journal commit succeeded again');
      this.commitFailures = 0;
    }
    this.writeGapSnapshot();
    this.settleWaiters();
    const ready = this.outbox.splice(0);
    for (const { command, actor } of ready) this.execute(command, actor);
  }

  private commitFailed(err: unknown): void {
    // Disk full, I/O error, a reader holding the lock too long: the journal
    // keeps its buffer, and the commands wait, because an effect must never
    // run before its cause is durable; link commands excepted (whileFailing).
    this.lastCommitError = errorText(err);
    if (this.commitFailures++ === 0) {
      // The reason, not the stack: the journal names the cause (disk full), a stack of SQLite's wasm says nothing more.
      this.opts.logger?.error({ reason: this.lastCommitError }, `journal commit failed; commands wait until it succeeds, except those that keep the links up: ${this.lastCommitError}`);
    }
    if (!this.retryTimer) {
      // Someone waits for durability (an exec's exit code): try often, a failing attempt on a full disk is cheap.
      const backoff = Math.min(MAX_RETRY_MS, 250 * 2 ** Math.min(this.commitFailures - 1, 5));
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.commitNow();
      }, this.durableWaiters.length > 0 ? 250 : backoff);
    }
    this.whileFailing();
  }

  private whileFailing(): void {
    this.runBeforeDurable();
    this.enforceBound();
  }

  /** Runs the queued commands that keep the device reachable, and journals that they ran early. */
  private runBeforeDurable(): void {
    if (this.outbox.length === 0) return;
    const waiting: Queued[] = [];
    const ran: Queued[] = [];
    for (const q of this.outbox) (this.mayRunEarly(q.command) ? ran : waiting).push(q);
    if (ran.length === 0) return;
    this.outbox = waiting;
    const notes = new Map<number, { actor: string; commands: string[] }>();
    for (const q of ran) {
      const note = notes.get(q.seq) ?? { actor: q.actor, commands: [] };
      note.commands.push(q.command.type);
      notes.set(q.seq, note);
    }
    for (const [cause, note] of notes) {
      this.enqueue({ actor: note.actor, source: 'runtime', type: RUNTIME_EVENTS.ranBeforeDurable, payload: { cause, commands: note.commands } });
    }
    for (const { command, actor } of ran) this.execute(command, actor);
  }

  private mayRunEarly(command: Command): boolean {
    const entry = this.handlers.get(prefixOf(command.type));
    return entry !== undefined && entry.beforeDurable(command);
  }

  /**
   * The memory bound: when the records the journal holds for a commit that
   * keeps failing reach it, they are dropped. Their causes will never be
   * durable, so the commands they held back run now. A picture of every
   * actor, taken now, is written as a snapshot once the journal commits
   * again: a replay of this run resumes there instead of diverging at the gap.
   */
  private enforceBound(): void {
    const journal = this.opts.journal;
    const max = this.opts.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    if (!journal.pendingBytes || !journal.discardPending || !journal.writeSnapshot) return;
    const bytes = journal.pendingBytes();
    if (bytes < max) return;
    const dropped = journal.discardPending();
    if (!dropped) return;
    const data = this.persist();
    this.gap = {
      from: this.gap?.from ?? dropped.from,
      to: dropped.to,
      count: (this.gap?.count ?? 0) + dropped.count,
      at: this.opts.clock.now(),
      data,
    };
    // Nothing before `to` will ever be committed now.
    this.lastCommitted = Math.max(this.lastCommitted, dropped.to);
    this.settleWaiters(dropped.to);
    const held = this.outbox.splice(0);
    this.opts.logger?.error(
      { events: dropped.count, bytes, maxBytes: max, from: dropped.from, to: dropped.to, commands: held.length, reason: this.lastCommitError },
      `journal: ${dropped.count} events (${Math.round(bytes / 1024)} KiB) waited in memory for a commit that keeps failing (${this.lastCommitError}) ` +
        `and reached the bound of ${Math.round(max / 1024)} KiB: they are dropped, the ${held.length} command(s) they held back run now, ` +
        `and a replay of this run will resume from a snapshot at seq ${dropped.to} once the journal writes again`,
    );
    this.enqueue({
      actor: 'journal',
      source: 'runtime',
      type: RUNTIME_EVENTS.journalGap,
      payload: { from: this.gap.from, to: dropped.to, events: this.gap.count, reason: this.lastCommitError },
    });
    for (const { command, actor } of held) this.execute(command, actor);
  }

  /** After a gap, the first successful commit stores the snapshot replay resumes from. */
  private writeGapSnapshot(): void {
    const gap = this.gap;
    if (!gap || !this.opts.journal.writeSnapshot) return;
    try {
      this.opts.journal.writeSnapshot(this.opts.run, gap.to, gap.at, gap.data);
    } catch (err) {
      this.opts.logger?.error({ reason: errorText(err) }, `journal: the snapshot after the gap could not be written yet (${errorText(err)}); trying again at the next commit`);
      return;
    }
    this.gap = null;
    this.opts.logger?.warn(
      { from: gap.from, to: gap.to, events: gap.count },
      `journal writes again; ${gap.count} event(s) between seq ${gap.from} and ${gap.to} were never recorded, and a replay of this run resumes from the snapshot at seq ${gap.to}`,
    );
  }

  /** Resolves the durable() waiters: true up to what is committed, false for what never will be (`lostUpTo`) or at close. */
  private settleWaiters(lostUpTo = 0): void {
    if (this.durableWaiters.length === 0) return;
    const still: typeof this.durableWaiters = [];
    for (const w of this.durableWaiters) {
      if (w.seq <= lostUpTo) w.resolve(false);
      else if (w.seq <= this.lastCommitted) w.resolve(true);
      else if (this.closed) w.resolve(false);
      else still.push(w);
    }
    this.durableWaiters.splice(0, this.durableWaiters.length, ...still);
  }

  private execute(command: Command, actor: string): void {
    const handler = this.handlers.get(prefixOf(command.type))?.handler;
    if (!handler) {
      this.opts.logger?.warn({ actor, command: command.type }, 'no adapter handles this command; dropped');
      return;
    }
    try {
      const result = handler(command, actor);
      if (result && typeof (result as Promise<void>).catch === 'function') {
        (result as Promise<void>).catch((err: unknown) =>
          this.opts.logger?.error({ actor, command: command.type, err }, 'command failed'),
        );
      }
    } catch (err) {
      this.opts.logger?.error({ actor, command: command.type, err }, 'command failed');
    }
  }
}

function prefixOf(type: string): string {
  const dot = type.indexOf('.');
  return dot < 0 ? type : type.slice(0, dot);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
