// NetworkManager's D-Bus objects, read and called through one bounded bus
// connection. The connection is made when first needed and made again after
// it is lost (the bus daemon restarted), each time within the connect bound.
// Failures come out as two kinds: NetworkUnavailable (no bus, no
// NetworkManager, no answer) and NetworkRequestFailed (NetworkManager said no).
import type { Logger } from 'pino';
import { Variant } from '@particle/dbus-next';
import { BusCallError, BusUnavailable, DbusBus, type BusOptions } from './dbus-bus.js';
import type { Settings } from './connection-settings.js';
import { DBUS_BUS, DBUS_PATH, IFACE, NM_BUS, NM_PATH, NM_SETTINGS_PATH, SERVICE_GONE_ERRORS } from './nm-names.js';
import { NetworkRequestFailed, NetworkUnavailable } from './service.js';

export type Props = Record<string, unknown>;

/** Peer inputs are bounded: no device has more of these. */
export const LIMITS = { devices: 64, accessPoints: 256, connections: 512 } as const;

export interface NmClientOptions extends BusOptions {
  logger: Logger;
}

export class NmClient {
  private bus: DbusBus | null = null;
  private connecting: Promise<DbusBus> | null = null;
  private closed = false;

  constructor(private readonly opts: NmClientOptions) {}

  get address(): string {
    return this.opts.address;
  }

  /** The open connection, connecting first if there is none. */
  private async connection(): Promise<DbusBus> {
    if (this.closed) throw new NetworkUnavailable('the agent is stopping');
    if (this.bus?.isOpen) return this.bus;
    this.connecting ??= DbusBus.connect(this.opts).then(
      (bus) => {
        this.connecting = null;
        if (this.closed) {
          bus.close();
          throw new NetworkUnavailable('the agent is stopping');
        }
        this.bus = bus;
        bus.onClose((reason) => {
          if (!this.closed) this.opts.logger.warn({ address: this.opts.address }, `system D-Bus connection lost (${reason}); the next network request connects again`);
        });
        return bus;
      },
      (err: unknown) => {
        this.connecting = null;
        throw err;
      },
    );
    return this.connecting;
  }

  close(): void {
    this.closed = true;
    this.bus?.close();
    this.bus = null;
  }

  /** A method call on NetworkManager, with its failures sorted into the two kinds. */
  async call(path: string, iface: string, member: string, signature = '', body: unknown[] = [], timeoutMs?: number): Promise<unknown[]> {
    try {
      const bus = await this.connection();
      return await bus.call({ destination: NM_BUS, path, interface: iface, member, signature, body }, timeoutMs);
    } catch (err) {
      throw classify(err);
    }
  }

  /** Whether NetworkManager owns its name on the bus (a cheap probe that needs no NetworkManager). */
  async nmPresent(): Promise<boolean> {
    try {
      const bus = await this.connection();
      const [owned] = await bus.call({ destination: DBUS_BUS, path: DBUS_PATH, interface: IFACE.dbus, member: 'NameHasOwner', signature: 's', body: [NM_BUS] });
      return owned === true;
    } catch (err) {
      throw classify(err);
    }
  }

  /** Every property of one interface of an object, variants unwrapped. */
  async props(path: string, iface: string): Promise<Props> {
    const [all] = await this.call(path, IFACE.properties, 'GetAll', 's', [iface]);
    return isRecord(all) ? (plain(all) as Props) : {};
  }

  async devices(): Promise<string[]> {
    const [paths] = await this.call(NM_PATH, IFACE.nm, 'GetDevices');
    return objectPaths(paths, LIMITS.devices);
  }

  async accessPoints(device: string): Promise<string[]> {
    const [paths] = await this.call(device, IFACE.wireless, 'GetAllAccessPoints');
    return objectPaths(paths, LIMITS.accessPoints);
  }

  async connections(): Promise<string[]> {
    const [paths] = await this.call(NM_SETTINGS_PATH, IFACE.settings, 'ListConnections');
    return objectPaths(paths, LIMITS.connections);
  }

