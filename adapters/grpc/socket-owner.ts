// Who owns a TCP socket on this machine, from Linux's /proc/net/tcp and
// /proc/net/tcp6. Loopback is not identity: any local user can listen on a
// free loopback port (8010 included) before the real gateway does, so before
// a credential goes to a loopback peer in plaintext the agent asks the
// kernel whose socket it is. The `uid` column is the owner of the socket's
// inode (the user that created the listening socket); a connection accepted
// from a listener inherits it, even before the server process calls accept().
//
// Parsing is pure (and property-tested); reading the files is the only I/O.
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { isIPv4 } from 'node:net';
import { ipv6Words } from '../../config/loopback.js';

export type Endianness = 'LE' | 'BE';

export interface Endpoint {
  /** Canonical: dotted IPv4 (IPv4-mapped IPv6 included), or eight lower-case hex words joined by ':'. */
  ip: string;
  port: number;
}

export interface SocketRow {
  local: Endpoint;
  remote: Endpoint;
  /** The kernel's TCP state number: 0x0A is LISTEN, 0x01 ESTABLISHED. */
  state: number;
  uid: number;
  inode: number;
}

export const TCP_LISTEN = 0x0a;
const ANY_V4 = '0.0.0.0';
const ANY_V6 = '0:0:0:0:0:0:0:0';
const LOOPBACK_V6 = '0:0:0:0:0:0:0:1';

/** Canonical spelling of an address as Node or a user writes it. */
export function canonicalIp(address: string): string | null {
  const a = address.replace(/^\[|\]$/g, '');
  if (isIPv4(a)) return a;
  const words = ipv6Words(a);
  if (!words) return null;
  return canonicalWords(words);
}

function canonicalWords(words: number[]): string {
  // ::ffff:a.b.c.d is the IPv4 address a.b.c.d on a dual-stack socket.
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return [words[6]! >> 8, words[6]! & 0xff, words[7]! >> 8, words[7]! & 0xff].join('.');
  }
  return words.map((w) => w.toString(16)).join(':');
}

/** The bytes of one 32-bit group as the kernel printed it (%08X of a network-order word read in host order). */
function groupBytes(hex: string, endian: Endianness): number[] {
  const n = parseInt(hex, 16);
  const be = [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return endian === 'LE' ? be.reverse() : be;
}

function parseEndpoint(text: string, endian: Endianness): Endpoint | null {
  const m = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(text);
  if (!m) return null;
  const hex = m[1]!;
  const port = parseInt(m[2]!, 16);
  if (hex.length === 8) return { ip: groupBytes(hex, endian).join('.'), port };
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) bytes.push(...groupBytes(hex.slice(i, i + 8), endian));
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  return { ip: canonicalWords(words), port };
}

/** The rows of /proc/net/tcp or /proc/net/tcp6; lines that do not parse are skipped. */
export function parseProcNetTcp(text: string, endian: Endianness): SocketRow[] {
  const rows: SocketRow[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0]!)) continue;
    const local = parseEndpoint(f[1]!, endian);
    const remote = parseEndpoint(f[2]!, endian);
    const state = parseInt(f[3]!, 16);
    const uid = Number(f[7]);
    const inode = Number(f[9]);
    if (!local || !remote || !Number.isInteger(state) || !Number.isInteger(uid) || !Number.isInteger(inode)) continue;
    rows.push({ local, remote, state, uid, inode });
  }
  return rows;
}

export type SocketTable = { ok: true; rows: SocketRow[] } | { ok: false; reason: string };

export interface SocketTableSource {
  read?: (path: string) => string;
  endian?: Endianness;
}

