// Network management from the command line: `-nmw` (default true) on Linux
// means NetworkManager on the system D-Bus; otherwise every network procedure
// answers "unavailable" with the reason. The D-Bus client is imported only
// when it is used.
import type { Redactor } from '../log/redactor.js';
import type { NetworkLink } from './network-link.js';
import { UnavailableNetwork, type NetworkService } from './service.js';

export interface NetworkChoice {
  /** The link to run, when network management is on. */
  link: NetworkLink | null;
  service: NetworkService;
}

export async function networkFromFlags(flags: { nmw: boolean }, env: NodeJS.ProcessEnv, platform: NodeJS.Platform, redactor: Redactor): Promise<NetworkChoice> {
  if (!flags.nmw) return { link: null, service: new UnavailableNetwork('network management is turned off (-nmw=false)') };
  if (platform !== 'linux') return { link: null, service: new UnavailableNetwork(`NetworkManager is Linux-only (this is ${platform})`) };
  const [{ NetworkLink }, { systemBusAddress }] = await Promise.all([import('./network-link.js'), import('./dbus-bus.js')]);
  const link = new NetworkLink({ address: systemBusAddress(env), redactor });
  return { link, service: link.service };
}
