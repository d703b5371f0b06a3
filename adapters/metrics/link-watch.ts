// What every network link's connection statechart is doing, followed from the
// actor system's transitions: its state, since when, how often it connected,
// and whether the link works. Read by /healthz, /metrics and the self-update
// probation; it only observes.
//
// "Connected" is the transport (a WAMP session, a gRPC stream); "working" is
// what a user needs: for a link with an on-connect sequence (the studio link's
// `<link>:session` actor), that sequence has finished (its `online` state:
// device API registered, CONNECTED reported). A new version on probation that
// only opened a socket has not proven anything.
import type { ActorSystem, Transition } from '../../actors/system.js';
import type { ConnectionContext } from '../../machines/connection.js';

export type LinkPhase = 'idle' | 'connecting' | 'connected' | 'backoff';

export interface LinkStatus {
  /** `studio` for `studio:connection`, `gateway` for `gateway`. */
  name: string;
  actor: string;
  phase: LinkPhase;
  /** Connected, and its on-connect sequence (if it has one) is done. */
  working: boolean;
  /** Runtime clock time the phase was entered. */
  since: number;
  /** Successful connects in this run (the statechart's own count, also before the watch began). */
  connects: number;
  disconnects: number;
  /** The backoff delay chosen (ms) and the attempt bound (0 = none), from the machine's context. */
  delayMs: number;
  connectTimeoutMs: number;
  lastError: string | null;
}

/** `studio:connection` → `studio`; an actor id without a colon is the link's own name. */
export function linkNameOf(actorId: string): string {
  const i = actorId.indexOf(':');
  return i < 0 ? actorId : actorId.slice(0, i);
}

function parseState(state: string | null): unknown {
  if (state === null) return undefined;
  try {
    return JSON.parse(state);
  } catch {
    return undefined;
  }
}

export function phaseOf(state: string | null): LinkPhase | null {
  const top = topState(parseState(state));
  return top === 'idle' || top === 'connecting' || top === 'connected' || top === 'backoff' ? top : null;
}

type WatchedSystem = Pick<ActorSystem, 'subscribe' | 'snapshot' | 'actorIds' | 'machineOf'>;

/** Machines that run a link's on-connect sequence, as `<link>:session`, and the state that means it finished. */
const SESSION_MACHINES: Readonly<Record<string, string>> = { 'studio-session': 'online' };

function topState(value: unknown): string | undefined {
  return typeof value === 'string' ? value : value && typeof value === 'object' ? Object.keys(value)[0] : undefined;
}

export class LinkWatch {
  private readonly links = new Map<string, LinkStatus>();
  /** Link name → its on-connect sequence finished (only links that have one). */
  private readonly sessions = new Map<string, boolean>();
  private readonly listeners = new Set<(s: LinkStatus) => void>();
  private readonly unsubscribe: () => void;

  constructor(private readonly system: WatchedSystem, now: number) {
    // Links started before the watch: their current state, as of now.
    for (const id of system.actorIds()) {
      const machine = system.machineOf(id)?.name;
      if (machine && SESSION_MACHINES[machine] !== undefined) {
        this.sessions.set(linkNameOf(id), topState((system.snapshot(id) as { value?: unknown } | undefined)?.value) === SESSION_MACHINES[machine]);
      }
      if (machine !== 'connection') continue;
      const value = (system.snapshot(id) as { value?: unknown } | undefined)?.value;
      const phase = phaseOf(value === undefined ? null : JSON.stringify(value));
      if (phase) this.links.set(id, this.fresh(id, phase, now));
    }
    this.unsubscribe = system.subscribe((t) => this.onTransition(t));
  }

  /** Every link seen, by name. */
  all(): LinkStatus[] {
    return [...this.links.values()].map((s) => this.shown(s));
  }

  /** Called with a link's status whenever its phase changes. */
  onChange(listener: (s: LinkStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  private onTransition(t: Transition): void {
    const sessionDone = t.machine ? SESSION_MACHINES[t.machine] : undefined;
    if (sessionDone !== undefined) return this.onSession(linkNameOf(t.actor), topState(parseState(t.state)) === sessionDone);
    if (t.machine !== 'connection') return;
    const phase = phaseOf(t.state);
    if (!phase) return;
    const old = this.links.get(t.actor) ?? this.fresh(t.actor, phase, t.at);
    if (old.phase === phase && this.links.has(t.actor)) return;
    const next: LinkStatus = {
      ...old,
      phase,
      since: t.at,
      disconnects: old.disconnects + (old.phase === 'connected' && phase !== 'connected' ? 1 : 0),
    };
    this.links.set(t.actor, next);
    this.tell(next);
  }

  private onSession(link: string, done: boolean): void {
    if (this.sessions.get(link) === done) return;
    this.sessions.set(link, done);
    for (const s of this.links.values()) if (s.name === link) this.tell(s);
  }

  private tell(s: LinkStatus): void {
    const shown = this.shown(s);
    for (const l of this.listeners) l(shown);
  }

  private shown(s: LinkStatus): LinkStatus {
    return { ...s, ...this.fromContext(s.actor), working: s.phase === 'connected' && (this.sessions.get(s.name) ?? true) };
  }

  private fresh(actor: string, phase: LinkPhase, at: number): LinkStatus {
    return { name: linkNameOf(actor), actor, phase, working: false, since: at, connects: 0, disconnects: 0, delayMs: 0, connectTimeoutMs: 0, lastError: null };
  }

  private fromContext(actor: string): Pick<LinkStatus, 'delayMs' | 'connectTimeoutMs' | 'lastError' | 'connects'> {
    const ctx = (this.system.snapshot(actor) as { context?: ConnectionContext } | undefined)?.context;
    if (!ctx) return { delayMs: 0, connectTimeoutMs: 0, lastError: null, connects: 0 };
    return { delayMs: ctx.delayMs, connectTimeoutMs: ctx.policy.connectTimeoutMs, lastError: ctx.lastError, connects: ctx.sessions };
  }
}
