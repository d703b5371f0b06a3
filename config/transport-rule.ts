// When the gateway link may talk without TLS. hoop's documentation says it:
// "the agent only connects without TLS when it's connecting to the gateway
// via localhost". So, in this order:
//   1. TLS_SERVER_NAME set: TLS (it is also the SNI and the name checked);
//   2. scheme grpcs, https or wss: TLS;
//   3. a loopback host (127.0.0.0/8, ::1, localhost): plaintext, and the
//      link checks who owns the listening socket before sending anything;
//   4. scheme grpc, http or ws towards any other host: refused, unless
//      HOOP_GRPC_INSECURE=true, and then every connect logs a warning;
//   5. anything else (a bare host:port): TLS.
// hoop's own agent sends a grpc:// DSN in clear to any host; we do not.
import { isLoopbackHost } from './loopback.js';

export const TLS_SCHEMES: readonly string[] = ['grpcs', 'https', 'wss'];
export const PLAINTEXT_SCHEMES: readonly string[] = ['grpc', 'http', 'ws'];

export interface TransportRuleInput {
  host: string;
  /** The address's scheme (HOOP_GRPCURL, agent.toml, the DSN), lower case; null for a bare host:port. */
  scheme: string | null;
  tlsServerName: string | null;
  /** HOOP_GRPC_INSECURE=true: plaintext to a host that is not this machine is allowed. */
  insecure: boolean;
}

export type TransportDecision =
  | { tls: true }
  /** `loopback: false` only with HOOP_GRPC_INSECURE=true. */
  | { tls: false; loopback: boolean }
  | { refused: string };

export function decideTransport(input: TransportRuleInput): TransportDecision {
  const scheme = input.scheme?.toLowerCase() ?? null;
  if (input.tlsServerName) return { tls: true };
  if (scheme !== null && TLS_SCHEMES.includes(scheme)) return { tls: true };
  if (isLoopbackHost(input.host)) return { tls: false, loopback: true };
  if (scheme !== null && PLAINTEXT_SCHEMES.includes(scheme)) {
    if (input.insecure) return { tls: false, loopback: false };
    const secure = scheme === 'ws' ? 'wss' : scheme === 'http' ? 'https' : 'grpcs';
    return {
      refused: `${scheme}:// to a host that is not this machine would send the credential without TLS; use ${secure}:// (or set TLS_SERVER_NAME), or set HOOP_GRPC_INSECURE=true to allow plaintext`,
    };
  }
  return { tls: true };
}
