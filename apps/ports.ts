// The apps' host ports (§7.2) on the adapter side: the pure allocation
// (machines/port-allocation.ts) fed with what the other apps hold, the
// variables an app gets for its ports, and the port report for the studio.
// frp tunnels are not run (no frp server here): the device reports
// `tunnel_capable: false`, and REMOTE_PORT_FOR_<port>, `<custom>` and
// `<custom>_CLOUD` are set only when the studio's rule carries those ports.

import type { Json } from '../actors/types.js';
import { allocatePorts, hostPortKey, DEFAULT_PORT_POOL, type PortAssigned, type PortPool } from '../machines/port-allocation.js';
import type { PortSpec } from '../adapters/docker/containers.js';

export type PortsResult = { ok: true; ports: PortSpec[] } | { ok: false; reason: string };

function assignedOf(ports: readonly PortSpec[]): PortAssigned[] {
  const out: PortAssigned[] = [];
  for (const p of ports) if (p.host_port !== undefined) out.push({ port: p.port, protocol: p.protocol ?? 'tcp', hostPort: p.host_port });
  return out;
}

/**
 * `ports` with a collision-free `host_port` each. `others`: the ports of every
 * other app on the device; `previous`: this app's ports before the request.
 */
export function assignHostPorts(
  ports: readonly PortSpec[],
  previous: readonly PortSpec[],
  others: ReadonlyArray<readonly PortSpec[]>,
  pool: PortPool = DEFAULT_PORT_POOL,
): PortsResult {
  const taken = new Set<string>();
  for (const list of others) for (const a of assignedOf(list)) taken.add(hostPortKey(a.protocol, a.hostPort));
  const r = allocatePorts(
    ports.map((p) => ({ port: p.port, protocol: p.protocol ?? 'tcp', ...(p.host_port !== undefined ? { requested: p.host_port } : {}) })),
    assignedOf(previous),
    taken,
    pool,
  );
  if (!r.ok) return r;
  return { ok: true, ports: ports.map((p, i) => ({ ...p, host_port: r.assigned[i]!.hostPort })) };
}

/** `DEVICE_PORT_FOR_<port>` for every port with a host port, and the tunnel variables the rule carries. */
export function portEnv(ports: readonly PortSpec[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const p of ports) {
    if (p.host_port !== undefined) env[`DEVICE_PORT_FOR_${p.port}`] = String(p.host_port);
    if (p.remote_port !== undefined) {
      env[`REMOTE_PORT_FOR_${p.port}`] = String(p.remote_port);
      if (p.remote_port_environment) env[p.remote_port_environment] = String(p.remote_port);
    }
    if (p.cloud_remote_port !== undefined && p.remote_port_environment) env[`${p.remote_port_environment}_CLOUD`] = String(p.cloud_remote_port);
  }
  return env;
}

/**
 * The `ports` of the port report: the studio's rules as it sent them, each
 * active one with the host port it got (matched on port and protocol).
 */
export function reportedPorts(raw: readonly Json[] | null, ports: readonly PortSpec[]): Json[] {
  return (raw ?? []).map((rule) => {
    if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) return rule;
    const proto = rule['protocol'] === 'udp' ? 'udp' : 'tcp';
    const n = typeof rule['port'] === 'string' && /^\d+$/.test(rule['port']) ? Number(rule['port']) : rule['port'];
    const p = ports.find((x) => x.port === n && (x.protocol ?? 'tcp') === proto);
    return p?.host_port !== undefined ? { ...rule, host_port: p.host_port } : rule;
  });
}
