// One WAMP session: a transport, autobahn's Session joined to `realm1` with
// WAMP-CRA, and the operations the studio link needs with the guarantees
// autobahn's Session alone lacks: every outgoing call is bounded
// (`-respTimeout`), and every pending call fails at once when the link goes
// (autobahn's promises would hang forever). One attempt = one WampSession;
// reconnecting is the connection statechart's business, never this file's.
import {
  AbErrorClass,
  AbResultClass,
  AbSessionClass,
  es6Defer,
  isAbError,
  isAbResult,
  type AbEndpoint,
  type AbInvocation,
  type AbRegistration,
  type AbSession,
  type AbSubscription,
  type SerializerName,
} from './autobahn.js';
import { AUTH_METHODS, REALM, respondToChallenge } from './cra.js';
import { LOCAL_ERRORS, WAMP_ERRORS, WampCallError } from './errors.js';
import { openTransport, type CloseInfo, type TransportOptions, type WampTransport } from './transport.js';

export interface SessionOptions {
  url: string;
  authid: string;
  /** The `.flock` secret; only ever used to sign the challenge. */
  secret: string;
  serializers: readonly SerializerName[];
  /** Bound of every outgoing call; 0 disables it (not recommended). */
  respTimeoutMs: number;
  tls?: TransportOptions['tls'];
  onTraffic?: TransportOptions['onTraffic'];
  /** A frame from the router that was refused (see transport.ts). */
  onRefused?: TransportOptions['onRefused'];
  /** Errors autobahn reports from inside (a handler threw, a protocol violation). */
  onInternalError?: (err: unknown, context?: string) => void;
}

export interface CallResult {
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** Why a session attempt failed or ended. */
export interface SessionEnd {
  reason: string;
  /** The router refused our credentials (ABORT wamp.error.authentication_failed / not_authorized). */
  authFailed: boolean;
  /** We ended it (a command), not the router or the network. */
  local: boolean;
}

export type Endpoint = (args: unknown[], kwargs: Record<string, unknown>, details: AbInvocation) => Promise<CallResult> | CallResult;
export type EventHandler = (args: unknown[], kwargs: Record<string, unknown>) => void;

const AUTH_ABORTS = new Set<string>([WAMP_ERRORS.authenticationFailed, 'wamp.error.not_authorized', 'wamp.error.no_auth_method', 'wamp.error.cannot_authenticate', 'wamp.error.no_such_principal']);

export class WampSession {
  private ended: SessionEnd | null = null;
  private readonly pending = new Set<(err: WampCallError) => void>();
  private readonly endListeners: Array<(end: SessionEnd) => void> = [];
  /** What register/subscribe returned, by id, for unregister/unsubscribe (terminal topics come and go). */
  private readonly registrations = new Map<number, AbRegistration>();
  private readonly subscriptions = new Map<number, AbSubscription>();

  private constructor(
    private readonly t: WampTransport,
    private readonly ab: AbSession,
    readonly id: number,
    private readonly respTimeoutMs: number,
    private readonly onHandlerError?: (err: unknown, context?: string) => void,
  ) {}