  async settings(connection: string): Promise<Settings> {
    const [s] = await this.call(connection, IFACE.connection, 'GetSettings');
    return asSettings(s);
  }

  /** The secrets of one setting; {} when NetworkManager has none to give (agent-owned, not saved). */
  async secrets(connection: string, settingName: string): Promise<Settings> {
    try {
      const [s] = await this.call(connection, IFACE.connection, 'GetSecrets', 's', [settingName]);
      return asSettings(s);
    } catch (err) {
      if (err instanceof NetworkUnavailable) throw err;
      return {};
    }
  }

  async addConnection(s: Settings): Promise<string> {
    const [path] = await this.call(NM_SETTINGS_PATH, IFACE.settings, 'AddConnection', 'a{sa{sv}}', [s]);
    return String(path);
  }

  async update(connection: string, s: Settings): Promise<void> {
    await this.call(connection, IFACE.connection, 'Update', 'a{sa{sv}}', [s]);
  }

  async deleteConnection(connection: string): Promise<void> {
    await this.call(connection, IFACE.connection, 'Delete');
  }

  async activate(connection: string, device: string, specificObject: string): Promise<string> {
    const [active] = await this.call(NM_PATH, IFACE.nm, 'ActivateConnection', 'ooo', [connection, device, specificObject]);
    return String(active);
  }

  async reload(): Promise<void> {
    await this.call(NM_PATH, IFACE.nm, 'Reload', 'u', [0]);
  }

  async requestScan(device: string): Promise<void> {
    await this.call(device, IFACE.wireless, 'RequestScan', 'a{sv}', [{}]);
  }
}

function classify(err: unknown): Error {
  if (err instanceof NetworkUnavailable || err instanceof NetworkRequestFailed) return err;
  if (err instanceof BusUnavailable) return new NetworkUnavailable(err.message);
  if (err instanceof BusCallError) {
    if (SERVICE_GONE_ERRORS.has(err.errorName)) return new NetworkUnavailable(`NetworkManager is not running on the system D-Bus (${err.errorName})`);
    return new NetworkRequestFailed(`NetworkManager refused ${err.member.split('.').pop()}: ${err.text || err.errorName}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Variant);
}

/** Variants unwrapped all the way down: property values as plain data. */
export function plain(v: unknown): unknown {
  if (v instanceof Variant) return plain(v.value);
  if (Array.isArray(v)) return v.map(plain);
  if (isRecord(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

function objectPaths(v: unknown, max: number): string[] {
  if (!Array.isArray(v)) return [];
  return v.filter((p): p is string => typeof p === 'string').slice(0, max);
}

/** `a{sa{sv}}` as dbus-next decodes it; anything else reads as no settings. */
function asSettings(v: unknown): Settings {
  const out: Settings = {};
  if (!isRecord(v)) return out;
  for (const [name, values] of Object.entries(v)) {
    if (!isRecord(values)) continue;
    const setting: Record<string, Variant> = {};
    for (const [key, value] of Object.entries(values)) if (value instanceof Variant) setting[key] = value;
    out[name] = setting;
  }
  return out;
}

export function str(p: Props, key: string): string {
  const v = p[key];
  return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : '';
}

export function num(p: Props, key: string): number {
  const v = p[key];
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return 0;
}

/** An object path property; "/" (none) when absent. */
export function path(p: Props, key: string): string {
  const v = p[key];
  return typeof v === 'string' && v.startsWith('/') ? v : '/';
}

/** `AddressData` (aa{sv}) of an IP config object, in the Reagent's `{Address, Prefix}`. */
export function addressData(p: Props): Array<{ Address: string; Prefix: number }> {
  const v = p.AddressData;
  if (!Array.isArray(v)) return [];
  const out: Array<{ Address: string; Prefix: number }> = [];
  for (const a of v.slice(0, 64)) {
    if (!isRecord(a) || typeof a.address !== 'string') continue;
    out.push({ Address: a.address, Prefix: typeof a.prefix === 'number' ? a.prefix : 0 });
  }
  return out;
}
