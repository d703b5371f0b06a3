// What the router may send us, checked before autobahn's Session sees it.
// autobahn trusts the shape of every message (a RESULT whose Details is not a
// dict throws inside it) and answers anything unexpected (a RESULT for a call
// we never made, an EVENT for a subscription we do not hold, an INVOCATION of
// a registration we do not have) by failing the whole transport, so one bad
// frame from a broken or hostile router cost the session and a reconnect
// with backoff. Here each inbound message is checked against the WAMP basic
// profile (message shapes of the spec's §"Message Definitions") and against
// the requests we have actually sent; a message that fails is refused alone:
// logged, dropped, and an INVOCATION with a usable request id answered with
// an ERROR so its caller is not left waiting.
//
// GOODBYE and ABORT are passed on whatever their state: they end the session,
// which is what the router meant.
import type { WampMessage } from './autobahn.js';

export const MSG = {
  HELLO: 1, WELCOME: 2, ABORT: 3, CHALLENGE: 4, AUTHENTICATE: 5, GOODBYE: 6, ERROR: 8,
  PUBLISH: 16, PUBLISHED: 17, SUBSCRIBE: 32, SUBSCRIBED: 33, UNSUBSCRIBE: 34, UNSUBSCRIBED: 35, EVENT: 36,
  CALL: 48, RESULT: 50, REGISTER: 64, REGISTERED: 65, UNREGISTER: 66, UNREGISTERED: 67, INVOCATION: 68, INTERRUPT: 69, YIELD: 70,
} as const;

/** Requests whose answer names them by request id, and the answer each expects. */
const ANSWERS: Record<number, number> = {
  [MSG.PUBLISH]: MSG.PUBLISHED,
  [MSG.SUBSCRIBE]: MSG.SUBSCRIBED,
  [MSG.UNSUBSCRIBE]: MSG.UNSUBSCRIBED,
  [MSG.CALL]: MSG.RESULT,
  [MSG.REGISTER]: MSG.REGISTERED,
  [MSG.UNREGISTER]: MSG.UNREGISTERED,
};

/** Requests a router that never answers could pile up; the oldest are forgotten past this. */
const MAX_PENDING = 10_000;

export type GateVerdict = { ok: true } | { ok: false; reason: string; reply?: WampMessage };

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isDict = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUri = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 1024;

function name(type: unknown): string {
  const found = Object.entries(MSG).find(([, n]) => n === type);
  return found ? found[0] : typeof type === 'number' && Number.isFinite(type) ? `type ${type}` : 'a message without a numeric type';
}

/** Optional Arguments|list and ArgumentsKw|dict from position `at` on. */
function payloadProblem(m: WampMessage, at: number): string | null {
  if (m.length > at + 2) return `more than ${at + 2} elements`;
  if (m.length > at && !Array.isArray(m[at])) return `Arguments (element ${at}) is not a list`;
  if (m.length > at + 1 && !isDict(m[at + 1])) return `ArgumentsKw (element ${at + 1}) is not a dict`;
  return null;
}

export class MessageGate {
  private joined = false;
  /** request id -> request type, per request type family (ids may repeat across types). */
  private readonly pending = new Map<string, number>();
  private readonly registrations = new Set<number>();
  private readonly subscriptions = new Set<number>();

  /** Records what we sent, so answers can be matched to requests. */
  sent(m: WampMessage): void {
    const type = m[0];
    const request = m[1];
    if (typeof type !== 'number' || !isId(request) || !(type in ANSWERS)) return;
    // An unacknowledged PUBLISH gets no answer.
    if (type === MSG.PUBLISH && !(isDict(m[2]) && m[2].acknowledge === true)) return;
    this.pending.set(`${type}:${request}`, type);
    if (this.pending.size > MAX_PENDING) this.pending.delete(this.pending.keys().next().value as string);
  }

  check(m: WampMessage): GateVerdict {
    const type = m[0];
    if (typeof type !== 'number') return { ok: false, reason: 'a message whose first element is not a message type' };
    if (type === MSG.GOODBYE || type === MSG.ABORT) {
      if (!isDict(m[1]) || !isUri(m[2])) return { ok: false, reason: `${name(type)} without Details|dict and Reason|uri` };
      this.joined = false;
      return { ok: true };
    }
    if (!this.joined) return this.beforeWelcome(m, type);
    switch (type) {
      case MSG.ERROR:
        return this.error(m);
      case MSG.RESULT:
        return this.answer(m, MSG.CALL, () => {
          if (!isDict(m[2])) return 'Details (element 2) is not a dict';
          return payloadProblem(m, 3);
        }, isDict(m[2]) && m[2].progress === true);
      case MSG.PUBLISHED:
        return this.answer(m, MSG.PUBLISH, () => (isId(m[2]) && m.length === 3 ? null : 'expected [PUBLISHED, Request|id, Publication|id]'));
      case MSG.SUBSCRIBED: {
        const v = this.answer(m, MSG.SUBSCRIBE, () => (isId(m[2]) && m.length === 3 ? null : 'expected [SUBSCRIBED, Request|id, Subscription|id]'));
        if (v.ok) this.subscriptions.add(m[2] as number);
        return v;
      }
      case MSG.REGISTERED: {
        const v = this.answer(m, MSG.REGISTER, () => (isId(m[2]) && m.length === 3 ? null : 'expected [REGISTERED, Request|id, Registration|id]'));
        if (v.ok) this.registrations.add(m[2] as number);
        return v;
      }
      case MSG.UNSUBSCRIBED:
        return this.removal(m, MSG.UNSUBSCRIBE, 'subscription', this.subscriptions);
      case MSG.UNREGISTERED:
        return this.removal(m, MSG.UNREGISTER, 'registration', this.registrations);
      case MSG.EVENT: {
        if (!isId(m[1]) || !isId(m[2]) || !isDict(m[3])) return { ok: false, reason: 'EVENT: expected [EVENT, Subscription|id, Publication|id, Details|dict, ...]' };
        if (!this.subscriptions.has(m[1])) return { ok: false, reason: `EVENT for subscription ${m[1]}, which we do not hold` };
        const p = payloadProblem(m, 4);
        return p ? { ok: false, reason: `EVENT: ${p}` } : { ok: true };
      }
      case MSG.INVOCATION:
        return this.invocation(m);
      default:
        return { ok: false, reason: `${name(type)} is not expected from the router in an open session` };
    }
  }

