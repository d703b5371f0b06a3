// The metadata of the Connect call, as hoop's agent sends it
// (common/grpc/client.go): the bearer token, `origin: agent` (without which
// a hoop gateway answers InvalidArgument "missing client origin") and the
// host facts the gateway shows in its agent list.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Metadata } from '@grpc/grpc-js';
import { bearerProblem } from '../../config/hoop-env.js';
import { ConnectMetadata, ConnectionOrigin } from './wire-names.js';

export interface HostFacts {
  version: string;
  /** GOOS/GOARCH spelling, e.g. linux/amd64: the gateway shows it as is. */
  platform: string;
  hostname: string;
  /** /sys/class/dmi/id/product_uuid; empty when unreadable (it usually is for non-root users). */
  machineId: string;
  /** What `uname -a` prints. */
  kernelVersion: string;
}

const GOARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips: 'mips', mipsel: 'mipsle', loong64: 'loong64' };
const GOOS: Record<string, string> = { win32: 'windows', sunos: 'solaris' };

export function goPlatform(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  return `${GOOS[platform] ?? platform}/${GOARCH[arch] ?? arch}`;
}

export interface HostFactSources {
  readFile?: (path: string) => string;
  hostname?: () => string;
  uname?: () => string;
}

export function hostFacts(version: string, sources: HostFactSources = {}): HostFacts {
  const readFile = sources.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  let machineId = '';
  try {
    machineId = readFile('/sys/class/dmi/id/product_uuid').trim();
  } catch {
    // Root-only on most systems; hoop sends an empty value then too.
  }
  const hostname = (sources.hostname ?? os.hostname)();
  // `uname -a` without spawning a process: kernel name, node name, release, version, machine.
  const uname = sources.uname ?? (() => [os.type(), hostname, os.release(), os.version(), os.machine()].join(' '));
  return { version, platform: goPlatform(), hostname, machineId, kernelVersion: uname() };
}

/** grpc-go's WithUserAgent puts this first in the user-agent header; grpc-js appends its own name. */
export function userAgent(version: string): string {
  return `hoopagent/${version} reagent/${version}`;
}

// Metadata values travel as HTTP/2 header values: keep them printable ASCII.
function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?');
}

export interface ConnectMetadataInput {
  /** null in local mode without a token: no authorization header at all. */
  token: string | null;
  facts: HostFacts;
  origin?: string;
  connectionName?: string;
}

export class CredentialShapeError extends Error {
  override readonly name = 'CredentialShapeError';
}

export function connectMetadata(input: ConnectMetadataInput): Metadata {
  const md = new Metadata();
  if (input.token !== null) {
    // grpc-js would throw with the whole value in its message: say what is wrong without it.
    const problem = bearerProblem(input.token);
    if (problem) throw new CredentialShapeError(`the gateway credential ${problem}`);
    md.set(ConnectMetadata.Authorization, `Bearer ${input.token}`);
  }
  md.set(ConnectMetadata.Origin, input.origin ?? ConnectionOrigin.Agent);
  md.set(ConnectMetadata.Version, headerSafe(input.facts.version));
  md.set(ConnectMetadata.Platform, headerSafe(input.facts.platform));
  md.set(ConnectMetadata.Hostname, headerSafe(input.facts.hostname));
  md.set(ConnectMetadata.MachineID, headerSafe(input.facts.machineId));
  md.set(ConnectMetadata.KernelVersion, headerSafe(input.facts.kernelVersion));
  if (input.connectionName) md.set(ConnectMetadata.ConnectionName, headerSafe(input.connectionName));
  return md;
}
