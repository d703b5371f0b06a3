// Facts about the host for the device API and the heartbeat, in the Reagent's
// wire keys: storage and memory stats (`get_storage_data`, the `stats` of
// `update_device_status`), network interfaces (`get_ipv4_addresses`,
// `get_network_metadata`; the rest of the networking is adapters/network/).
import { readFileSync } from 'node:fs';
import { stat, statfs } from 'node:fs/promises';
import os from 'node:os';
import { dockerArch } from '../docker/arch.js';

export interface StorageData {
  cpu_count: number;
  cpu_usage: number;
  memory_total: number;
  memory_used: number;
  memory_available: number;
  storage_total: number;
  storage_used: number;
  storage_free: number;
  docker_apps_total: number;
  docker_apps_used: number;
  docker_apps_free: number;
  docker_apps_mounted: boolean;
}

/** /proc/meminfo's MemAvailable (what the kernel could give without swapping); os.freemem() elsewhere. */
function memAvailable(): number {
  try {
    const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux */
  }
  return os.freemem();
}

async function fsUsage(path: string): Promise<{ total: number; used: number; free: number }> {
  try {
    const s = await statfs(path);
    const total = s.blocks * s.bsize;
    const free = s.bavail * s.bsize;
    return { total, free, used: Math.max(0, total - s.bfree * s.bsize) };
  } catch {
    return { total: 0, used: 0, free: 0 };
  }
}

export async function storageData(appsDir: string): Promise<StorageData> {
  const cpus = Math.max(1, os.cpus().length);
  const total = os.totalmem();
  const available = memAvailable();
  const root = await fsUsage('/');
  const apps = await fsUsage(appsDir);
  let mounted = false;
  try {
    mounted = (await stat(appsDir)).dev !== (await stat('/')).dev;
  } catch {
    mounted = false;
  }
  return {
    cpu_count: cpus,
    // One-minute load per core, as a percentage: a sampling-free figure.
    cpu_usage: Math.round(((os.loadavg()[0] ?? 0) / cpus) * 1000) / 10,
    memory_total: total,
    memory_used: Math.max(0, total - available),
    memory_available: available,
    storage_total: root.total,
    storage_used: root.used,
    storage_free: root.free,
    docker_apps_total: apps.total,
    docker_apps_used: apps.used,
    docker_apps_free: apps.free,
    docker_apps_mounted: mounted,
  };
}

type Interfaces = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

export function ipv4Addresses(ifaces: Interfaces = os.networkInterfaces()): Array<{ interfaceName: string; ip: string }> {
  const out: Array<{ interfaceName: string; ip: string }> = [];
  for (const [name, addrs] of Object.entries(ifaces)) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) out.push({ interfaceName: name, ip: a.address });
  }
  return out;
}

/** Go's `json.Marshal(*net.IPNet)`: `{IP, Mask}` with the mask as base64 bytes. */
export function networkMetadata(ifaces: Interfaces = os.networkInterfaces()): Array<{ IP: string; Mask: string }> {
  const out: Array<{ IP: string; Mask: string }> = [];
  for (const addrs of Object.values(ifaces)) {
    for (const a of addrs ?? []) out.push({ IP: a.address, Mask: maskBytes(a.netmask, a.family).toString('base64') });
  }
  return out;
}

function maskBytes(netmask: string, family: string): Buffer {
  if (family === 'IPv4') return Buffer.from(netmask.split('.').map((p) => Number(p) & 255));
  const groups = netmask.split(':');
  const full: string[] = [];
  for (const g of groups) {
    if (g === '' && full.length + groups.length - 1 < 8) for (let i = 0; i < 9 - groups.length; i++) full.push('0');
    else full.push(g || '0');
  }
  const buf = Buffer.alloc(16);
  full.slice(0, 8).forEach((g, i) => buf.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return buf;
}

/** `<arch><variant>` as image names and `update_device_architecture` use it. */
export function deviceArch(): { architecture: string; arch: string; variant: string; os: string } {
  const architecture = dockerArch();
  const m = /^(arm)(v\d+)$/.exec(architecture);
  return { architecture, arch: m ? m[1]! : architecture, variant: m ? m[2]! : '', os: process.platform };
}

export function osVersion(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m?.[1]) return m[1];
  } catch {
    /* not Linux */
  }
  return `${os.type()} ${os.release()}`;
}
