// The gRPC side of the gateway link: one grpc-js channel per gateway, and on
// it one `protobuf.Transport/Connect` bidi stream at a time. The channel is
// kept across reconnects (grpc-js remembers a gateway's "too many pings"
// verdict on it); its own reconnect backoff is kept short, so the
// connection statechart's backoff is the one that decides.
import { Client, status, type ChannelOptions, type ClientDuplexStream, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { decodePacket, encodePacket, type Packet } from './packet-codec.js';
import type { ChannelSecurity } from './tls.js';
import { TransportMethod } from './wire-names.js';

/** hoop's MaxRecvMsgSize (common/grpc/client.go). */
export const MAX_MESSAGE_BYTES = 17 * 1024 * 1024;

/** Receive window of the gateway stream: what the gateway may send ahead of the agent reading it. */
export const FLOW_CONTROL_WINDOW = 2 * 1024 * 1024;

export interface KeepalivePolicy {
  /** HTTP/2 PING interval; 0 turns pings off (as in hoop). */
  timeMs: number;
  /** A PING unanswered this long is a dead link. */
  timeoutMs: number;
}

export interface TransportOptions {
  /** host:port */
  address: string;
  security: ChannelSecurity;
  keepalive: KeepalivePolicy;
  userAgent: string;
}

export interface CallEnd {
  /** gRPC status name, e.g. UNAVAILABLE, UNAUTHENTICATED, or OK for a clean end of stream. */
  code: string;
  details: string;
}

export interface CallHandlers {
  packet(p: Packet): void;
  /** Exactly once, whatever ended the call; never after cancel(). */
  end(e: CallEnd): void;
}

export function statusName(code: number): string {
  return (status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}

/** grpc-js ends some messages with an empty "Resolution note: ". */
function tidy(details: string): string {
  return details.replace(/\.? Resolution note: ?$/, '');
}

/**
 * One Connect stream of the link. Its gRPC stream is created by the
 * transport a turn of the event loop after `open()` (see GatewayTransport),
 * so a call cancelled before that never reaches the gateway at all.
 */
export class GatewayCall {
  private stream: ClientDuplexStream<Packet, Packet> | null = null;
  private done = false;
  private paused = false;
  private drainWaiters: Array<() => void> = [];
  private blocked = false;

  constructor(
    private readonly handlers: CallHandlers,
    private readonly retire: (stream: ClientDuplexStream<Packet, Packet>) => void,
  ) {}

  /** Whether the call is over (ended by the gateway, or cancelled by us). */
  get finished(): boolean {
    return this.done;
  }

  /** Called once by the transport when the call's turn comes. */
  attach(stream: ClientDuplexStream<Packet, Packet>): void {
    this.stream = stream;
    if (this.paused) stream.pause();
    stream.on('data', (p: Packet) => {
      if (!this.done) this.handlers.packet(p);
    });
    const finish = (e: CallEnd) => {
      if (this.done) return;
      this.done = true;
      this.releaseWaiters();
      this.handlers.end(e);
    };
    stream.on('error', (err: ServiceError) => finish({ code: statusName(err.code), details: tidy(err.details || err.message) }));
    // A stream that ends with status OK is the gateway hanging up (hoop's EOF).
    stream.on('status', (s: { code: number; details: string }) => {
      if (s.code === status.OK) finish({ code: 'OK', details: s.details || 'the gateway ended the stream' });
    });
    stream.on('drain', () => {
      this.blocked = false;
      this.releaseWaiters();
    });
  }

  get writable(): boolean {
    return this.stream !== null && !this.blocked && !this.done;
  }

  /** Queues a packet; false when grpc-js' buffer is over its high-water mark (or the stream is not there). */
  write(p: Packet): boolean {
    if (this.done || !this.stream) return false;
    const ok = this.stream.write(p);
    if (!ok) this.blocked = true;
    return ok;
  }

  onceWritable(fn: () => void): void {
    if (this.writable || this.done) fn();
    else this.drainWaiters.push(fn);
  }

  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    this.paused = false;
    this.stream?.resume();
  }

  /** Ends the call from our side; its handlers hear nothing more. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.releaseWaiters();
    const stream = this.stream;
    if (!stream) return; // never started: nothing reached the gateway
    stream.on('error', () => {});
    this.retire(stream);
  }

  private releaseWaiters(): void {
    for (const w of this.drainWaiters.splice(0)) w();
  }
}

export class GatewayTransport {
  private readonly client: Client;
  private current: GatewayCall | null = null;
  private starting: { call: GatewayCall; metadata: Metadata } | null = null;
  private readonly retiring: Array<ClientDuplexStream<Packet, Packet>> = [];
  private turn: NodeJS.Immediate | null = null;
  private closed = false;

  constructor(readonly options: TransportOptions) {
    const channelOptions: ChannelOptions = {
      ...options.security.options,
      'grpc.primary_user_agent': options.userAgent,
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // The connection statechart owns the retry cadence (2, 4, 8, 8 s); grpc-js'
      // own channel backoff (up to 120 s) must never be the longer one.
      'grpc.initial_reconnect_backoff_ms': 1000,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.use_local_subchannel_pool': 1,
      // HTTP/2's default 64 KiB stream window allows one 64 KiB packet per round trip from
      // the gateway; grpc-go's gateway grows its own window by BDP, grpc-js does not.
      'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
      ...(options.keepalive.timeMs > 0
        ? {
            'grpc.keepalive_time_ms': options.keepalive.timeMs,
            'grpc.keepalive_timeout_ms': options.keepalive.timeoutMs,
            'grpc.keepalive_permit_without_calls': 1,
          }
        : {}),
    };
    this.client = new Client(options.address, options.security.credentials, channelOptions);
  }

  /**
   * A new Connect stream, replacing the current one: at most one stream of
   * this transport exists at the gateway at any time, however many dials
   * pile up (only the last of several opened in one turn is ever started).
   */
  open(metadata: Metadata, handlers: CallHandlers): GatewayCall {
    if (this.closed) throw new Error('gateway transport is closed');
    this.current?.cancel();
    const call = new GatewayCall(handlers, (stream) => this.retireStream(stream));
    this.current = call;
    this.starting = { call, metadata };
    this.scheduleTurn();
    return call;
  }

  /** Cancels the current stream and closes the channel once its cancel went out. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.current?.cancel();
    this.current = null;
    this.starting = null;
    this.scheduleTurn();
  }

  private retireStream(stream: ClientDuplexStream<Packet, Packet>): void {
    this.retiring.push(stream);
    this.scheduleTurn();
  }

  private scheduleTurn(): void {
    if (this.turn) return;
    this.turn = setImmediate(() => this.takeTurn());
  }

  /**
   * Stream starts and cancels happen here, a macrotask after they were asked
   * for. Two reasons. grpc-js 1.14 starts a stream on the wire even when it
   * is cancelled in the same tick it was created (its ResolvingCall creates
   * the child call in a promise callback without looking whether the call
   * ended meanwhile), and the gateway then keeps that stream registered
   * forever: every later attempt gets "agent already connected". A turn later
   * the stream has started, and its cancel sends RST_STREAM. And cancels run
   * before the next start, so on the one HTTP/2 connection the gateway reads
   * the old stream's reset before the new stream's headers.
   */
  private takeTurn(): void {
    this.turn = null;
    for (const stream of this.retiring.splice(0)) stream.cancel();
    const start = this.starting;
    this.starting = null;
    if (start && !start.call.finished) {
      start.call.attach(this.client.makeBidiStreamRequest<Packet, Packet>(TransportMethod.Connect, encodePacket, decodePacket, start.metadata, {}));
    }
    if (this.closed) this.client.close();
  }
}
