// Routes the gateway's classified packets to sessions: opens them (gob
// params, env conventions, a liveness dial), hands writes to the TCP relay
// or the exec, and closes them. Every failure the gateway should hear about
// becomes a ClientSessionClose with exit code 254 and a message; everything
// else that cannot be handled is recorded and ignored. Every packet sent
// carries `gateway.session_id`.
import { decodeConnectionParams, type AgentConnectionParams } from '../gob/connection-params.js';
import { packet } from '../packet-codec.js';
import type { Inbound } from '../packet-validation.js';
import { ClientPacket, SpecKey } from '../wire-names.js';
import { materializeEnv, parseEnvVars, removeEnvFiles } from './env.js';
import { INTERNAL_ERROR_EXIT } from './exec.js';
import { CommandLineSession } from './command-line.js';
import type { Pty } from '../../../packaging/pty.js';
import type { TerminalLedger } from '../../terminal/ledger.js';
import { describeError, TcpSession } from './tcp.js';
import type { Dialer, InboundGate, PacketSink, SessionLimits, SessionRecorder, Spawner } from './types.js';

/** Connection types relayed byte for byte, with the port used when PORT is not given. */
export const RELAY_TYPES: Readonly<Record<string, number | null>> = {
  tcp: null,
  postgres: 5432,
  mysql: 3306,
  mssql: 1433,
  mongodb: 27017,
};
export const EXEC_TYPE = 'command-line';

export interface SessionManagerDeps {
  sink: PacketSink;
  gate: InboundGate;
  recorder: SessionRecorder;
  dial: Dialer;
  spawn: Spawner;
  limits: SessionLimits;
  /** The agent's own environment: the base of an exec's, and `system.agent.envs` values. */
  agentEnv: NodeJS.ProcessEnv;
  /** Where `filesystem:` values are written (sessions/env.ts envFileDir); null refuses them. */
  envDir: string | null;
  /** node-pty for interactive terminals, loaded on first use; absent: terminals are refused. */
  pty?: () => Promise<Pty>;
  /** Where spawned terminals are noted so a restart after a crash can sweep them. */
  ledger?: TerminalLedger | null;
}

type Session =
  | { sid: string; state: 'opening'; early: Inbound[]; earlyBytes: number; files: string[] }
  | { sid: string; state: 'open'; kind: 'tcp'; impl: TcpSession; files: string[] }
  | { sid: string; state: 'open'; kind: 'exec'; impl: CommandLineSession; files: string[] };

/** Sessions ended recently, so their late packets are dropped instead of answered. */
const MAX_REMEMBERED_ENDED = 1024;

/** Variables of the agent an exec inherits; never its credentials. */
const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'TERM'];

