// How a client (`reagent connect`, `reagent exec`) talks to the development
// gateway: the same Connect RPC with `origin: client`. Its first packet is an
// AgentSessionOpen whose spec names the agent and the target; the gateway
// turns it into the AgentSessionOpen hoop's gateway would send the agent
// (gob AgentConnectionParams and all). After the gateway's
// ClientSessionOpenOK, both sides exchange the agent's packet types; the
// gateway stamps `gateway.session_id` on the way to the agent.
import { AgentPacket } from '../adapters/grpc/wire-names.js';

export const ClientSpec = {
  /** Name of the agent to open the session through. */
  Agent: 'dev.agent',
  /** JSON SessionTarget. */
  Target: 'dev.target',
} as const;

/** `tty`: the client opens hoop's interactive terminal (AgentTerminal* packets) rather than an exec. */
export type SessionTarget = { type: 'tcp'; host: string; port: number } | { type: 'command-line'; command: string[]; tty?: boolean };

/** The packet types a client may send once its session is open. */
export const CLIENT_FORWARDED_TYPES: ReadonlySet<string> = new Set([
  AgentPacket.TCPConnectionWrite,
  AgentPacket.TCPConnectionClose,
  AgentPacket.PGConnectionWrite,
  AgentPacket.MySQLConnectionWrite,
  AgentPacket.MSSQLConnectionWrite,
  AgentPacket.MongoDBConnectionWrite,
  AgentPacket.ExecWriteStdin,
  AgentPacket.TerminalWriteStdin,
  AgentPacket.TerminalResizeTTY,
  AgentPacket.TerminalClose,
  AgentPacket.SessionClose,
]);

export function parseTarget(bytes: Buffer | undefined): SessionTarget | string {
  if (!bytes) return `spec "${ClientSpec.Target}" is missing`;
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    return `spec "${ClientSpec.Target}": expected JSON`;
  }
  const t = v as Record<string, unknown>;
  if (t?.type === 'tcp') {
    if (typeof t.host !== 'string' || t.host === '' || !Number.isInteger(t.port) || (t.port as number) < 1 || (t.port as number) > 65535) {
      return `spec "${ClientSpec.Target}": a tcp target needs "host" and "port" (1-65535)`;
    }
    return { type: 'tcp', host: t.host, port: t.port as number };
  }
  if (t?.type === 'command-line') {
    if (!Array.isArray(t.command) || t.command.length === 0 || !t.command.every((c) => typeof c === 'string')) {
      return `spec "${ClientSpec.Target}": a command-line target needs "command", a non-empty list of strings`;
    }
    if (t.tty !== undefined && typeof t.tty !== 'boolean') return `spec "${ClientSpec.Target}": "tty" must be a boolean`;
    return { type: 'command-line', command: t.command as string[], ...(t.tty ? { tty: true } : {}) };
  }
  return `spec "${ClientSpec.Target}": "type" must be "tcp" or "command-line"`;
}