  /**
   * Opens the WebSocket and joins. Resolves with the session once WELCOME
   * arrived; rejects with a SessionEnd-shaped error otherwise. `signal` aborts
   * the attempt (the statechart's connect timeout or a STOP).
   */
  static open(opts: SessionOptions, signal?: AbortSignal): Promise<WampSession> {
    return new Promise((resolve, reject) => {
      const t = openTransport({ url: opts.url, serializers: opts.serializers, tls: opts.tls, onTraffic: opts.onTraffic, onRefused: opts.onRefused });
      let settled = false;
      let abortReason: string | null = null;
      const fail = (end: SessionEnd) => {
        if (settled) return;
        settled = true;
        reject(new SessionFailure(end));
      };
      const onAbort = () => {
        abortReason = typeof signal?.reason === 'string' ? signal.reason : 'aborted';
        t.terminate(abortReason);
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });

      let abortUri: string | null = null;
      let abortMessage = '';
      t.onClosed((info: CloseInfo) => {
        signal?.removeEventListener('abort', onAbort);
        const authFailed = abortUri !== null && AUTH_ABORTS.has(abortUri);
        const reason = abortUri
          ? `router refused the session: ${abortUri}${abortMessage ? ` (${abortMessage})` : ''}`
          : abortReason ?? info.reason;
        fail({ reason, authFailed, local: abortReason !== null });
      });

      t.opened.then(
        () => {
          const ab = new AbSessionClass(
            t.transport,
            es6Defer,
            (_session, method, extra) => {
              if (method !== 'wampcra') throw new Error(`router asked for ${method}; only wampcra is supported`);
              return respondToChallenge(opts.secret, extra);
            },
            // A handler's WAMP error reply (WampReply) is an answer, not a fault.
            (err, context) => {
              if (!isAbError(err)) opts.onInternalError?.(err, context);
            },
            (err, context) => opts.onInternalError?.(err, context),
          );
          ab.onjoin = () => {
            if (settled) return;
            settled = true;
            signal?.removeEventListener('abort', onAbort);
            const session = new WampSession(t, ab, ab.id ?? 0, opts.respTimeoutMs, opts.onInternalError);
            t.onClosed((info) => session.finish({ reason: info.reason, authFailed: false, local: info.local }));
            resolve(session);
          };
          ab.onleave = (reason, details) => {
            // Before WELCOME this is an ABORT (auth failure and the like); after, a GOODBYE.
            if (!settled) {
              abortUri = reason;
              abortMessage = typeof details?.message === 'string' ? details.message : '';
            }
            t.close(1000, reason);
          };
          ab.join(REALM, [...AUTH_METHODS], opts.authid);
        },
        () => {
          /* the close listener reports it */
        },
      );
    });
  }

  get serializer(): SerializerName | null {
    return this.t.serializer();
  }

  get isOpen(): boolean {
    return this.ended === null;
  }

  onEnd(listener: (end: SessionEnd) => void): void {
    if (this.ended) listener(this.ended);
    else this.endListeners.push(listener);
  }

  onPong(listener: () => void): void {
    this.t.onPong(listener);
  }

  ping(): void {
    this.t.ping();
  }