/** Both tables; tcp6 may be absent (IPv6 disabled), tcp may not. */
export function readSocketTable(source: SocketTableSource = {}): SocketTable {
  const read = source.read ?? ((p: string) => readFileSync(p, 'utf8'));
  const endian = source.endian ?? endianness();
  let v4: string;
  try {
    v4 = read('/proc/net/tcp');
  } catch (err) {
    return { ok: false, reason: `/proc/net/tcp: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  let v6 = '';
  try {
    v6 = read('/proc/net/tcp6');
  } catch {
    // No IPv6 in this kernel or namespace: nothing can listen there.
  }
  return { ok: true, rows: [...parseProcNetTcp(v4, endian), ...parseProcNetTcp(v6, endian)] };
}

/**
 * The listening sockets a connection to host:port could reach: bound to that
 * very address, or to a wildcard that covers it. `::` is counted for IPv4
 * targets too (a dual-stack listener); whether it is IPV6_V6ONLY is not in
 * the table, so it is assumed reachable, which can only refuse more.
 */
export function listenersFor(host: string, port: number, rows: readonly SocketRow[]): SocketRow[] {
  const targets = host.toLowerCase().replace(/\.$/, '') === 'localhost' ? ['127.0.0.1', LOOPBACK_V6] : [canonicalIp(host)];
  const accepted = new Set<string>();
  for (const t of targets) {
    if (t === null) continue;
    accepted.add(t);
    accepted.add(ANY_V6);
    if (isIPv4(t)) accepted.add(ANY_V4);
  }
  return rows.filter((r) => r.state === TCP_LISTEN && r.local.port === port && accepted.has(r.local.ip));
}

/** The server side of an established connection, seen from its client end. */
export function peerOf(client: { localAddress: string; localPort: number; remoteAddress: string; remotePort: number }, rows: readonly SocketRow[]): SocketRow | null {
  const local = canonicalIp(client.localAddress);
  const remote = canonicalIp(client.remoteAddress);
  if (!local || !remote) return null;
  return (
    rows.find(
      (r) => r.state !== TCP_LISTEN && r.local.ip === remote && r.local.port === client.remotePort && r.remote.ip === local && r.remote.port === client.localPort,
    ) ?? null
  );
}

export type OwnerVerdict =
  | { kind: 'trusted'; uids: number[] }
  /** Someone else's socket: a credential must not go there. */
  | { kind: 'foreign'; uid: number; line: string }
  | { kind: 'absent'; line: string }
  /** The table cannot be read (not Linux, no /proc): the owner cannot be told. */
  | { kind: 'unknown'; line: string };

export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Root and the agent's own user are the only owners a plaintext credential may go to. */
export function trustedOwner(uid: number, ownUid: number): boolean {
  return uid === 0 || uid === ownUid;
}

function foreignLine(where: string, uid: number, ownUid: number): string {
  return `refusing to connect to ${where} without TLS: the socket listening there belongs to uid ${uid}, not root or this process's uid ${ownUid}`;
}

/** Before connecting: who listens on host:port. */
export function checkListener(host: string, port: number, ownUid: number, table: SocketTable): OwnerVerdict {
  const where = hostPort(host, port);
  if (!table.ok) return { kind: 'unknown', line: `refusing to connect to ${where} without TLS: cannot tell who listens there (${table.reason})` };
  const listeners = listenersFor(host, port, table.rows);
  if (listeners.length === 0) return { kind: 'absent', line: `nothing listens on ${where}` };
  const foreign = listeners.find((r) => !trustedOwner(r.uid, ownUid));
  if (foreign) return { kind: 'foreign', uid: foreign.uid, line: foreignLine(where, foreign.uid, ownUid) };
  return { kind: 'trusted', uids: [...new Set(listeners.map((r) => r.uid))] };
}

/** After the TCP handshake, before a byte is sent: whose socket this connection really reached. */
export function checkConnection(
  socket: { localAddress?: string; localPort?: number; remoteAddress?: string; remotePort?: number },
  ownUid: number,
  table: SocketTable,
): OwnerVerdict {
  const { localAddress, localPort, remoteAddress, remotePort } = socket;
  if (!localAddress || !remoteAddress || localPort === undefined || remotePort === undefined) {
    return { kind: 'unknown', line: 'refusing a plaintext connection: its addresses are unknown' };
  }
  const where = hostPort(remoteAddress, remotePort);
  if (!table.ok) return { kind: 'unknown', line: `refusing to connect to ${where} without TLS: cannot tell who listens there (${table.reason})` };
  const peer = peerOf({ localAddress, localPort, remoteAddress, remotePort }, table.rows);
  if (!peer) return { kind: 'absent', line: `refusing to connect to ${where} without TLS: the connection is not in the kernel's table (closed already?)` };
  if (!trustedOwner(peer.uid, ownUid)) return { kind: 'foreign', uid: peer.uid, line: foreignLine(where, peer.uid, ownUid) };
  return { kind: 'trusted', uids: [peer.uid] };
}

/** This process's uid; -1 where there is none (Windows), which no socket owner equals. */
export function ownUid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : -1;
}
