// TCP-family sessions (tcp, postgres, mysql, mssql, mongodb) as byte relays,
// as hoop's agent/controller/tcp.go does: each `client.connection_id` is its
// own upstream connection, dialled on its first packet and written in
// arrival order. While a dial is in flight the packets wait in a bounded
// queue; once open, a target that reads slower than the gateway writes holds
// the gateway stream back (InboundGate), and one that stops reading for good
// loses its connection with a reason. The other direction pauses the socket
// while the gRPC stream's buffer is full.
import type { Socket } from 'node:net';
import { packet } from '../packet-codec.js';
import { ClientPacket, SpecKey } from '../wire-names.js';
import type { RelayReplyType } from '../packet-validation.js';
import type { Dialer, InboundGate, PacketSink, SessionLimits, SessionRecorder } from './types.js';
import { ReadCoalescer } from './coalesce.js';

type ConnState = 'dialing' | 'open' | 'closed';

interface RelayConnection {
  id: string;
  idBytes: Buffer;
  reply: RelayReplyType;
  state: ConnState;
  socket: Socket | null;
  queue: Buffer[];
  queuedBytes: number;
  /** Reads from the target gathered per event-loop turn (plain `tcp` only), else null. */
  batch: ReadCoalescer | null;
  bytesIn: number;
  bytesOut: number;
  blocked: boolean;
}

export interface TcpTarget {
  host: string;
  port: number;
}

export interface TcpSessionDeps {
  sink: PacketSink;
  gate: InboundGate;
  dial: Dialer;
  recorder: SessionRecorder;
  limits: SessionLimits;
}

/** Closed connection ids remembered per session, so late packets for them are dropped, not redialled. */
const MAX_REMEMBERED_CLOSED = 4096;
/** How long a connection closed by the client may take to finish its writes to the target. */
const LINGER_MS = 10_000;
/** Largest reply a target's reads are gathered into (see coalesce.ts); far below hoop's 17 MiB message cap. */
const COALESCE_MAX_BYTES = 1024 * 1024;

export class TcpSession {
  private readonly conns = new Map<string, RelayConnection>();
  private readonly closedIds = new Set<string>();
  private readonly sidBytes: Buffer;
  private closed = false;

  constructor(
    readonly sid: string,
    readonly target: TcpTarget,
    private readonly deps: TcpSessionDeps,
  ) {
    this.sidBytes = Buffer.from(sid, 'latin1');
  }

  get openConnections(): number {
    return this.conns.size;
  }

  write(connection: string, reply: RelayReplyType, payload: Buffer, serverConnect: boolean): void {
    if (this.closed || this.closedIds.has(connection)) return;
    let conn = this.conns.get(connection);
    if (!conn) {
      if (this.conns.size >= this.deps.limits.maxConnectionsPerSession) {
        this.remember(connection);
        this.deps.sink.send(
          packet(
            ClientPacket.TCPConnectionClose,
            [[SpecKey.GatewaySessionID, this.sidBytes], [SpecKey.ClientConnectionID, Buffer.from(connection, 'latin1')]],
            Buffer.from(`too many connections in this session (at most ${this.deps.limits.maxConnectionsPerSession} at once)`),
          ),
        );
        this.deps.recorder.record(this.sid, { type: 'ERROR', reason: `connection ${connection}: refused, ${this.deps.limits.maxConnectionsPerSession} already open` });
        return;
      }
      conn = this.open(connection, reply);
      // Server-first protocols (MySQL): dial, but the first packet carries nothing to write.
      if (serverConnect) return;
    }
    if (payload.length === 0) return;
    conn.bytesIn += payload.length;
    if (conn.state === 'dialing') {
      conn.queue.push(payload);
      conn.queuedBytes += payload.length;
      if (conn.queue.length > this.deps.limits.maxQueuedPackets || conn.queuedBytes > this.deps.limits.maxQueuedBytes) {
        this.finish(conn, `queue overflow: more than ${this.deps.limits.maxQueuedPackets} packets or ${this.deps.limits.maxQueuedBytes} bytes while connecting to the target`, true);
      }
      return;
    }
    if (conn.state === 'open' && conn.socket) this.push(conn, conn.socket, payload);
  }

  /** The gateway (client) closed this connection. */
  closeConnection(connection: string): void {
    const conn = this.conns.get(connection);
    if (conn) this.finish(conn, 'client closed', false);
    else this.remember(connection);
  }

  close(): void {
    if (this.closed) return;
    for (const conn of [...this.conns.values()]) this.finish(conn, 'session closed', false);
    this.closed = true;
  }

  private open(id: string, reply: RelayReplyType): RelayConnection {
    const conn: RelayConnection = {
      id,
      idBytes: Buffer.from(id, 'latin1'),
      reply,
      state: 'dialing',
      socket: null,
      queue: [],
      queuedBytes: 0,
      batch: null,
      bytesIn: 0,
      bytesOut: 0,
      blocked: false,
    };
    this.conns.set(id, conn);
    this.deps
      .dial(this.target.host, this.target.port, this.deps.limits.dialTimeoutMs)
      .then(
        (socket) => this.attach(conn, socket),
        (err: Error) => this.finish(conn, `cannot connect to ${this.target.host}:${this.target.port}: ${describeError(err)}`, true),
      )
      // Whatever throws in there ends this connection, never the agent (an unhandled rejection would).
      .catch((err: unknown) => this.finish(conn, `internal error: ${describeError(err)}`, true));
    return conn;
  }

