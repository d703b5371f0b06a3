// The slice of autobahn 22.11.1 the studio link uses, typed. We drive
// `autobahn.Session` over our own WebSocket transport (transport.ts) and never
// use `autobahn.Connection`: the connection statechart owns (re)connection, so
// autobahn's retry loop, its console warnings and its choice between Node's
// global WebSocket and its bundled `ws` never come into play.
import autobahnModule from 'autobahn';

/** A WAMP message as an array, before serialization. */
export type WampMessage = unknown[];

/** What `autobahn.Session` needs from a transport. */
export interface AbTransport {
  protocol: string | undefined;
  info: { type: string; url: string; protocol: string | null };
  send(message: WampMessage): void;
  close(code?: number, reason?: string): void;
  onmessage: (message: WampMessage) => void;
  onopen: () => void;
  onclose: (details: { code: number; reason: string; wasClean: boolean }) => void;
}

/** INVOCATION details autobahn hands to an endpoint (caller_* only when the router discloses them). */
export interface AbInvocation {
  procedure?: string;
  caller?: number;
  caller_authid?: string;
  caller_authrole?: string;
}

export interface AbSubscription {
  id: number;
  topic: string;
}

export interface AbRegistration {
  id: number;
  procedure: string;
}

export type AbEndpoint = (args: unknown[], kwargs: Record<string, unknown>, details: AbInvocation) => unknown;
export type AbEventHandler = (args: unknown[], kwargs: Record<string, unknown>, details: { topic?: string; publication?: number }) => void;

export interface AbSession {
  readonly id: number | null;
  readonly isOpen: boolean;
  join(realm: string, authmethods: string[], authid: string, authextra?: object): void;
  leave(reason?: string, message?: string): void;
  call(procedure: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: object): Promise<unknown>;
  publish(topic: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: object): Promise<unknown> | undefined;
  subscribe(topic: string, handler: AbEventHandler, options?: object): Promise<AbSubscription>;
  register(procedure: string, endpoint: AbEndpoint, options?: object): Promise<AbRegistration>;
  unsubscribe(subscription: AbSubscription): Promise<unknown>;
  unregister(registration: AbRegistration): Promise<unknown>;
  onjoin: (details: Record<string, unknown>) => void;
  onleave: (reason: string, details: { message?: string; [k: string]: unknown }) => void;
}

export interface AbResult {
  args: unknown[];
  kwargs: Record<string, unknown>;
}

export interface AbError {
  error: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

interface Msgpack5 {
  encode(value: unknown): { slice(): Buffer } | Buffer;
  decode(buffer: Buffer): unknown;
}

interface AutobahnModule {
  Session: new (
    transport: AbTransport,
    defer: unknown,
    onchallenge: (session: AbSession, method: string, extra: Record<string, unknown>) => string | [string, object],
    onUserError: (err: unknown, message?: string) => void,
    onInternalError: (err: unknown, message?: string) => void,
  ) => AbSession;
  Result: new (args?: unknown[], kwargs?: Record<string, unknown>) => AbResult;
  Error: new (error: string, args?: unknown[], kwargs?: Record<string, unknown>) => AbError;
  msgpack: (options: { forceFloat64: boolean }) => Msgpack5;
  util: { deferred_factory(options?: { use_es6_promises?: boolean }): unknown };
}

const autobahn = autobahnModule as unknown as AutobahnModule;

export const AbSessionClass = autobahn.Session;
export const AbResultClass = autobahn.Result;
export const AbErrorClass = autobahn.Error;
export const es6Defer = autobahn.util.deferred_factory({ use_es6_promises: true });

export function isAbResult(value: unknown): value is AbResult {
  return value instanceof autobahn.Result;
}

export function isAbError(value: unknown): value is AbError {
  return value instanceof autobahn.Error;
}

export type SerializerName = 'json' | 'msgpack';

export interface Serializer {
  name: SerializerName;
  binary: boolean;
  encode(message: WampMessage): string | Uint8Array;
  decode(payload: Buffer | string): WampMessage;
}

/**
 * JSON, and MessagePack through the msgpack5 autobahn bundles (forceFloat64,
 * as autobahn's own serializer). Not autobahn's serializer objects: those
 * print to the console on every bad frame.
 */
export function serializer(name: SerializerName): Serializer {
  if (name === 'json') {
    return {
      name,
      binary: false,
      encode: (m) => JSON.stringify(m),
      decode: (p) => asMessage(JSON.parse(typeof p === 'string' ? p : p.toString('utf8')), name),
    };
  }
  const codec = autobahn.msgpack({ forceFloat64: true });
  return {
    name,
    binary: true,
    encode: (m) => {
      const out = codec.encode(m);
      return Buffer.isBuffer(out) ? out : out.slice();
    },
    decode: (p) => asMessage(codec.decode(typeof p === 'string' ? Buffer.from(p, 'utf8') : p), name),
  };
}

function asMessage(decoded: unknown, name: SerializerName): WampMessage {
  if (!Array.isArray(decoded)) throw new Error(`WAMP ${name}: a message must be an array, got ${decoded === null ? 'null' : typeof decoded}`);
  return decoded;
}
