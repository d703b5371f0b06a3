// The WebSocket under the WAMP session, on the `ws` package we depend on (the
// same on Node 20, 22 and 24, whatever global WebSocket a runtime has). It
// offers the serializers in preference order as WebSocket subprotocols
// (`wamp.2.json`, `wamp.2.msgpack`), turns frames into WAMP messages for
// autobahn's Session, and exposes WebSocket ping/pong, which the connection
// statechart drives (`wamp.ping` -> PONG) to find a link that died silently.
// Any frame that arrives after a ping answers it as a pong would: a router
// sends its pong behind whatever it already queued for us, and while we work
// through a backlog of megabytes that pong can come later than two ping
// intervals, although the link is plainly delivering. Dropping such a link
// cost the session and every call in flight on it.
// A frame that cannot be decoded, fails the message gate, or makes a handler
// throw is refused alone (`onRefused`); the session goes on.
import { isIP } from 'node:net';
import WebSocket from 'ws';
import type { AbTransport, SerializerName, Serializer, WampMessage } from './autobahn.js';
import { serializer as makeSerializer } from './autobahn.js';
import { MessageGate } from './message-gate.js';

export interface TransportOptions {
  url: string;
  /** Preference order; the router picks one. */
  serializers: readonly SerializerName[];
  /** TLS client certificate (the Reagent's legacy endpoints only). */
  tls?: { key: string; cert: string; rejectUnauthorized: boolean };
  /** Every decoded message, both ways, for `-debugMessaging`. */
  onTraffic?: (direction: 'in' | 'out', message: WampMessage) => void;
  /** Largest frame accepted from the router. */
  maxPayloadBytes?: number;
  /** A frame from the router that was dropped, and why (never its content: it may hold secrets). */
  onRefused?: (reason: string, message: WampMessage | null) => void;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** True when we closed it (a command), false when the peer or the network did. */
  local: boolean;
}

export interface WampTransport {
  /** What autobahn's Session talks through. Valid once `opened` resolved. */
  readonly transport: AbTransport;
  /** Resolves when the WebSocket is open; rejects when it never opens. */
  readonly opened: Promise<void>;
  readonly serializer: () => SerializerName | null;
  ping(): void;
  /** Fires once, however the socket ended. */
  onClosed(listener: (info: CloseInfo) => void): void;
  /** Once per ping: on its pong, or on the first frame from the router after it, whichever comes first. */
  onPong(listener: () => void): void;
  /** Closing handshake with a timeout; `terminate` drops the socket at once. */
  close(code?: number, reason?: string): void;
  terminate(reason?: string): void;
}

const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

/** localhost, 127.0.0.0/8, ::1 (and its IPv4-mapped forms): traffic that never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h) || /^(0{1,4}:){7}0{0,3}1$/.test(h);
  return false;
}

/**
 * Why a router URL sends the session in the clear to another machine, or null:
 * `ws://` to anything but loopback (the WAMP-CRA secret is never sent, but
 * every call, app credential and log line is readable on the way).
 */
export function plaintextWarning(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'ws:' || isLoopbackHost(parsed.hostname)) return null;
  return `the router ${parsed.host} is reached over plain ws://: device API calls, app credentials and logs cross the network unencrypted; use wss://`;
}

