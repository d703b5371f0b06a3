// The vocabulary shared by the runtime, the journal and the adapters.
// Machines never see these envelopes: they receive `MachineEvent`s (payload +
// type + the runtime's time and randomness), and they answer with commands.

/** JSON that can be stored in the journal and compared byte for byte in replay. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * What a machine receives. `at` is the runtime clock's time (ms since epoch, or
 * virtual ms in replay) and `rand` a number in [0, 1) drawn by the runtime and
 * recorded, so backoff jitter is reproducible. Timer events raised by XState
 * (`xstate.after.*`) carry neither: machines must not rely on them there.
 */
export interface MachineEvent {
  type: string;
  at: number;
  rand: number;
  [key: string]: unknown;
}

/**
 * A side effect a machine asks for. Machines `emit()` these; the runtime hands
 * them to the adapter that registered the command's type prefix (the part
 * before the first dot, e.g. `wamp` for `wamp.connect`), after the event that
 * caused them is durable in the journal. Results come back as events.
 */
export interface Command {
  type: string;
  [key: string]: unknown;
}

/** Where an inbound event came from: an adapter name, `clock` for timers, `runtime` for spawn/stop. */
export type EventSource = string;

/** One row of the journal. `state`, `ctx` and `cmds` are the outcome, recorded for replay. */
export interface JournalRecord {
  seq: number;
  run: string;
  at: number;
  source: EventSource;
  actor: string;
  type: string;
  payload: Json;
  rand: number;
  /** JSON of the actor's `snapshot.value` after the event (`null` if the actor is gone). */
  state: string | null;
  /** 32-bit hash of the actor's context after the event. */
  ctx: number | null;
  /** Types of the commands the event made the actor emit, in order. */
  cmds: string[];
}

/** A record before the journal assigned its sequence number. */
export type NewJournalRecord = Omit<JournalRecord, 'seq'>;

/** Records a journal forgot before they were written (see `JournalPort.discardPending`). */
export interface DiscardedRange {
  /** First and last seq forgotten. */
  from: number;
  to: number;
  count: number;
}

/** Everything the runtime needs from a journal; `adapters/store` implements it on SQLite. */
export interface JournalPort {
  /** Buffers a record and returns its sequence number. Not durable until `commit()`. */
  append(record: NewJournalRecord): number;
  /** Updates the outcome columns of a record still in the buffer (or already written). */
  setOutcome(seq: number, outcome: Pick<JournalRecord, 'state' | 'ctx' | 'cmds'>): void;
  /** Writes every buffered record in one transaction. */
  commit(): void;
  /** About how many bytes of memory the records not yet committed hold. Journals without it are never bounded. */
  pendingBytes?(): number;
  /** Forgets every record not yet committed (the memory bound was reached while commits fail); null if there were none. */
  discardPending?(): DiscardedRange | null;
  /** Stores a picture of every actor after `seq`; a replay of `run` resumes there. */
  writeSnapshot?(run: string, seq: number, at: number, data: Json): number;
}

/** Event names the runtime itself journals. */
export const RUNTIME_EVENTS = {
  spawn: '@runtime.spawn',
  stop: '@runtime.stop',
  /**
   * Commands of the record `payload.cause` ran before that record was
   * durable, because the journal could not commit and they keep the device
   * reachable (see `CommandOptions.beforeDurable`). A note: actors never see it.
   */
  ranBeforeDurable: '@runtime.ran-before-durable',
  /**
   * Records `payload.from`..`payload.to` were never written: they filled the
   * memory bound while the journal could not commit. A snapshot at `to`,
   * written once the journal commits again, is where a replay resumes. A note: actors never see it.
   */
  journalGap: '@runtime.journal-gap',
} as const;

/** The runtime's notes on the record: journaled like events, never dispatched to an actor. */
export const RUNTIME_NOTES: ReadonlySet<string> = new Set([RUNTIME_EVENTS.ranBeforeDurable, RUNTIME_EVENTS.journalGap]);

export interface SpawnPayload {
  [key: string]: Json;
  machine: string;
  version: number;
  input: Json;
}
