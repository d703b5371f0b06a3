// The client side of a development-gateway session: `reagent connect`
// forwards a local port through an agent, `reagent exec` runs a command
// through one. Both open the Connect RPC with `origin: client` (see
// protocol.ts) and then speak the agent's packet types.
import { createServer, type Server, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { Client, Metadata, type ChannelCredentials, type ChannelOptions, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { packet, decodePacket, encodePacket, type Packet } from '../adapters/grpc/packet-codec.js';
import { FLOW_CONTROL_WINDOW, MAX_MESSAGE_BYTES, statusName } from '../adapters/grpc/transport.js';
import { AgentPacket, ClientPacket, ConnectionOrigin, ConnectMetadata, SpecKey, TransportMethod } from '../adapters/grpc/wire-names.js';
import { ClientSpec, type SessionTarget } from './protocol.js';
import { ReadCoalescer } from '../adapters/grpc/sessions/coalesce.js';

/** Largest TCPConnectionWrite a connection's reads are gathered into (see coalesce.ts). */
const COALESCE_MAX_BYTES = 1024 * 1024;

export interface GatewayEndpoint {
  address: string;
  credentials: ChannelCredentials;
  options?: ChannelOptions;
  /** The gateway's admin token (gateway/admin-token.ts). */
  token: string;
}

export class SessionError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** One open session: packets in and out, and how it ended. */
export class ClientSession {
  private handlers: Array<(p: Packet) => void> = [];
  private endHandlers: Array<(code: number, message: string) => void> = [];
  private ended = false;
  /** Packets and the end that arrive before anyone listens (between open and the first handler). */
  private early: Packet[] = [];
  private endedWith: [number, string] | null = null;

  constructor(
    readonly sid: string,
    private readonly client: Client,
    private readonly call: ClientDuplexStream<Packet, Packet>,
  ) {
    call.on('data', (p: Packet) => {
      if (p.type === ClientPacket.SessionClose) {
        const code = Number(p.spec.get(SpecKey.ClientExitCode)?.toString() ?? '254');
        return this.finish(Number.isInteger(code) ? code : 254, p.payload.toString('utf8'));
      }
      if (this.handlers.length === 0) this.early.push(p);
      for (const h of this.handlers) h(p);
    });
    call.on('error', (err: ServiceError) => this.finish(254, `gateway: ${statusName(err.code)}: ${err.details || err.message}`));
    call.on('end', () => this.finish(254, 'the gateway ended the session'));
  }

  onPacket(h: (p: Packet) => void): void {
    this.handlers.push(h);
    for (const p of this.early.splice(0)) h(p);
  }

  onEnd(h: (code: number, message: string) => void): void {
    if (this.endedWith) h(...this.endedWith);
    else this.endHandlers.push(h);
  }

  send(type: string, spec: Array<[string, Buffer]> = [], payload?: Buffer): boolean {
    if (this.ended) return false;
    return this.call.write(packet(type, spec, payload));
  }

  get writable(): boolean {
    return !this.call.writableNeedDrain;
  }

  onceDrained(fn: () => void): void {
    this.call.once('drain', fn);
  }

  pause(): void {
    this.call.pause();
  }

  resume(): void {
    this.call.resume();
  }

  close(): void {
    if (this.ended) return;
    this.send(AgentPacket.SessionClose);
    this.finish(0, '');
  }

  private finish(code: number, message: string): void {
    if (this.ended) return;
    this.ended = true;
    this.call.removeAllListeners('data');
    this.call.on('error', () => {});
    this.call.end();
    setImmediate(() => this.client.close());
    this.endedWith = [code, message];
    for (const h of this.endHandlers.splice(0)) h(code, message);
  }
}

/** Opens a session through `agent`; resolves after ClientSessionOpenOK. */
export function openSession(gw: GatewayEndpoint, agent: string, target: SessionTarget, requestPort?: number): Promise<ClientSession> {
  const client = new Client(gw.address, gw.credentials, {
    ...gw.options,
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
  });
  const md = new Metadata();
  md.set(ConnectMetadata.Origin, ConnectionOrigin.Client);
  md.set(ConnectMetadata.Authorization, `Bearer ${gw.token}`);
  const call = client.makeBidiStreamRequest<Packet, Packet>(TransportMethod.Connect, encodePacket, decodePacket, md, {});
  const spec: Array<[string, Buffer]> = [
    [ClientSpec.Agent, Buffer.from(agent)],
    [ClientSpec.Target, Buffer.from(JSON.stringify(target))],
  ];
  if (requestPort !== undefined) spec.push([SpecKey.ClientRequestPort, Buffer.from(String(requestPort))]);
  call.write(packet(AgentPacket.SessionOpen, spec));
  return new Promise((resolve, reject) => {
    // hoop's gateway gives up on an agent that does not answer, too (ClientSessionOpenTimeout).
    const timer = setTimeout(() => fail(new SessionError(`agent ${agent} did not open the session within ${OPEN_TIMEOUT_MS / 1000} s`, 1)), OPEN_TIMEOUT_MS);
    const fail = (e: SessionError) => {
      clearTimeout(timer);
      call.removeAllListeners('data');
      call.on('error', () => {});
      call.cancel();
      client.close();
      reject(e);
    };
    const onData = (p: Packet) => {
      if (p.type === ClientPacket.SessionOpenOK) {
        clearTimeout(timer);
        call.off('data', onData);
        call.off('error', onError);
        call.off('end', onEnd);
        const sid = p.spec.get(SpecKey.GatewaySessionID)?.toString('latin1') ?? '';
        resolve(new ClientSession(sid, client, call));
      } else if (p.type === ClientPacket.SessionOpenAgentOffline) {
        fail(new SessionError(p.payload.toString('utf8') || `agent ${agent} is offline`, 1));
      } else if (p.type === ClientPacket.SessionClose) {
        const code = Number(p.spec.get(SpecKey.ClientExitCode)?.toString() ?? '254');
        fail(new SessionError(p.payload.toString('utf8') || 'the session was refused', Number.isInteger(code) ? code : 254));
      }
    };
    const onError = (err: ServiceError) => fail(new SessionError(`gateway ${gw.address}: ${statusName(err.code)}: ${err.details || err.message}`, 1));
    const onEnd = () => fail(new SessionError('the gateway ended the stream before the session opened', 1));
    call.on('data', onData);
    call.on('error', onError);
    call.on('end', onEnd);
  });
}

/** Longer than the gateway's wait for an offline agent (15 s) plus the agent's liveness check (5 s). */
const OPEN_TIMEOUT_MS = 30_000;

/**
 * `reagent connect`: every connection to the local listener becomes one
 * `client.connection_id` of the session, numbered 1, 2, ... as hoop's CLI does.
 */
export class PortForward {
  private next = 1;
  private readonly sockets = new Map<string, Socket>();
  private server: Server | null = null;

  constructor(private readonly session: ClientSession) {
    session.onPacket((p) => this.fromAgent(p));
    session.onEnd(() => this.shutdown());
  }

  listen(host: string, port: number): Promise<number> {
    const server = createServer((s) => this.accept(s));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as { port: number }).port));
    });
  }

  shutdown(): void {
    this.server?.close();
    this.server = null;
    for (const s of this.sockets.values()) s.destroy();
    this.sockets.clear();
  }

  private accept(socket: Socket): void {
    const id = String(this.next++);
    const idBytes = Buffer.from(id);
    this.sockets.set(id, socket);
    socket.setNoDelay(true);
    const spec = (): Array<[string, Buffer]> => [[SpecKey.ClientConnectionID, idBytes]];
    const batch = new ReadCoalescer((payload) => {
      this.session.send(AgentPacket.TCPConnectionWrite, spec(), payload);
      if (!this.session.writable && !socket.isPaused()) {
        socket.pause();
        this.session.onceDrained(() => socket.resume());
      }
    }, COALESCE_MAX_BYTES);
    socket.on('data', (chunk: Buffer) => batch.push(chunk));
    const closed = () => {
      if (this.sockets.get(id) !== socket) return;
      this.sockets.delete(id);
      batch.flush();
      this.session.send(AgentPacket.TCPConnectionClose, spec());
    };
    socket.on('end', () => {
      closed();
      socket.end();
    });
    socket.on('error', () => {
      closed();
      socket.destroy();
    });
    socket.on('close', closed);
  }

  private fromAgent(p: Packet): void {
    const id = p.spec.get(SpecKey.ClientConnectionID)?.toString('latin1');
    if (id === undefined) return;
    const socket = this.sockets.get(id);
    if (!socket) return;
    if (p.type === ClientPacket.TCPConnectionClose) {
      this.sockets.delete(id);
      socket.end();
      return;
    }
    if (!socket.write(p.payload)) {
      // One session carries every connection: a slow local reader holds back the stream.
      this.session.pause();
      socket.once('drain', () => this.session.resume());
    }
  }
}

