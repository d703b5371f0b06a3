// The boundary between the gateway's packets and the agent: every inbound
// Packet is classified here into one typed shape, or into `invalid` with a
// reason naming the field and what was expected. Nothing downstream looks at
// raw spec bytes. Packets of a session that are invalid get that session
// closed cleanly (exit code 254); packets without a usable session id can
// only be ignored, since hoop's gateway drops agent packets without one.
import type { Packet } from './packet-codec.js';
import { AgentPacket, ClientPacket, GatewayPacket, SpecKey, SYSTEM_PACKET_PREFIX } from './wire-names.js';

/** The byte-relay protocols: each write type has its reply type. */
export const TCP_PROTOCOLS = {
  [AgentPacket.TCPConnectionWrite]: { connectionType: 'tcp', reply: ClientPacket.TCPConnectionWrite },
  [AgentPacket.PGConnectionWrite]: { connectionType: 'postgres', reply: ClientPacket.PGConnectionWrite },
  [AgentPacket.MySQLConnectionWrite]: { connectionType: 'mysql', reply: ClientPacket.MySQLConnectionWrite },
  [AgentPacket.MSSQLConnectionWrite]: { connectionType: 'mssql', reply: ClientPacket.MSSQLConnectionWrite },
  [AgentPacket.MongoDBConnectionWrite]: { connectionType: 'mongodb', reply: ClientPacket.MongoDBConnectionWrite },
} as const;

export type TcpWriteType = keyof typeof TCP_PROTOCOLS;
export type RelayReplyType = (typeof TCP_PROTOCOLS)[TcpWriteType]['reply'];

export type Inbound =
  | { kind: 'connect-ok' }
  | { kind: 'keep-alive' }
  | { kind: 'feature-flags'; flags: Record<string, boolean> }
  | { kind: 'session-open'; sid: string; params: Buffer; connectionType: string | null; spec: Map<string, Buffer> }
  | { kind: 'session-close'; sid: string }
  | { kind: 'tcp-write'; sid: string; connection: string; reply: RelayReplyType; payload: Buffer; serverConnect: boolean; spec: Map<string, Buffer> }
  | { kind: 'tcp-close'; sid: string; connection: string }
  | { kind: 'exec-stdin'; sid: string; payload: Buffer }
  | { kind: 'terminal-stdin'; sid: string; payload: Buffer }
  | { kind: 'terminal-resize'; sid: string; rows: number; cols: number }
  | { kind: 'terminal-close'; sid: string }
  | { kind: 'system'; sid: string | null; type: string }
  | { kind: 'unsupported'; sid: string | null; type: string }
  | { kind: 'invalid'; sid: string | null; type: string; reason: string };

export const LIMITS = {
  typeLength: 128,
  specEntries: 256,
  specKeyLength: 256,
  sessionIdLength: 128,
  connectionIdLength: 64,
  /** One AgentTerminalWriteStdin: keystrokes and pastes, not file transfers. */
  terminalInputBytes: 1024 * 1024,
  /** Rows and columns of an AgentTerminalResizeTTY, each. */
  terminalMaxSize: 1000,
} as const;

const PRINTABLE_TYPE = /^[\x21-\x7e]+$/;

/** An id made of printable ASCII without spaces; null when absent or malformed. */
function idOf(bytes: Buffer | undefined, max: number): string | null | undefined {
  if (bytes === undefined) return undefined;
  if (bytes.length === 0 || bytes.length > max) return null;
  for (const b of bytes) if (b < 0x21 || b > 0x7e) return null;
  return bytes.toString('latin1');
}

function describeType(type: string): string {
  const shown = type.length > 40 ? `${type.slice(0, 40)}…` : type;
  return JSON.stringify(shown);
}