export function openTransport(opts: TransportOptions): WampTransport {
  const protocols = opts.serializers.map((s) => `wamp.2.${s}`);
  const ws = new WebSocket(opts.url, protocols, {
    maxPayload: opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD,
    perMessageDeflate: false,
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert, rejectUnauthorized: opts.tls.rejectUnauthorized } : {}),
  });
  let codec: Serializer | null = null;
  let closedInfo: CloseInfo | null = null;
  let localReason: string | null = null;
  const closeListeners: Array<(info: CloseInfo) => void> = [];
  const pongListeners: Array<() => void> = [];
  let pingOutstanding = false;
  const alive = () => {
    if (!pingOutstanding) return;
    pingOutstanding = false;
    for (const l of pongListeners) l();
  };
  const gate = new MessageGate();
  const refuse = (reason: string, message: WampMessage | null) => {
    try {
      opts.onRefused?.(reason, message);
    } catch {
      /* reporting a refusal must not become one more failure */
    }
  };
  /** `-debugMessaging`; false when it threw (inbound: that message is refused). */
  const traffic = (direction: 'in' | 'out', message: WampMessage): boolean => {
    try {
      opts.onTraffic?.(direction, message);
      return true;
    } catch (err) {
      refuse(`traffic log failed: ${(err as Error).message}`, message);
      return false;
    }
  };

  const transport: AbTransport = {
    protocol: undefined,
    info: { type: 'websocket', url: opts.url, protocol: null },
    send(message) {
      if (!codec || ws.readyState !== WebSocket.OPEN) return;
      traffic('out', message);
      gate.sent(message);
      ws.send(codec.encode(message), { binary: codec.binary });
    },
    close(code = 1000, reason = '') {
      doClose(code, reason);
    },
    onmessage: () => {},
    onopen: () => {},
    onclose: () => {},
  };

  const finish = (info: CloseInfo) => {
    if (closedInfo) return;
    closedInfo = info;
    for (const l of closeListeners.splice(0)) l(info);
  };

  const doClose = (code = 1000, reason = '') => {
    localReason ??= reason || 'closed';
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate();
      return;
    }
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.close(code, reason.slice(0, 120));
    // A peer that never answers the closing handshake must not keep the socket.
    const force = setTimeout(() => ws.terminate(), 1000);
    force.unref();
  };

  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      const name = ws.protocol.startsWith('wamp.2.') ? ws.protocol.slice('wamp.2.'.length) : '';
      if (name !== 'json' && name !== 'msgpack') {
        reject(new Error(`the router chose no WAMP serializer we offered (subprotocol ${JSON.stringify(ws.protocol)})`));
        localReason = 'no common serializer';
        ws.terminate();
        return;
      }
      codec = makeSerializer(name);
      transport.protocol = ws.protocol;
      transport.info.protocol = ws.protocol;
      resolve();
    });
    ws.once('close', () => reject(new Error(`WebSocket to ${opts.url} closed before it opened`)));
  });
  // Failures are reported through the close path; this keeps an unobserved rejection quiet.
  opened.catch(() => {});

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    // Before anything can refuse it: even a frame we drop shows the link is delivering.
    alive();
    if (!codec) return;
    let message: WampMessage;
    try {
      message = codec.decode(isBinary ? data : data.toString('utf8'));
    } catch (err) {
      // Not the decoder's message: JSON.parse quotes the frame, which may hold a secret.
      const why = err instanceof RangeError ? 'nested too deep' : (err as Error).message.startsWith('WAMP ') ? (err as Error).message : 'malformed';
      refuse(`undecodable ${isBinary ? 'binary' : 'text'} frame of ${data.length} bytes (${codec.name}: ${why})`, null);
      return;
    }
    if (!traffic('in', message)) return;
    const verdict = gate.check(message);
    if (!verdict.ok) {
      refuse(verdict.reason, message);
      if (verdict.reply) transport.send(verdict.reply);
      return;
    }
    try {
      transport.onmessage(message);
    } catch (err) {
      refuse(`the WAMP client failed on it: ${(err as Error).message}`, message);
    }
  });
  ws.on('pong', alive);
  // Without a listener `ws` throws; the reason reaches us through 'close' (1006).
  let lastError: string | null = null;
  ws.on('error', (err: Error) => {
    lastError = err.message;
  });
  ws.on('close', (code: number, reasonBuf: Buffer) => {
    const reason = localReason ?? (reasonBuf.length ? reasonBuf.toString('utf8') : lastError ?? `connection closed (code ${code})`);
    const info: CloseInfo = { code, reason, local: localReason !== null };
    transport.onclose({ code, reason, wasClean: code === 1000 });
    finish(info);
  });

  return {
    transport,
    opened,
    serializer: () => codec?.name ?? null,
    ping() {
      if (ws.readyState !== WebSocket.OPEN) return;
      pingOutstanding = true;
      ws.ping();
    },
    onClosed(listener) {
      if (closedInfo) listener(closedInfo);
      else closeListeners.push(listener);
    },
    onPong(listener) {
      pongListeners.push(listener);
    },
    close: doClose,
    terminate(reason = 'terminated') {
      localReason ??= reason;
      ws.terminate();
    },
  };
}
