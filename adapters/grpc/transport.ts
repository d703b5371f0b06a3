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

export class GatewayCall {
  private done = false;
  private drainWaiters: Array<() => void> = [];
  private blocked = false;

  constructor(
    private readonly stream: ClientDuplexStream<Packet, Packet>,
    handlers: CallHandlers,
  ) {
    stream.on('data', (p: Packet) => {
      if (!this.done) handlers.packet(p);
    });
    const finish = (e: CallEnd) => {
      if (this.done) return;
      this.done = true;
      this.releaseWaiters();
      handlers.end(e);
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
    return !this.blocked && !this.done;
  }

  /** Queues a packet; false when grpc-js' buffer is over its high-water mark. */
  write(p: Packet): boolean {
    if (this.done) return false;
    const ok = this.stream.write(p);
    if (!ok) this.blocked = true;
    return ok;
  }

  onceWritable(fn: () => void): void {
    if (this.writable || this.done) fn();
    else this.drainWaiters.push(fn);
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  /** Ends the call from our side; its handlers hear nothing more. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.releaseWaiters();
    this.stream.on('error', () => {});
    this.stream.cancel();
  }

  private releaseWaiters(): void {
    for (const w of this.drainWaiters.splice(0)) w();
  }
}

export class GatewayTransport {
  private readonly client: Client;

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

  open(metadata: Metadata, handlers: CallHandlers): GatewayCall {
    const stream = this.client.makeBidiStreamRequest<Packet, Packet>(TransportMethod.Connect, encodePacket, decodePacket, metadata, {});
    return new GatewayCall(stream, handlers);
  }

  close(): void {
    this.client.close();
  }
}
