// The heart of the development gateway: one live Connect stream per agent,
// client sessions routed to them by `gateway.session_id`, as hoop's gateway
// does (gateway/transport/agent.go, client.go):
//   - a second stream for a connected agent gets FailedPrecondition
//     "agent already connected";
//   - an accepted agent gets AgentGatewayConnectOK, then GatewayFeatureFlagUpdate;
//   - agent packets without `gateway.session_id` are dropped, keep-alives ignored;
//   - ClientSessionClose from the agent ends the client's stream;
//   - a client asking for an offline agent waits up to 15 s for it.
// Flow control: a slow client holds back its agent's stream (and a slow
// agent its clients), so memory stays bounded at the cost of head-of-line
// blocking, which is fine for a development tool.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { encodeConnectionParams, emptyConnectionParams } from '../adapters/grpc/gob/connection-params.js';
import { packet, type Packet } from '../adapters/grpc/packet-codec.js';
import { AgentPacket, ClientPacket, ConnectionOrigin, GatewayPacket, SpecKey } from '../adapters/grpc/wire-names.js';
import type { AgentRecord, AgentStore } from './agents.js';
import { authenticate } from './auth.js';
import { CLIENT_FORWARDED_TYPES, ClientSpec, parseTarget, type SessionTarget } from './protocol.js';

type Call = ServerDuplexStream<Packet, Packet>;

/** What the gateway keeps of an agent's metadata (hoop's defaultAgentMetadataKeys, minus Go's). */
const METADATA_KEYS = ['hostname', 'platform', 'machine-id', 'kernel-version', 'version'];

interface AgentConn {
  agent: AgentRecord;
  call: Call;
  metadata: Record<string, string>;
  sessions: Map<string, ClientConn>;
  connectedAt: string;
  /** Clients whose stream buffer is full: the agent's stream is paused while any is. */
  slowClients: Set<string>;
  closed: boolean;
  /** Counts the stream closed in the agent's stream count. */
  closeStream: () => void;
}

interface ClientConn {
  sid: string;
  call: Call;
  agent: AgentConn;
  closed: boolean;
}

export interface RouterOptions {
  store: AgentStore;
  logger: Logger;
  adminToken: string;
  anonymousLocal: boolean;
  offlineWaitMs: number;
  featureFlags?: Record<string, boolean>;
}

export interface AgentStatus {
  name: string;
  connected: boolean;
  connectedAt: string | null;
  metadata: Record<string, string>;
  sessions: number;
  /** Connect streams of this agent open right now, a refused second one included while it is being refused. */
  streams: number;
  /** The most streams of this agent ever open at once since the gateway started (1 for a well-behaved agent). */
  peakStreams: number;
}

/** Open Connect streams of one agent: an agent must never hold more than one. */
interface StreamCount {
  open: number;
  peak: number;
}

function b(text: string): Buffer {
  return Buffer.from(text);
}

function end(call: Call, code: status, details: string): void {
  call.emit('error', { code, details });
}

export class Router {
  private readonly online = new Map<string, AgentConn>();
  private readonly arrivals = new EventEmitter();
  private readonly clients = new Set<Call>();
  private readonly agentStreams = new Map<string, StreamCount>();

  constructor(private readonly opts: RouterOptions) {
    this.arrivals.setMaxListeners(0);
  }

  status(name: string): AgentStatus {
    const a = this.online.get(name);
    const streams = this.agentStreams.get(name);
    return {
      name,
      connected: !!a,
      connectedAt: a?.connectedAt ?? null,
      metadata: a?.metadata ?? {},
      sessions: a?.sessions.size ?? 0,
      streams: streams?.open ?? 0,
      peakStreams: streams?.peak ?? 0,
    };
  }

  /** Counts a stream of `name` as open; the returned function counts it closed (once). */
  private countStream(name: string): { count: StreamCount; close: () => void } {
    let count = this.agentStreams.get(name);
    if (!count) this.agentStreams.set(name, (count = { open: 0, peak: 0 }));
    count.open++;
    count.peak = Math.max(count.peak, count.open);
    let open = true;
    const c = count;
    return {
      count,
      close: () => {
        if (open) c.open--;
        open = false;
      },
    };
  }

  /** The Connect handler. */
  connect = (call: Call): void => {
    this.guard(call, 'a new stream', () => {
      const auth = authenticate(call.metadata, call.getPeer(), { store: this.opts.store, adminToken: this.opts.adminToken, anonymousLocal: this.opts.anonymousLocal });
      if (!auth.ok) {
        this.opts.logger.warn({ peer: call.getPeer(), code: status[auth.code] }, `refused a stream: ${auth.message}`);
        return end(call, auth.code, auth.message);
      }
      if (auth.caller.kind === 'agent') {
        if (auth.caller.agent.kind === 'local') {
          this.opts.logger.warn({ peer: call.getPeer() }, 'accepted an agent without a token as agent "local" (--allow-local-agent): any process on this machine could be it');
        }
        this.acceptAgent(call, auth.caller.agent);
      } else this.acceptClient(call);
    });
  };