export function classifyPacket(p: Packet): Inbound {
  const type = p.type;
  if (type === '' || type.length > LIMITS.typeLength || !PRINTABLE_TYPE.test(type)) {
    return { kind: 'invalid', sid: null, type: describeType(type), reason: `field "type": expected 1 to ${LIMITS.typeLength} printable ASCII characters` };
  }
  const sidRaw = idOf(p.spec.get(SpecKey.GatewaySessionID), LIMITS.sessionIdLength);
  const sid = typeof sidRaw === 'string' ? sidRaw : null;
  if (p.spec.size > LIMITS.specEntries) {
    return { kind: 'invalid', sid, type, reason: `field "spec": expected at most ${LIMITS.specEntries} entries, got ${p.spec.size}` };
  }
  for (const key of p.spec.keys()) {
    if (key.length > LIMITS.specKeyLength) return { kind: 'invalid', sid, type, reason: `field "spec": a key is longer than ${LIMITS.specKeyLength} characters` };
  }

  switch (type) {
    case AgentPacket.GatewayConnectOK:
      return { kind: 'connect-ok' };
    case GatewayPacket.KeepAlive:
    case GatewayPacket.LegacyKeepAlive:
      return { kind: 'keep-alive' };
    case GatewayPacket.FeatureFlagUpdate:
      return featureFlags(p);
  }

  const needSid = (): Inbound | null => {
    if (sidRaw === undefined) return { kind: 'invalid', sid: null, type, reason: `spec "${SpecKey.GatewaySessionID}" is missing` };
    if (sidRaw === null) return { kind: 'invalid', sid: null, type, reason: `spec "${SpecKey.GatewaySessionID}": expected 1 to ${LIMITS.sessionIdLength} printable ASCII characters` };
    return null;
  };

  if (type.startsWith(SYSTEM_PACKET_PREFIX)) return { kind: 'system', sid, type };

  if (type in TCP_PROTOCOLS || type === AgentPacket.TCPConnectionClose) {
    const bad = needSid();
    if (bad) return bad;
    const conn = idOf(p.spec.get(SpecKey.ClientConnectionID), LIMITS.connectionIdLength);
    if (conn === undefined) return { kind: 'invalid', sid, type, reason: `spec "${SpecKey.ClientConnectionID}" is missing` };
    if (conn === null) return { kind: 'invalid', sid, type, reason: `spec "${SpecKey.ClientConnectionID}": expected 1 to ${LIMITS.connectionIdLength} printable ASCII characters` };
    if (type === AgentPacket.TCPConnectionClose) return { kind: 'tcp-close', sid: sid!, connection: conn };
    const proto = TCP_PROTOCOLS[type as TcpWriteType];
    return {
      kind: 'tcp-write',
      sid: sid!,
      connection: conn,
      reply: proto.reply,
      payload: p.payload,
      serverConnect: p.spec.has(SpecKey.TCPServerConnect),
      spec: p.spec,
    };
  }

  switch (type) {
    case AgentPacket.SessionOpen: {
      const bad = needSid();
      if (bad) return bad;
      const params = p.spec.get(SpecKey.AgentConnectionParams);
      if (params === undefined || params.length === 0) return { kind: 'invalid', sid, type, reason: `spec "${SpecKey.AgentConnectionParams}" is missing` };
      const ct = p.spec.get(SpecKey.ConnectionType);
      return { kind: 'session-open', sid: sid!, params, connectionType: ct && ct.length > 0 ? ct.toString('utf8') : null, spec: p.spec };
    }
    case AgentPacket.SessionClose:
      return needSid() ?? { kind: 'session-close', sid: sid! };
    case AgentPacket.ExecWriteStdin:
      return needSid() ?? { kind: 'exec-stdin', sid: sid!, payload: p.payload };
    case AgentPacket.TerminalWriteStdin: {
      const bad = needSid();
      if (bad) return bad;
      if (p.payload.length > LIMITS.terminalInputBytes) {
        return { kind: 'invalid', sid, type, reason: `field "payload": expected at most ${LIMITS.terminalInputBytes} bytes of terminal input, got ${p.payload.length}` };
      }
      return { kind: 'terminal-stdin', sid: sid!, payload: p.payload };
    }
    case AgentPacket.TerminalResizeTTY: {
      const bad = needSid();
      if (bad) return bad;
      const size = parseTtySize(p.payload);
      if (typeof size === 'string') return { kind: 'invalid', sid, type, reason: size };
      return { kind: 'terminal-resize', sid: sid!, ...size };
    }
    case AgentPacket.TerminalClose:
      return needSid() ?? { kind: 'terminal-close', sid: sid! };
    default:
      return { kind: 'unsupported', sid, type };
  }
}

/**
 * hoop's resize payload, ASCII `"rows,cols,x,y"` (x and y are pixel sizes,
 * unused by a PTY). Returns the size ({0, 0}: unknown, keep the PTY's own)
 * or a reason naming the field.
 */
export function parseTtySize(payload: Buffer): { rows: number; cols: number } | string {
  const max = LIMITS.terminalMaxSize;
  const expected = `field "payload": expected "rows,cols,x,y" with rows and cols 1-${max}`;
  if (payload.length > 64) return `${expected}, got ${payload.length} bytes`;
  const parts = payload.toString('latin1').split(',');
  if (parts.length < 2 || parts.length > 4 || !parts.every((x) => /^\d{1,10}$/.test(x.trim()))) return expected;
  const [rows, cols] = parts.map((x) => Number(x.trim())) as [number, number];
  // "0,0": the client's terminal has no size (a pipe-backed pty, a serial
  // console); hoop's agent passes it through to the PTY, which then keeps its own.
  if (rows === 0 && cols === 0) return { rows: 0, cols: 0 };
  if (rows < 1 || rows > max || cols < 1 || cols > max) return `${expected}, got rows ${rows} and cols ${cols}`;
  return { rows, cols };
}

function featureFlags(p: Packet): Inbound {
  const raw = p.spec.get(SpecKey.FeatureFlags);
  if (raw === undefined || raw.length === 0) return { kind: 'feature-flags', flags: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return { kind: 'invalid', sid: null, type: p.type, reason: `spec "${SpecKey.FeatureFlags}": expected JSON` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { kind: 'invalid', sid: null, type: p.type, reason: `spec "${SpecKey.FeatureFlags}": expected a JSON object of booleans` };
  }
  // A null prototype: a flag named "__proto__" stays a flag.
  const flags: Record<string, boolean> = Object.create(null) as Record<string, boolean>;
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof v !== 'boolean') return { kind: 'invalid', sid: null, type: p.type, reason: `spec "${SpecKey.FeatureFlags}": flag values must be booleans` };
    flags[k] = v;
  }
  return { kind: 'feature-flags', flags };
}
