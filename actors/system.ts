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
  type Command,
  type Json,
  type JournalPort,
  type JournalRecord,
  type SpawnPayload,
} from './types.js';

export type CommandHandler = (command: Command, actorId: string) => void | Promise<void>;

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
  private readonly handlers = new Map<string, CommandHandler>();
  private readonly listeners = new Set<(t: Transition) => void>();
  private readonly mailbox: Inbound[] = [];
  private dispatching = false;
  private readonly outbox: Array<{ command: Command; actor: string }> = [];
  private commitScheduled = false;
  private commitFailures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: ActorSystemOptions) {}

  get run(): string {
    return this.opts.run;
  }

  /** Routes commands whose type starts with `<prefix>.` to `handler`. */
  handle(prefix: string, handler: CommandHandler): () => void {
    if (this.handlers.has(prefix)) throw new Error(`commands "${prefix}.*" already have a handler`);
    this.handlers.set(prefix, handler);
    return () => this.handlers.delete(prefix);
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

  /** Commits the journal and runs the commands waiting for it. Tests and shutdown await it. */
  async flush(): Promise<void> {
    this.commitNow();
    await Promise.resolve();
  }

  /** Stops every actor (cancelling their timers) and commits. Commands still queued are dropped. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const cell of this.cells.values()) {
      cell.ref.stop();
      for (const t of cell.timers.values()) this.opts.clock.clearTimer(t.handle);
    }
    this.cells.clear();
    this.outbox.length = 0;
    try {
      this.opts.journal.commit();
    } catch (err) {
      this.opts.logger?.error({ err }, 'journal commit at close failed; the last events are lost');
    }
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
    const seq = item.seq ?? this.opts.journal.append({
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
    if (!this.opts.replay) for (const command of emitted) this.outbox.push({ command, actor: item.actor });
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

  private scheduleCommit(): void {
    if (this.commitScheduled || this.opts.replay) return;
    this.commitScheduled = true;
    setImmediate(() => this.commitNow());
  }

  /** Group commit, then the commands: an effect never runs before its cause is durable. */
  private commitNow(): void {
    this.commitScheduled = false;
    // close() committed already, and the journal may be closed by now.
    if (this.opts.replay || this.closed) return;
    try {
      this.opts.journal.commit();
    } catch (err) {
      // Disk full, I/O error, a reader holding the lock too long: the journal
      // keeps its buffer, and the commands wait, because an effect must never
      // run before its cause is durable. Retry shortly.
      if (this.commitFailures++ === 0) this.opts.logger?.error({ err }, 'journal commit failed; commands wait until it succeeds');
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.commitNow();
        }, Math.min(30_000, 250 * 2 ** Math.min(this.commitFailures, 7)));
      }
      return;
    }
    if (this.commitFailures > 0) {
      this.opts.logger?.warn({ failures: this.commitFailures }, 'journal commit succeeded again');
      this.commitFailures = 0;
    }
    const ready = this.outbox.splice(0);
    for (const { command, actor } of ready) this.execute(command, actor);
  }

  private execute(command: Command, actor: string): void {
    const dot = command.type.indexOf('.');
    const prefix = dot < 0 ? command.type : command.type.slice(0, dot);
    const handler = this.handlers.get(prefix);
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
