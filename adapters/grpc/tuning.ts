// The gateway link's knobs that are not hoop's: where local mode looks for a
// gateway, and how often HTTP/2 pings the gateway. Read from the environment
// by cli/links.ts; a bad value is a warning and the default, never a crash.
import type { KeepalivePolicy } from './transport.js';

export interface GatewayTuning {
  localGateway?: { host: string; port: number };
  keepalive?: KeepalivePolicy;
}

export function gatewayTuning(env: NodeJS.ProcessEnv, warn: (message: string) => void): GatewayTuning {
  const out: GatewayTuning = {};
  // REAGENT_LOCAL_GATEWAY=HOST:PORT: loopback only, since local mode connects in plaintext.
  const local = env['REAGENT_LOCAL_GATEWAY']?.trim();
  if (local) {
    const m = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):(\d{1,5})$/.exec(local);
    if (m && Number(m[2]) >= 1 && Number(m[2]) <= 65535) out.localGateway = { host: m[1] === '[::1]' ? '::1' : m[1]!, port: Number(m[2]) };
    else warn('REAGENT_LOCAL_GATEWAY: expected a loopback HOST:PORT such as 127.0.0.1:8010; using 127.0.0.1:8010');
  }
  // REAGENT_GRPC_KEEPALIVE_MS: HTTP/2 ping interval (0 = none, as in hoop); the timeout is a third of it, within 1-20 s.
  const keepalive = env['REAGENT_GRPC_KEEPALIVE_MS']?.trim();
  if (keepalive) {
    if (/^\d{1,9}$/.test(keepalive)) {
      const timeMs = Number(keepalive);
      out.keepalive = { timeMs, timeoutMs: Math.max(1000, Math.min(20_000, Math.round(timeMs / 3))) };
    } else warn('REAGENT_GRPC_KEEPALIVE_MS: expected milliseconds; using the default');
  }
  return out;
}