  private attach(conn: RelayConnection, socket: Socket): void {
    if (conn.state === 'closed') {
      socket.destroy();
      return;
    }
    conn.state = 'open';
    conn.socket = socket;
    socket.setNoDelay(true);
    this.deps.recorder.record(this.sid, { type: 'CONNECTION_OPENED', connection: conn.id });
    const forward = (chunk: Buffer) => {
      this.deps.sink.send(packet(conn.reply, [[SpecKey.GatewaySessionID, this.sidBytes], [SpecKey.ClientConnectionID, conn.idBytes]], chunk));
      if (!this.deps.sink.writable && !socket.isPaused()) {
        socket.pause();
        this.deps.sink.onceWritable(() => {
          if (conn.state === 'open') socket.resume();
        });
      }
    };
    // hoop's gateway reads the database protocols one packet per message: only plain tcp is gathered.
    if (conn.reply === ClientPacket.TCPConnectionWrite) conn.batch = new ReadCoalescer(forward, COALESCE_MAX_BYTES);
    const batch = conn.batch;
    socket.on('data', (chunk: Buffer) => {
      conn.bytesOut += chunk.length;
      if (batch) batch.push(chunk);
      else forward(chunk);
    });
    socket.on('drain', () => this.unblock(conn));
    socket.on('end', () => this.finish(conn, 'target closed', true));
    socket.on('error', (err) => this.finish(conn, `target connection failed: ${describeError(err)}`, true));
    socket.on('close', () => this.finish(conn, 'target closed', true));
    const queued = conn.queue.splice(0);
    conn.queuedBytes = 0;
    for (const chunk of queued) this.push(conn, socket, chunk);
  }

  private push(conn: RelayConnection, socket: Socket, chunk: Buffer): void {
    socket.write(chunk);
    const buffered = socket.writableLength;
    if (buffered > this.deps.limits.maxQueuedBytes) {
      this.finish(conn, `queue overflow: the target is not reading (${buffered} bytes buffered)`, true);
    } else if (buffered > this.deps.limits.highWaterBytes && !conn.blocked) {
      conn.blocked = true;
      this.deps.gate.block(this.gateKey(conn), () =>
        this.finish(conn, `the target stopped reading for ${Math.round(this.deps.limits.stallMs / 1000)} s`, true),
      );
    }
  }

  private unblock(conn: RelayConnection): void {
    if (!conn.blocked) return;
    conn.blocked = false;
    this.deps.gate.unblock(this.gateKey(conn));
  }

  private gateKey(conn: RelayConnection): string {
    return `${this.sid}:${conn.id}`;
  }

  /** Ends one connection once; `tellGateway` when the agent side is the one ending it. */
  private finish(conn: RelayConnection, reason: string, tellGateway: boolean): void {
    if (conn.state === 'closed') return;
    const wasOpen = conn.state === 'open';
    conn.state = 'closed';
    this.unblock(conn);
    this.conns.delete(conn.id);
    this.remember(conn.id);
    conn.queue.length = 0;
    // What the target sent before it closed still goes first; nothing is sent into a closed session.
    if (tellGateway && !this.closed) conn.batch?.flush();
    conn.batch?.discard();
    const socket = conn.socket;
    conn.socket = null;
    if (socket) {
      socket.removeAllListeners('data');
      socket.on('error', () => {});
      // Let what was written reach the target, then close; a failed socket is destroyed.
      // Reading on (into nowhere) lets the target's FIN arrive, so the socket really closes.
      if (reason === 'client closed' || reason === 'session closed') {
        socket.end();
        socket.resume();
        socket.setTimeout(LINGER_MS, () => socket.destroy());
      } else socket.destroy();
    }
    if (tellGateway && !this.closed) {
      const failed = reason !== 'target closed';
      this.deps.sink.send(
        packet(
          ClientPacket.TCPConnectionClose,
          [[SpecKey.GatewaySessionID, this.sidBytes], [SpecKey.ClientConnectionID, conn.idBytes]],
          failed ? Buffer.from(reason) : undefined,
        ),
      );
    }
    if (wasOpen) {
      this.deps.recorder.record(this.sid, { type: 'CONNECTION_CLOSED', connection: conn.id, bytesIn: conn.bytesIn, bytesOut: conn.bytesOut, reason });
    } else if (reason !== 'session closed' && reason !== 'client closed') {
      this.deps.recorder.record(this.sid, { type: 'ERROR', reason: `connection ${conn.id}: ${reason}` });
    }
  }

  private remember(id: string): void {
    this.closedIds.add(id);
    if (this.closedIds.size > MAX_REMEMBERED_CLOSED) {
      const oldest = this.closedIds.values().next().value;
      if (oldest !== undefined) this.closedIds.delete(oldest);
    }
  }
}

export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') return e.code;
  return e instanceof Error ? e.message : String(err);
}