/** `reagent exec`: stdin in one packet, stdout/stderr as they come, the remote exit code. */
export async function runExec(session: ClientSession, io: { stdin: Readable | null; stdout: Writable; stderr: Writable }): Promise<{ code: number; message: string }> {
  const ended = new Promise<{ code: number; message: string }>((resolve) => session.onEnd((code, message) => resolve({ code, message })));
  session.onPacket((p) => {
    if (p.type === ClientPacket.WriteStdout) writeWithBackpressure(session, io.stdout, p.payload);
    else if (p.type === ClientPacket.WriteStderr) writeWithBackpressure(session, io.stderr, p.payload);
  });
  const input = io.stdin ? await readAll(io.stdin) : Buffer.alloc(0);
  // Exec is one-shot: stdin travels in one packet, under the 17 MiB message cap.
  if (input.length > MAX_STDIN_BYTES) {
    session.close();
    throw new SessionError(`stdin is ${input.length} bytes; exec takes at most ${MAX_STDIN_BYTES} (16 MiB) in one go`, 1);
  }
  session.send(AgentPacket.ExecWriteStdin, [], input);
  return ended;
}

const MAX_STDIN_BYTES = 16 * 1024 * 1024;

function writeWithBackpressure(session: ClientSession, out: Writable, data: Buffer): void {
  if (!out.write(data)) {
    session.pause();
    out.once('drain', () => session.resume());
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** What `reagent exec -t` needs of the local terminal (process.stdin / process.stdout when they are TTYs). */
export interface TerminalIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable & { rows?: number; columns?: number; on(event: 'resize', fn: () => void): unknown; off(event: 'resize', fn: () => void): unknown };
}

/**
 * `reagent exec -t`: hoop's interactive terminal, as `hoop connect` runs it.
 * The size goes first (the agent keeps it for the spawn), then the first
 * AgentTerminalWriteStdin, which only spawns; keystrokes follow in raw mode,
 * SIGWINCH (the stdout 'resize' event) becomes AgentTerminalResizeTTY, and
 * the remote exit code is returned.
 */
export async function runTerminal(session: ClientSession, io: TerminalIo): Promise<{ code: number; message: string }> {
  const ended = new Promise<{ code: number; message: string }>((resolve) => session.onEnd((code, message) => resolve({ code, message })));
  session.onPacket((p) => {
    if (p.type === ClientPacket.WriteStdout || p.type === ClientPacket.WriteStderr) writeWithBackpressure(session, io.stdout, p.payload);
  });
  const sendSize = () => {
    // A terminal with no size (0x0: a pty behind a pipe, a serial console) gets the usual 24x80.
    const rows = io.stdout.rows || 24;
    const cols = io.stdout.columns || 80;
    session.send(AgentPacket.TerminalResizeTTY, [], Buffer.from(`${rows},${cols},0,0`));
  };
  sendSize();
  session.send(AgentPacket.TerminalWriteStdin, [], Buffer.from('\n'));
  const raw = io.stdin.isTTY === true && typeof io.stdin.setRawMode === 'function';
  if (raw) io.stdin.setRawMode!(true);
  const onInput = (chunk: Buffer | string) => {
    // At most the agent's 1 MiB per packet (a large paste is split).
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (let i = 0; i < data.length; i += MAX_TERMINAL_INPUT) session.send(AgentPacket.TerminalWriteStdin, [], data.subarray(i, i + MAX_TERMINAL_INPUT));
  };
  const onStdinEnd = () => session.send(AgentPacket.TerminalClose);
  io.stdin.on('data', onInput);
  io.stdin.on('end', onStdinEnd);
  io.stdout.on('resize', sendSize);
  try {
    return await ended;
  } finally {
    io.stdin.off('data', onInput);
    io.stdin.off('end', onStdinEnd);
    io.stdout.off('resize', sendSize);
    if (raw) io.stdin.setRawMode!(false);
    io.stdin.pause();
  }
}

const MAX_TERMINAL_INPUT = 1024 * 1024;
