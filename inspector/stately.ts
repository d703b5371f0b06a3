// The inspection stream in Stately Inspect's WebSocket format, so Stately's
// tools can attach to a device when a developer has them: the JSON that
// `@statelyai/inspect`'s createWebSocketInspector sends (StatelyActorEvent,
// StatelyEventEvent, StatelySnapshotEvent, each with sessionId, rootId,
// createdAt, id and _version), one message per WebSocket text frame. Like
// Stately's relay server it keeps the last 200 messages for each new client;
// before them a client gets the registration of every actor alive now.
//
// Our actors are independent roots in XState's terms; here they hang under
// one synthetic root actor per run, so Stately shows them as one tree.
import type { Transition } from '../actors/system.js';
import type { AnyStateMachine } from 'xstate';
import type { Json } from '../actors/types.js';

/** The `@statelyai/inspect` version whose protocol this follows. */
export const STATELY_PROTOCOL_VERSION = '0.7.1';
export const STATELY_BUFFER = 200;

interface Base {
  rootId: string | undefined;
  sessionId: string;
  createdAt: string;
  id: string | null;
  _version: string;
}

export interface StatelyActorEvent extends Base {
  type: '@xstate.actor';
  name: string;
  snapshot: { status: string; [key: string]: unknown };
  definition: string | undefined;
  parentId: string | undefined;
}

export interface StatelyEventEvent extends Base {
  type: '@xstate.event';
  event: { type: string; [key: string]: unknown };
  sourceId: string | undefined;
}

export interface StatelySnapshotEvent extends Base {
  type: '@xstate.snapshot';
  event: { type: string; [key: string]: unknown };
  snapshot: { status: string; [key: string]: unknown };
}

export type StatelyMessage = StatelyActorEvent | StatelyEventEvent | StatelySnapshotEvent;

/** What the feed learns per dispatched event. `snapshot` is XState's snapshot of the actor after it (held by reference). */
export type FeedStep = Omit<Transition, 'state' | 'commands'> & {
  snapshot: { status?: unknown; value?: unknown; context?: unknown } | undefined;
};

export interface StatelyFeedOptions {
  rootId: string;
  machines: ReadonlyMap<string, AnyStateMachine>;
  /** Redacts events and contexts before they leave the process. */
  scrub?: (value: unknown) => unknown;
  buffer?: number;
}

export class StatelyFeed {
  private readonly ring: FeedStep[] = [];
  private readonly actors = new Map<string, { machine: string; createdAt: string; last: FeedStep['snapshot'] }>();
  private readonly definitions = new Map<string, string>();
  private readonly listeners = new Set<(m: StatelyMessage) => void>();
  private readonly size: number;

  constructor(private readonly opts: StatelyFeedOptions) {
    this.size = opts.buffer ?? STATELY_BUFFER;
  }

  get rootId(): string {
    return this.opts.rootId;
  }

  /** Live clients: called with every new message. */
  subscribe(listener: (m: StatelyMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** An actor that was alive before the feed started (a live inspector attached late). */
  declare(actor: string, machine: string, snapshot: FeedStep['snapshot'], at: number): void {
    if (!this.actors.has(actor)) this.actors.set(actor, { machine, createdAt: String(at), last: snapshot });
  }

  record(step: FeedStep): void {
    if (step.machine === null) return; // an event for no actor: nothing Stately could show it on
    if (!this.actors.has(step.actor)) {
      this.actors.set(step.actor, { machine: step.machine, createdAt: String(step.at), last: step.snapshot });
      if (this.listeners.size) this.emit(this.actorMessage(step.actor));
    }
    this.actors.get(step.actor)!.last = step.snapshot;
    this.ring.push(step);
    // Amortised: drop in chunks instead of shifting on every step.
    if (this.ring.length > this.size * 2) this.ring.splice(0, this.ring.length - this.size);
    if (this.listeners.size) for (const m of this.stepMessages(step)) this.emit(m);
  }

  /** What a newly connected client receives: the root, every actor, then the recent events and snapshots. */
  greeting(): StatelyMessage[] {
    const out: StatelyMessage[] = [this.rootMessage()];
    for (const id of this.actors.keys()) out.push(this.actorMessage(id));
    const recent = this.ring.slice(-this.size);
    const steps: StatelyMessage[] = [];
    for (const s of recent) steps.push(...this.stepMessages(s));
    out.push(...steps.slice(-this.size));
    return out;
  }

  private emit(m: StatelyMessage): void {
    for (const l of this.listeners) l(m);
  }

  private base(sessionId: string, createdAt: string, id: string | null): Base {
    return { rootId: this.opts.rootId, sessionId, createdAt, id, _version: STATELY_PROTOCOL_VERSION };
  }

  private rootMessage(): StatelyActorEvent {
    return {
      type: '@xstate.actor',
      name: 'reagent',
      ...this.base(this.opts.rootId, '0', null),
      parentId: undefined,
      definition: JSON.stringify({ id: 'reagent' }),
      snapshot: { status: 'active' },
    };
  }

  private actorMessage(id: string): StatelyActorEvent {
    const a = this.actors.get(id)!;
    return {
      type: '@xstate.actor',
      name: a.machine,
      ...this.base(id, a.createdAt, null),
      parentId: this.opts.rootId,
      definition: this.definition(a.machine),
      snapshot: this.snapshotJson(a.last),
    };
  }

  private stepMessages(s: FeedStep): StatelyMessage[] {
    const event = this.scrub({ ...(isObject(s.payload) ? s.payload : { payload: s.payload }), type: s.type }) as StatelyEventEvent['event'];
    const createdAt = String(s.at);
    return [
      { type: '@xstate.event', ...this.base(s.actor, createdAt, `${s.seq}`), event, sourceId: undefined },
      { type: '@xstate.snapshot', ...this.base(s.actor, createdAt, `${s.seq}.snapshot`), event, snapshot: this.snapshotJson(s.snapshot) },
    ];
  }

  private snapshotJson(snap: FeedStep['snapshot']): StatelySnapshotEvent['snapshot'] {
    if (!snap) return { status: 'stopped' };
    return this.scrub({
      status: typeof snap.status === 'string' ? snap.status : 'active',
      value: snap.value,
      context: snap.context,
      children: {},
    }) as StatelySnapshotEvent['snapshot'];
  }

  /** As Stately does it: the machine config as JSON, functions replaced by `{type: name}`. */
  private definition(machine: string): string | undefined {
    let d = this.definitions.get(machine);
    if (d === undefined) {
      const logic = this.opts.machines.get(machine);
      if (!logic) return undefined;
      d = JSON.stringify(logic.config, (_key, value: unknown) => (typeof value === 'function' ? { type: value.name } : value));
      this.definitions.set(machine, d);
    }
    return d;
  }

  private scrub(value: unknown): unknown {
    // One JSON round trip: what is sent is plain data, never a live XState object.
    const plain = JSON.parse(JSON.stringify(value) ?? 'null') as unknown;
    return this.opts.scrub ? this.opts.scrub(plain) : plain;
  }
}

function isObject(v: Json): v is { [key: string]: Json } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
