// What sessions need from the outside, as interfaces: where packets go, how
// the gateway's inbound flow is held back, what gets journaled. The link
// implements them over a grpc-js call and the actor system; the fuzz tests
// over plain arrays.
import type { Socket } from 'node:net';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { GatewaySessionInbound } from '../../../machines/gateway-session.js';
import type { Packet } from '../packet-codec.js';

/** The agent -> gateway direction of the stream. */
export interface PacketSink {
  /** Queues a packet. Returns false when the transport's buffer is full (the packet is still sent). */
  send(p: Packet): boolean;
  /** Whether the transport can take more right now. */
  readonly writable: boolean;
  /** Runs `fn` once the transport drained (at once if it is writable). */
  onceWritable(fn: () => void): void;
}

/**
 * Holds back the gateway -> agent direction while a target is slower than
 * the gateway: the stream is paused while any key is blocked. It is one
 * stream for every session, so a target that stops reading for good is cut
 * off after `stallMs` instead of stalling the others forever.
 */
export interface InboundGate {
  block(key: string, onStall: () => void): void;
  unblock(key: string): void;
}

/** Session lifecycle into the journal; payload bytes never go through here. */
export interface SessionRecorder {
  opening(sid: string, input: { connectionType: string; connectionName: string; verb: string; userEmail: string }): void;
  record(sid: string, event: GatewaySessionInbound): void;
  closed(sid: string, reason: string, exitCode: number | null): void;
  /**
   * Resolves once everything recorded so far is durable (or the link gave up
   * waiting: see `SessionLimits.exitDurableWaitMs`). An exec waits for it
   * before it sends the exit code, so what the peer saw is on record.
   */
  durable?(): Promise<void>;
  /** A packet that could not be handled (no session, malformed, unsupported). */
  rejected(type: string, sid: string | null, reason: string): void;
}

export type Dialer = (host: string, port: number, timeoutMs: number) => Promise<Socket>;
export type Spawner = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface SessionLimits {
  /** Bound of a target dial (hoop: 10 s per connection). */
  dialTimeoutMs: number;
  /** Bound of the liveness check when a session opens (hoop: 5 s). */
  openCheckTimeoutMs: number;
  /** Per connection while its dial is in flight (hoop: 4096 packets / 64 MiB). */
  maxQueuedPackets: number;
  maxQueuedBytes: number;
  /** Bytes buffered towards a target before the gateway stream is held back. */
  highWaterBytes: number;
  /** How long one target may hold the stream back before its connection is closed. */
  stallMs: number;
  /** Sessions open (or opening) at once; one more is refused with exit code 254. */
  maxSessions: number;
  /** Packets of a session that arrive while it is still opening. */
  maxEarlyPackets: number;
  /** Their bytes, per session and over all opening sessions together. */
  maxEarlyBytes: number;
  maxEarlyBytesTotal: number;
  /** Relayed connections open at once in one TCP session. */
  maxConnectionsPerSession: number;
  /** Interactive terminals (PTYs) open at once; one more fails its session with exit code 254. */
  maxTerminals: number;
  /** Grace between SIGTERM and SIGKILL for an exec that is closed. */
  killGraceMs: number;
  /**
   * How long an exec's exit code waits for its record to be committed while
   * the journal cannot commit (disk full) before it is sent anyway: exec is
   * how an operator frees the space.
   */
  exitDurableWaitMs: number;
}

export const DEFAULT_LIMITS: SessionLimits = {
  dialTimeoutMs: 10_000,
  openCheckTimeoutMs: 5_000,
  maxQueuedPackets: 4096,
  maxQueuedBytes: 64 * 1024 * 1024,
  highWaterBytes: 1024 * 1024,
  stallMs: 30_000,
  maxSessions: 128,
  maxEarlyPackets: 1024,
  maxEarlyBytes: 4 * 1024 * 1024,
  maxEarlyBytesTotal: 32 * 1024 * 1024,
  maxConnectionsPerSession: 256,
  maxTerminals: 64,
  killGraceMs: 5_000,
  exitDurableWaitMs: 5_000,
};