  /**
   * Runs a handler of a peer's packet or stream: whatever it throws ends
   * that stream with INTERNAL and is logged; the gateway itself goes on.
   */
  private guard(call: Call, what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.logger.error({ peer: call.getPeer(), err: err instanceof Error ? err.message : String(err) }, `failed handling ${what}; that stream is closed`);
      try {
        end(call, status.INTERNAL, 'the gateway failed handling this stream');
      } catch {
        // The stream is gone already.
      }
    }
  }

  /** Ends every stream (shutdown). */
  closeAll(): void {
    for (const a of [...this.online.values()]) this.dropAgent(a, 'gateway stopping', true);
    for (const c of [...this.clients]) end(c, status.UNAVAILABLE, 'gateway stopping');
  }

  private acceptAgent(call: Call, agent: AgentRecord): void {
    const stream = this.countStream(agent.name);
    if (this.online.has(agent.name)) {
      this.opts.logger.warn({ agent: agent.name, streams: stream.count.open, peakStreams: stream.count.peak }, 'refused a second stream for a connected agent');
      end(call, status.FAILED_PRECONDITION, 'agent already connected');
      stream.close();
      return;
    }
    const metadata: Record<string, string> = {};
    for (const key of METADATA_KEYS) {
      const v = call.metadata.get(key)[0];
      if (v !== undefined) metadata[key] = String(v);
    }
    const conn: AgentConn = { agent, call, metadata, sessions: new Map(), connectedAt: new Date().toISOString(), slowClients: new Set(), closed: false, closeStream: stream.close };
    this.online.set(agent.name, conn);
    this.opts.logger.info({ agent: agent.name, kind: agent.kind, ...metadata, streams: stream.count.open, peakStreams: stream.count.peak }, 'agent connected');
    call.write(packet(AgentPacket.GatewayConnectOK));
    call.write(packet(GatewayPacket.FeatureFlagUpdate, [[SpecKey.FeatureFlags, b(JSON.stringify(this.opts.featureFlags ?? {}))]]));
    this.arrivals.emit(agent.name);
    call.on('data', (p: Packet) => this.guard(call, `a ${p.type.slice(0, 64)} packet from agent ${agent.name}`, () => this.fromAgent(conn, p)));
    const gone = (why: string) => this.dropAgent(conn, why, false);
    call.on('end', () => gone('stream ended'));
    call.on('cancelled', () => gone('stream cancelled'));
    call.on('error', (err: Error) => gone(`stream failed: ${err.message}`));
    call.on('close', () => gone('stream closed'));
  }

  private fromAgent(conn: AgentConn, p: Packet): void {
    if (p.type === GatewayPacket.KeepAlive || p.type === GatewayPacket.LegacyKeepAlive || p.type === ClientPacket.AgentLogs) return;
    const sidBytes = p.spec.get(SpecKey.GatewaySessionID);
    if (!sidBytes || sidBytes.length === 0) {
      this.opts.logger.warn({ agent: conn.agent.name, type: p.type }, 'dropped an agent packet: missing session id spec');
      return;
    }
    const sid = sidBytes.toString('latin1');
    const client = conn.sessions.get(sid);
    if (!client || client.closed) return;
    if (p.type === ClientPacket.SessionOpenOK) p.spec.set(SpecKey.AgentVersion, b(conn.metadata['version'] ?? 'unknown'));
    const ok = client.call.write(p);
    if (p.type === ClientPacket.SessionClose) {
      this.closeClient(client, null);
      return;
    }
    if (!ok && !conn.slowClients.has(sid)) {
      conn.slowClients.add(sid);
      if (conn.slowClients.size === 1) conn.call.pause();
      client.call.once('drain', () => this.clientDrained(conn, sid));
    }
  }

  private clientDrained(conn: AgentConn, sid: string): void {
    if (!conn.slowClients.delete(sid)) return;
    if (conn.slowClients.size === 0 && !conn.closed) conn.call.resume();
  }

  private dropAgent(conn: AgentConn, why: string, tell: boolean): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.closeStream();
    if (this.online.get(conn.agent.name) === conn) this.online.delete(conn.agent.name);
    this.opts.logger.info({ agent: conn.agent.name, reason: why }, 'agent disconnected');
    for (const client of [...conn.sessions.values()]) {
      client.call.write(
        packet(ClientPacket.SessionClose, [[SpecKey.GatewaySessionID, b(client.sid)], [SpecKey.ClientExitCode, b('254')]], b(`agent ${conn.agent.name} disconnected`)),
      );
      this.closeClient(client, null);
    }
    if (tell) end(conn.call, status.UNAVAILABLE, why);
  }

  private acceptClient(call: Call): void {
    this.clients.add(call);
    let session: ClientConn | null = null;
    let opening = false;
    const cleanup = () => {
      this.clients.delete(call);
      if (session && !session.closed) {
        // The client went away: the agent closes the session's connections or process.
        session.agent.call.write(packet(AgentPacket.SessionClose, [[SpecKey.GatewaySessionID, b(session.sid)]]));
        this.closeClient(session, null);
      }
    };
    call.on('end', cleanup);
    call.on('cancelled', cleanup);
    call.on('error', cleanup);
    call.on('close', cleanup);
    call.on('data', (p: Packet) => this.guard(call, `a ${p.type.slice(0, 64)} packet from a client`, () => onClientPacket(p)));
    const onClientPacket = (p: Packet) => {
      if (session) return this.fromClient(session, p);
      if (opening) return;
      if (p.type !== AgentPacket.SessionOpen) return end(call, status.INVALID_ARGUMENT, 'the first packet must be AgentSessionOpen');
      opening = true;
      const agentName = p.spec.get(ClientSpec.Agent)?.toString('utf8') ?? '';
      const target = parseTarget(p.spec.get(ClientSpec.Target));
      if (typeof target === 'string') return end(call, status.INVALID_ARGUMENT, target);
      call.pause();
      this.waitForAgent(agentName).then((conn) => {
        if (!this.clients.has(call)) return;
        call.resume();
        if (!conn) {
          call.write(packet(ClientPacket.SessionOpenAgentOffline, [], b(`agent ${agentName} is offline`)));
          call.end();
          return;
        }
        this.guard(call, 'opening a session', () => {
          session = this.openSession(conn, call, target, p.spec.get(SpecKey.ClientRequestPort));
        });
      });
    };
  }

  private waitForAgent(name: string): Promise<AgentConn | null> {
    const now = this.online.get(name);
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.arrivals.off(name, arrived);
        resolve(null);
      }, this.opts.offlineWaitMs);
      const arrived = () => {
        clearTimeout(timer);
        resolve(this.online.get(name) ?? null);
      };
      this.arrivals.once(name, arrived);
    });
  }

  /** Builds the AgentSessionOpen hoop's gateway would send, gob params included. */
  private openSession(conn: AgentConn, call: Call, target: SessionTarget, requestPort: Buffer | undefined): ClientConn {
    const sid = randomUUID();
    const session: ClientConn = { sid, call, agent: conn, closed: false };
    conn.sessions.set(sid, session);
    const connectionType = target.type;
    const params = encodeConnectionParams({
      ...emptyConnectionParams(),
      ConnectionName: target.type === 'tcp' ? `tcp-${target.host}-${target.port}` : 'exec',
      ConnectionType: connectionType,
      UserID: 'dev',
      UserEmail: 'dev@localhost',
      EnvVars:
        target.type === 'tcp'
          ? { 'envvar:HOST': b(target.host).toString('base64'), 'envvar:PORT': b(String(target.port)).toString('base64') }
          : {},
      CmdList: target.type === 'command-line' ? target.command : [],
      // hoop: `hoop connect` (a terminal, too) versus `hoop exec`.
      ClientVerb: target.type === 'tcp' || target.tty ? 'connect' : 'exec',
      ClientOrigin: ConnectionOrigin.Client,
    });
    const spec: Array<[string, Buffer]> = [
      [SpecKey.GatewaySessionID, b(sid)],
      [SpecKey.ConnectionType, b(connectionType)],
      [SpecKey.ConnectionName, b(target.type === 'tcp' ? `tcp-${target.host}-${target.port}` : 'exec')],
      [SpecKey.AgentConnectionParams, Buffer.from(params)],
    ];
    if (requestPort) spec.push([SpecKey.ClientRequestPort, requestPort]);
    this.opts.logger.info({ agent: conn.agent.name, sid, type: connectionType }, 'session opening');
    conn.call.write(packet(AgentPacket.SessionOpen, spec));
    return session;
  }

  private fromClient(session: ClientConn, p: Packet): void {
    if (session.closed || !CLIENT_FORWARDED_TYPES.has(p.type)) return;
    // The gateway, not the client, says which session a packet belongs to.
    p.spec.set(SpecKey.GatewaySessionID, b(session.sid));
    const agent = session.agent;
    if (agent.closed) return;
    if (!agent.call.write(p) && !session.call.isPaused()) {
      session.call.pause();
      agent.call.once('drain', () => session.call.resume());
    }
    if (p.type === AgentPacket.SessionClose) this.closeClient(session, null);
  }

  private closeClient(session: ClientConn, why: string | null): void {
    if (session.closed) return;
    session.closed = true;
    session.agent.sessions.delete(session.sid);
    this.clientDrained(session.agent, session.sid);
    this.clients.delete(session.call);
    if (why) end(session.call, status.UNAVAILABLE, why);
    else session.call.end();
  }
}
