// Host ports for the `ports[]` rules of the apps (ironflock-reagent.md §7.2):
// each declared container port is published on a host port no other app of
// this device uses. Pure: the adapter says which ports other apps hold and
// what this app had; the result is recorded in the app's REQUEST event, so a
// replay sees the same ports.
//
// For each rule, in order:
//  1. the host port the studio sent back (`host_port`, persisted by it from an
//     earlier port report) when no other app holds it;
//  2. else the port this app had for that rule, when still free;
//  3. else the lowest free port of the pool (40000–49999).
// TCP and UDP are separate namespaces. A pool with no free port left is an
// error naming the rule, never a collision.

export type PortProtocol = 'tcp' | 'udp';

export interface PortWanted {
  /** Container port. */
  port: number;
  protocol: PortProtocol;
  /** The studio's `host_port`, if it sent one. */
  requested?: number;
}

export interface PortAssigned {
  port: number;
  protocol: PortProtocol;
  hostPort: number;
}

export interface PortPool {
  min: number;
  max: number;
}

export const DEFAULT_PORT_POOL: PortPool = { min: 40000, max: 49999 };

export type AllocationResult = { ok: true; assigned: PortAssigned[] } | { ok: false; reason: string };

export function hostPortKey(protocol: PortProtocol, hostPort: number): string {
  return `${protocol}/${hostPort}`;
}

function validPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/**
 * `taken`: host ports (as `hostPortKey`) that other apps hold. `previous`: this
 * app's assignment before this request.
 */
export function allocatePorts(
  wanted: readonly PortWanted[],
  previous: readonly PortAssigned[],
  taken: ReadonlySet<string>,
  pool: PortPool = DEFAULT_PORT_POOL,
): AllocationResult {
  if (!validPort(pool.min) || !validPort(pool.max) || pool.min > pool.max) return { ok: false, reason: `bad port pool ${pool.min}-${pool.max}` };
  const used = new Set(taken);
  const assigned: PortAssigned[] = [];
  const free = (protocol: PortProtocol, p: number | undefined): p is number => validPort(p) && !used.has(hostPortKey(protocol, p));
  // Where the lowest-free search goes on from, per protocol (ports below it are used).
  const cursor: Record<PortProtocol, number> = { tcp: pool.min, udp: pool.min };
  for (const w of wanted) {
    const before = previous.find((p) => p.port === w.port && p.protocol === w.protocol)?.hostPort;
    let host: number | undefined;
    if (free(w.protocol, w.requested)) host = w.requested;
    else if (free(w.protocol, before)) host = before;
    else {
      let c = cursor[w.protocol];
      while (c <= pool.max && used.has(hostPortKey(w.protocol, c))) c++;
      cursor[w.protocol] = c;
      if (c > pool.max) return { ok: false, reason: `no free host port left in ${pool.min}-${pool.max} for container port ${w.port}/${w.protocol}` };
      host = c;
    }
    used.add(hostPortKey(w.protocol, host));
    assigned.push({ port: w.port, protocol: w.protocol, hostPort: host });
  }
  return { ok: true, assigned };
}