  /** Calls a procedure; rejects with WampCallError (the router's error, a timeout, or the link going). */
  call(procedure: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}, timeoutMs = this.respTimeoutMs): Promise<CallResult> {
    return this.guard(procedure, () => this.ab.call(procedure, args, kwargs), timeoutMs).then(toCallResult);
  }

  /** Registers an endpoint; its CallResult becomes YIELD args/kwargs, a thrown WAMP-shaped error an ERROR. */
  async register(procedure: string, endpoint: Endpoint, options: Record<string, unknown> = {}): Promise<number> {
    const ab: AbEndpoint = async (args, kwargs, details) => {
      try {
        const r = await endpoint(Array.isArray(args) ? args : [], isPlainObject(kwargs) ? kwargs : {}, isPlainObject(details) ? details : {});
        return new AbResultClass(r.args, r.kwargs);
      } catch (err) {
        if (err instanceof WampReply) throw new AbErrorClass(err.uri, err.args, err.kwargs);
        throw new AbErrorClass(WAMP_ERRORS.canceled, [{ error: err instanceof Error ? err.message : String(err) }]);
      }
    };
    const reg = await this.guard(procedure, () => this.ab.register(procedure, ab, options));
    this.registrations.set(reg.id, reg);
    return reg.id;
  }

  /** Removes a registration made on this session; a session already gone has none left. */
  async unregister(id: number): Promise<void> {
    const reg = this.registrations.get(id);
    if (!reg) return;
    this.registrations.delete(id);
    if (this.ended) return;
    await this.guard(`unregister ${id}`, () => this.ab.unregister(reg));
  }

  async unsubscribe(id: number): Promise<void> {
    const sub = this.subscriptions.get(id);
    if (!sub) return;
    this.subscriptions.delete(id);
    if (this.ended) return;
    await this.guard(`unsubscribe ${id}`, () => this.ab.unsubscribe(sub));
  }

  async subscribe(topic: string, handler: EventHandler): Promise<number> {
    const sub = await this.guard(topic, () =>
      this.ab.subscribe(topic, (args, kwargs) => {
        // One bad EVENT is dropped and logged; the subscription and the session go on.
        try {
          handler(Array.isArray(args) ? args : [], isPlainObject(kwargs) ? kwargs : {});
        } catch (err) {
          this.onHandlerError?.(err, `event handler for ${topic} failed; event dropped`);
        }
      }),
    );
    this.subscriptions.set(sub.id, sub);
    return sub.id;
  }

  /** Fire-and-forget unless `acknowledge`, as WAMP publishes are. */
  async publish(topic: string, args: unknown[], kwargs: Record<string, unknown> = {}, acknowledge = false): Promise<void> {
    if (this.ended) throw new WampCallError(topic, LOCAL_ERRORS.closed, [this.ended.reason]);
    const p = this.ab.publish(topic, args, kwargs, acknowledge ? { acknowledge: true } : {});
    if (acknowledge && p) await this.guard(topic, () => p);
  }

  /** Ends the session: GOODBYE when it can, and the socket is gone within a second either way. */
  close(reason: string): void {
    if (this.ended) return;
    this.finish({ reason, authFailed: false, local: true });
    try {
      if (this.ab.isOpen) this.ab.leave('wamp.close.normal', reason);
    } catch {
      /* closing anyway */
    }
    this.t.close(1000, reason);
  }

  /** Drops the socket without a goodbye (a link we believe dead). */
  terminate(reason: string): void {
    if (this.ended === null) this.finish({ reason, authFailed: false, local: true });
    this.t.terminate(reason);
  }

  private finish(end: SessionEnd): void {
    if (this.ended) return;
    this.ended = end;
    const closed = new WampCallError('', LOCAL_ERRORS.closed, [end.reason]);
    for (const reject of [...this.pending]) reject(closed);
    this.pending.clear();
    for (const l of this.endListeners.splice(0)) l(end);
  }

  /** A call, register, subscribe or ack'd publish: bounded by a timeout and failed by the session's end. */
  private guard<T>(what: string, op: () => Promise<T>, timeoutMs = this.respTimeoutMs): Promise<T> {
    if (this.ended) return Promise.reject(new WampCallError(what, LOCAL_ERRORS.closed, [this.ended.reason]));
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        this.pending.delete(onClose);
        fn();
      };
      const onClose = (err: WampCallError) => finish(() => reject(new WampCallError(what, err.uri, err.args)));
      this.pending.add(onClose);
      const timer = timeoutMs > 0 ? setTimeout(() => finish(() => reject(new WampCallError(what, LOCAL_ERRORS.timeout, [`no answer within ${timeoutMs} ms`]))), timeoutMs) : null;
      Promise.resolve()
        .then(op)
        .then(
          (v) => finish(() => resolve(v)),
          (err: unknown) => finish(() => reject(isAbError(err) ? new WampCallError(what, err.error, err.args ?? [], err.kwargs ?? {}) : new WampCallError(what, LOCAL_ERRORS.closed, [String(err)]))),
        );
    });
  }
}

/** Thrown by an endpoint to answer with a specific WAMP error. */
export class WampReply extends Error {
  constructor(
    readonly uri: string,
    readonly args: unknown[] = [],
    readonly kwargs: Record<string, unknown> = {},
  ) {
    super(uri);
    this.name = 'WampReply';
  }
}

export class SessionFailure extends Error {
  constructor(readonly end: SessionEnd) {
    super(end.reason);
    this.name = 'SessionFailure';
  }
}

function isPlainObject<T extends object>(v: T | null | undefined): v is T {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toCallResult(value: unknown): CallResult {
  if (isAbResult(value)) return { args: Array.isArray(value.args) ? value.args : [], kwargs: value.kwargs ?? {} };
  // autobahn unwraps a single positional result; null means "no arguments".
  return { args: value === null || value === undefined ? [] : [value], kwargs: {} };
}
