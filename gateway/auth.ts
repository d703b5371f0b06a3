// Who is calling Connect, decided as hoop's gateway decides it
// (gateway/transport/interceptors/auth): `origin` is required; an agent's
// bearer token is either a legacy `x-agt-…` token or a DSN whose secret's
// sha256 is known and whose user part names that same agent; anything else
// is Unauthenticated "invalid authentication". Clients (`reagent connect`,
// `reagent exec`: our own protocol, and they run commands through agents)
// need the admin token and must come from this machine: loopback is where,
// not who. Token-less agents (hoop's local mode) are refused unless the
// gateway was started with --allow-local-agent.
import { status, type Metadata } from '@grpc/grpc-js';
import { parseDsn } from '../config/hoop-env.js';
import { ConnectMetadata, ConnectionOrigin } from '../adapters/grpc/wire-names.js';
import { sameSecret } from './admin-token.js';
import { sha256Hex, type AgentRecord, type AgentStore } from './agents.js';

export type CallerIdentity = { kind: 'agent'; agent: AgentRecord } | { kind: 'client' };

export type AuthResult = { ok: true; caller: CallerIdentity } | { ok: false; code: status; message: string };

export interface AuthOptions {
  store: AgentStore;
  /** What clients must present as `authorization: Bearer …`. */
  adminToken: string;
  /** --allow-local-agent: accept agents without a token from loopback peers as agent "local" (hoop's local mode). */
  anonymousLocal: boolean;
}

/** grpc-js peers look like "127.0.0.1:5000", "[::1]:5000" or "::ffff:127.0.0.1:5000". */
export function isLoopbackPeer(peer: string): boolean {
  const host = peer.replace(/^(ipv4:|ipv6:)/, '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.');
}

function first(md: Metadata, key: string): string | null {
  const v = md.get(key)[0];
  return v === undefined ? null : typeof v === 'string' ? v : v.toString('utf8');
}

export function authenticate(md: Metadata, peer: string, opts: AuthOptions): AuthResult {
  const origin = first(md, ConnectMetadata.Origin);
  if (!origin) return { ok: false, code: status.INVALID_ARGUMENT, message: 'missing client origin' };
  const invalid: AuthResult = { ok: false, code: status.UNAUTHENTICATED, message: 'invalid authentication' };
  const authorization = first(md, ConnectMetadata.Authorization);
  if (origin === ConnectionOrigin.Client) {
    if (!isLoopbackPeer(peer)) return { ok: false, code: status.PERMISSION_DENIED, message: 'clients of the development gateway must connect from this machine' };
    const bearer = authorization === null ? null : /^Bearer (\S+)$/.exec(authorization)?.[1];
    if (!bearer || !sameSecret(bearer, opts.adminToken)) return invalid;
    return { ok: true, caller: { kind: 'client' } };
  }
  if (origin !== ConnectionOrigin.Agent) return { ok: false, code: status.INVALID_ARGUMENT, message: `unsupported origin "${origin.slice(0, 32).replace(/[^\x20-\x7e]/g, '?')}"` };

  if (authorization === null) {
    if (opts.anonymousLocal && isLoopbackPeer(peer)) return { ok: true, caller: { kind: 'agent', agent: opts.store.local() } };
    return invalid;
  }
  const match = /^Bearer (\S+)$/.exec(authorization);
  if (!match) return invalid;
  const token = match[1]!;
  if (token.startsWith('x-agt-')) {
    const agent = opts.store.byHash(sha256Hex(token));
    return agent && agent.kind === 'token' ? { ok: true, caller: { kind: 'agent', agent } } : invalid;
  }
  if (token.includes('://')) {
    const dsn = parseDsn(token);
    if (!dsn.ok) return invalid;
    const agent = opts.store.byHash(sha256Hex(dsn.value.secret));
    // The DSN's user part must name the agent the secret belongs to.
    return agent && agent.kind === 'dsn' && agent.name === dsn.value.name ? { ok: true, caller: { kind: 'agent', agent } } : invalid;
  }
  return invalid;
}