  private beforeWelcome(m: WampMessage, type: number): GateVerdict {
    if (type === MSG.WELCOME) {
      if (!isId(m[1]) || m[1] === 0 || !isDict(m[2]) || !isDict(m[2].roles)) return { ok: false, reason: 'WELCOME: expected [WELCOME, Session|id, Details|dict with roles]' };
      this.joined = true;
      return { ok: true };
    }
    if (type === MSG.CHALLENGE) {
      if (typeof m[1] !== 'string' || !isDict(m[2])) return { ok: false, reason: 'CHALLENGE: expected [CHALLENGE, AuthMethod|string, Extra|dict]' };
      return { ok: true };
    }
    return { ok: false, reason: `${name(type)} before the session was welcomed` };
  }

  /** A reply to one of our requests: known id, right shape. `keep`: more answers follow (progressive RESULT). */
  private answer(m: WampMessage, requestType: number, shape: () => string | null, keep = false): GateVerdict {
    const what = name(m[0]);
    if (!isId(m[1])) return { ok: false, reason: `${what}: Request (element 1) is not an id` };
    const problem = shape();
    if (problem) return { ok: false, reason: `${what}: ${problem}` };
    const key = `${requestType}:${m[1]}`;
    if (!this.pending.has(key)) return { ok: false, reason: `${what} for request ${m[1]}, which we never sent or which was already answered` };
    if (!keep) this.pending.delete(key);
    return { ok: true };
  }

  private error(m: WampMessage): GateVerdict {
    const requestType = m[1];
    if (typeof requestType !== 'number') return { ok: false, reason: 'ERROR: Request.Type (element 1) is not a message type' };
    if (!(requestType in ANSWERS)) return { ok: false, reason: `ERROR for request type ${name(requestType)}, which we never send` };
    if (!isId(m[2]) || !isDict(m[3]) || !isUri(m[4])) return { ok: false, reason: 'ERROR: expected [ERROR, Request.Type|int, Request|id, Details|dict, Error|uri, ...]' };
    const p = payloadProblem(m, 5);
    if (p) return { ok: false, reason: `ERROR: ${p}` };
    const key = `${requestType}:${m[2]}`;
    if (!this.pending.has(key)) return { ok: false, reason: `ERROR for ${name(requestType)} request ${m[2]}, which we never sent or which was already answered` };
    this.pending.delete(key);
    return { ok: true };
  }

  /** UNSUBSCRIBED / UNREGISTERED: an answer to our request, or (request 0) the router revoking one. */
  private removal(m: WampMessage, requestType: number, what: 'subscription' | 'registration', held: Set<number>): GateVerdict {
    const type = name(m[0]);
    if (!isId(m[1]) || m.length > 3 || (m.length === 3 && !isDict(m[2]))) return { ok: false, reason: `${type}: expected [${type}, Request|id, Details|dict?]` };
    if (m[1] !== 0) return this.answer(m, requestType, () => null);
    const details = m[2];
    const id = isDict(details) ? details[what] : undefined;
    if (!isId(id) || !held.has(id)) return { ok: false, reason: `${type} revoking ${what} ${String(id)}, which we do not hold` };
    held.delete(id);
    return { ok: true };
  }

  private invocation(m: WampMessage): GateVerdict {
    const request = m[1];
    const refuse = (uri: string, reason: string): GateVerdict =>
      isId(request) && request > 0 ? { ok: false, reason, reply: [MSG.ERROR, MSG.INVOCATION, request, {}, uri, [reason]] } : { ok: false, reason };
    if (!isId(request) || request === 0) return refuse('wamp.error.invalid_argument', 'INVOCATION: Request (element 1) is not an id');
    if (!isId(m[2]) || !isDict(m[3])) return refuse('wamp.error.invalid_argument', 'INVOCATION: expected [INVOCATION, Request|id, Registration|id, Details|dict, ...]');
    if (!this.registrations.has(m[2])) return refuse('wamp.error.no_such_registration', `INVOCATION of registration ${m[2]}, which we do not hold`);
    const p = payloadProblem(m, 4);
    return p ? refuse('wamp.error.invalid_argument', `INVOCATION: ${p}`) : { ok: true };
  }
}