export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  private readonly ended = new Set<string>();
  private stopped = false;
  private stopping = false;
  /** Bytes waiting in the `early` queues of every opening session. */
  private earlyBytes = 0;
  /** Interactive terminals running now (bounded by `limits.maxTerminals`). */
  private terminals = 0;

  constructor(private readonly deps: SessionManagerDeps) {}

  get size(): number {
    return this.sessions.size;
  }

  handle(msg: Inbound): void {
    if (this.stopped) return;
    switch (msg.kind) {
      case 'connect-ok':
      case 'keep-alive':
      case 'feature-flags':
        return;
      case 'session-open':
        return this.open(msg);
      case 'invalid':
        this.deps.recorder.rejected(msg.type, msg.sid, msg.reason);
        if (msg.sid !== null) this.fail(msg.sid, `bad ${msg.type} packet: ${msg.reason}`);
        return;
      case 'unsupported':
      case 'system':
        this.deps.recorder.rejected(msg.type, msg.sid, msg.kind === 'system' ? 'system requests are not supported by this agent' : 'unknown packet type');
        return;
      default:
        return this.route(msg);
    }
  }

  /**
   * A packet of this session could not be handled (the link caught an
   * exception): the session ends with exit code 254 and the reason.
   */
  abort(sid: string, reason: string): void {
    this.fail(sid, reason);
  }

  /** The stream ended: every session ends with it (hoop closes them the same way). */
  closeAll(reason: string): void {
    for (const s of [...this.sessions.values()]) this.end(s, reason, null, false);
  }

  stop(reason: string): void {
    // The agent is going: terminals are killed now, not after a grace nobody would wait out.
    this.stopping = true;
    this.closeAll(reason);
    this.stopped = true;
  }

  private route(msg: Extract<Inbound, { sid: string }>): void {
    const s = this.sessions.get(msg.sid);
    if (!s) {
      if (this.ended.has(msg.sid)) return;
      this.deps.recorder.rejected(msg.kind, msg.sid, 'no such session on this agent');
      this.sendClose(msg.sid, INTERNAL_ERROR_EXIT, 'session not found on this agent (it may have restarted)');
      this.forget(msg.sid);
      return;
    }
    if (s.state === 'opening') {
      if (msg.kind === 'session-close') return this.end(s, 'closed by the gateway', null, false);
      const limits = this.deps.limits;
      if (s.early.length >= limits.maxEarlyPackets) return this.fail(msg.sid, `too many packets before the session was open (at most ${limits.maxEarlyPackets})`);
      const bytes = 'payload' in msg ? msg.payload.length : 0;
      if (s.earlyBytes + bytes > limits.maxEarlyBytes) return this.fail(msg.sid, `too many bytes before the session was open (at most ${limits.maxEarlyBytes})`);
      if (this.earlyBytes + bytes > limits.maxEarlyBytesTotal) {
        return this.fail(msg.sid, `too many bytes waiting for sessions to open on this agent (at most ${limits.maxEarlyBytesTotal})`);
      }
      s.early.push(msg);
      s.earlyBytes += bytes;
      this.earlyBytes += bytes;
      return;
    }
    switch (msg.kind) {
      case 'session-close':
        return this.end(s, 'closed by the gateway', null, false);
      case 'tcp-write':
        if (s.kind !== 'tcp') return this.fail(s.sid, `${msg.reply.replace('Client', 'Agent')} sent to a ${EXEC_TYPE} session`);
        return s.impl.write(msg.connection, msg.reply, msg.payload, msg.serverConnect);
      case 'tcp-close':
        if (s.kind === 'tcp') s.impl.closeConnection(msg.connection);
        return;
      case 'exec-stdin':
      case 'terminal-stdin':
      case 'terminal-resize':
      case 'terminal-close': {
        if (s.kind !== 'exec') return this.fail(s.sid, `${inboundName(msg.kind)} sent to a TCP session`);
        const problem = s.impl.handle(msg);
        if (problem) this.fail(s.sid, problem);
        return;
      }
      default:
        return;
    }
  }

  private open(msg: Extract<Inbound, { kind: 'session-open' }>): void {
    const { sid } = msg;
    if (this.sessions.has(sid)) {
      this.deps.recorder.rejected(msg.kind, sid, 'the session is already open; the second AgentSessionOpen was ignored');
      return;
    }
    if (this.sessions.size >= this.deps.limits.maxSessions) {
      const reason = `too many sessions: this agent runs at most ${this.deps.limits.maxSessions} at once`;
      this.deps.recorder.rejected(msg.kind, sid, reason);
      this.sendClose(sid, INTERNAL_ERROR_EXIT, reason);
      this.forget(sid);
      return;
    }
    this.ended.delete(sid);
    const decoded = decodeConnectionParams(msg.params);
    const params = decoded.ok ? decoded.value : null;
    const connectionType = msg.connectionType ?? params?.ConnectionType ?? '';
    this.deps.recorder.opening(sid, {
      connectionType,
      connectionName: params?.ConnectionName ?? '',
      verb: params?.ClientVerb ?? '',
      userEmail: params?.UserEmail ?? '',
    });
    const session: Session = { sid, state: 'opening', early: [], earlyBytes: 0, files: [] };
    this.sessions.set(sid, session);
    if (!decoded.ok) return this.refuse(session, `${SpecKey.AgentConnectionParams}: ${decoded.error}`);
    this.prepare(session, params!, connectionType, msg.spec)
      .catch((err: unknown) => this.refuse(session, `internal error: ${describeError(err)}`))
      // Even the refusal failing must not become an unhandled rejection (which would stop the agent).
      .catch((err: unknown) => this.deps.recorder.rejected(msg.kind, sid, `internal error: ${describeError(err)}`));
  }

  private async prepare(session: Extract<Session, { state: 'opening' }>, params: AgentConnectionParams, connectionType: string, spec: Map<string, Buffer>): Promise<void> {
    const relayPort = RELAY_TYPES[connectionType];
    if (relayPort === undefined && connectionType !== EXEC_TYPE) {
      return this.refuse(session, `connection type "${connectionType}" is not supported by this agent (it relays ${Object.keys(RELAY_TYPES).join(', ')} and runs ${EXEC_TYPE})`);
    }
    const env = materializeEnv(parseEnvVars(params.EnvVars), { dir: this.deps.envDir, agentEnv: this.deps.agentEnv });
    session.files = env.files;
    if (env.problems.length > 0) return this.refuse(session, env.problems.join('; '));

    const okSpec: Array<[string, Buffer]> = [
      [SpecKey.GatewaySessionID, Buffer.from(session.sid, 'latin1')],
      [SpecKey.ConnectionType, Buffer.from(connectionType)],
    ];
    const port = spec.get(SpecKey.ClientRequestPort);
    if (port) okSpec.push([SpecKey.ClientRequestPort, port]);

    if (connectionType === EXEC_TYPE) {
      const command = [...params.CmdList, ...params.ClientArgs];
      if (command.length === 0 || command[0] === '') return this.refuse(session, 'the connection has no command to run');
      const sessionEnv = { ...this.inheritedEnv(), ...env.vars, ...this.hoopVars(session.sid, params, connectionType) };
      const pty = this.deps.pty;
      const impl = new CommandLineSession(session.sid, command, sessionEnv, {
        sink: this.deps.sink,
        spawn: this.deps.spawn,
        recorder: this.deps.recorder,
        limits: this.deps.limits,
        pty: pty ?? (() => Promise.reject(new Error('this agent cannot open terminals (no PTY)'))),
        ledger: this.deps.ledger ?? null,
        acquireTerminal: () => {
          if (this.terminals >= this.deps.limits.maxTerminals) return false;
          this.terminals++;
          return true;
        },
        releaseTerminal: () => {
          this.terminals--;
        },
        onEnd: () => this.release(session.sid),
      });
      okSpec.push([SpecKey.ClientExecCommand, Buffer.from(command.join(' '))]);
      return this.activate(session, { sid: session.sid, state: 'open', kind: 'exec', impl, files: session.files }, okSpec, command[0]!);
    }

    const host = env.vars['HOST'];
    const portText = env.vars['PORT'];
    if (!host) return this.refuse(session, `${connectionType}: the connection has no HOST`);
    const targetPort = portText === undefined ? relayPort : Number(portText);
    if (targetPort === null) return this.refuse(session, `${connectionType}: the connection has no PORT`);
    if (!Number.isInteger(targetPort) || targetPort! < 1 || targetPort! > 65535) return this.refuse(session, `${connectionType}: PORT: expected a port number 1-65535`);
    try {
      // hoop's liveness check: a session to a target that is down fails at open, not at the first write.
      const probe = await this.deps.dial(host, targetPort!, this.deps.limits.openCheckTimeoutMs);
      probe.destroy();
    } catch (err) {
      return this.refuse(session, `cannot connect to ${host}:${targetPort}: ${describeError(err)}`);
    }
    if (this.sessions.get(session.sid) !== session) return;
    const impl = new TcpSession(session.sid, { host, port: targetPort! }, {
      sink: this.deps.sink,
      gate: this.deps.gate,
      dial: this.deps.dial,
      recorder: this.deps.recorder,
      limits: this.deps.limits,
    });
    return this.activate(session, { sid: session.sid, state: 'open', kind: 'tcp', impl, files: session.files }, okSpec, `${host}:${targetPort}`);
  }

  private activate(opening: Extract<Session, { state: 'opening' }>, open: Session, okSpec: Array<[string, Buffer]>, target: string): void {
    // Closed (by the gateway or the stream) while the liveness check ran.
    if (this.sessions.get(opening.sid) !== opening) {
      if (open.state === 'open') open.impl.close();
      return;
    }
    this.sessions.set(opening.sid, open);
    this.releaseEarly(opening);
    this.deps.recorder.record(opening.sid, { type: 'OPENED', target });
    this.deps.sink.send(packet(ClientPacket.SessionOpenOK, okSpec));
    for (const early of opening.early.splice(0)) this.route(early as Extract<Inbound, { sid: string }>);
  }

  private refuse(session: Session, reason: string): void {
    if (this.sessions.get(session.sid) !== session) return;
    this.deps.recorder.record(session.sid, { type: 'OPEN_FAILED', reason });
    this.sendClose(session.sid, INTERNAL_ERROR_EXIT, reason);
    this.end(session, reason, INTERNAL_ERROR_EXIT, false);
  }

  /** Ends a session because of a problem the gateway must hear about. */
  private fail(sid: string, reason: string): void {
    const s = this.sessions.get(sid);
    if (!s) {
      if (this.ended.has(sid)) return;
      this.sendClose(sid, INTERNAL_ERROR_EXIT, reason);
      this.forget(sid);
      return;
    }
    this.sendClose(sid, INTERNAL_ERROR_EXIT, reason);
    this.end(s, reason, INTERNAL_ERROR_EXIT, false);
  }

  private releaseEarly(s: Session): void {
    if (s.state !== 'opening') return;
    this.earlyBytes -= s.earlyBytes;
    s.earlyBytes = 0;
  }

  private end(s: Session, reason: string, exitCode: number | null, _told: boolean): void {
    if (this.sessions.get(s.sid) !== s) return;
    this.sessions.delete(s.sid);
    this.releaseEarly(s);
    this.forget(s.sid);
    if (s.state === 'open') {
      if (s.kind === 'exec') s.impl.close(this.stopping);
      else s.impl.close();
    }
    removeEnvFiles(s.files);
    this.deps.recorder.closed(s.sid, reason, exitCode);
  }

  /** An exec reported its own end (exit code sent); drop the session without a second close. */
  private release(sid: string): void {
    const s = this.sessions.get(sid);
    if (!s) return;
    this.sessions.delete(sid);
    this.releaseEarly(s);
    this.forget(sid);
    removeEnvFiles(s.files);
  }

  private forget(sid: string): void {
    this.ended.add(sid);
    if (this.ended.size > MAX_REMEMBERED_ENDED) {
      const oldest = this.ended.values().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
  }

  private sendClose(sid: string, exitCode: number, message: string): void {
    this.deps.sink.send(
      packet(
        ClientPacket.SessionClose,
        [
          [SpecKey.GatewaySessionID, Buffer.from(sid, 'latin1')],
          [SpecKey.ClientExitCode, Buffer.from(String(exitCode))],
        ],
        Buffer.from(message),
      ),
    );
  }

  get openTerminals(): number {
    return this.terminals;
  }

  private inheritedEnv(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of INHERITED_ENV) {
      const v = this.deps.agentEnv[name];
      if (v !== undefined) out[name] = v;
    }
    return out;
  }

  /** The variables hoop's agent injects into every session. */
  private hoopVars(sid: string, p: AgentConnectionParams, connectionType: string): Record<string, string> {
    return {
      HOOP_CONNECTION_NAME: p.ConnectionName,
      HOOP_CONNECTION_TYPE: connectionType,
      HOOP_CLIENT_ORIGIN: p.ClientOrigin,
      HOOP_CLIENT_VERB: p.ClientVerb,
      HOOP_USER_ID: p.UserID,
      HOOP_USER_EMAIL: p.UserEmail,
      HOOP_SESSION_ID: sid,
    };
  }
}

function inboundName(kind: string): string {
  switch (kind) {
    case 'exec-stdin':
      return 'AgentExecWriteStdin';
    case 'terminal-stdin':
      return 'AgentTerminalWriteStdin';
    case 'terminal-resize':
      return 'AgentTerminalResizeTTY';
    default:
      return 'AgentTerminalClose';
  }
}
