// What NetworkManager has, read through the client: devices, access points,
// saved connections with their settings, active connections, addresses.
// Read-only; nm-network.ts decides and changes.
import { forUpdate, ssidOf, stringOf, withSecrets, type Settings } from './connection-settings.js';
import { addressData, num, path, str, type NmClient, type Props } from './nm-client.js';
import { DEVICE_TYPE, IFACE, NO_OBJECT, SETTING } from './nm-names.js';
import { NetworkRequestFailed, type AddressData } from './service.js';
import { apSecurity } from './wifi-facts.js';

export interface Device {
  path: string;
  type: number;
  state: number;
  interfaceName: string;
  hwAddress: string;
  permHwAddress: string;
  activeConnection: string;
  ip4Config: string;
  ip6Config: string;
  /** Wireless only. */
  activeAccessPoint: string;
  lastScan: number | null;
}

export interface AccessPoint {
  path: string;
  ssid: string;
  bssid: string;
  strength: number;
  frequency: number;
  security: string;
}

export interface Saved {
  path: string;
  settings: Settings;
}

/** Settings holding secrets that GetSettings leaves out. */
const SECRET_SETTINGS = [SETTING.wifiSecurity, SETTING.ieee8021x];

export class NmState {
  constructor(private readonly nm: NmClient) {}

  async device(p: string): Promise<Device> {
    const d = await this.nm.props(p, IFACE.device);
    const type = num(d, 'DeviceType');
    const specific: Props = type === DEVICE_TYPE.ethernet ? await this.nm.props(p, IFACE.wired) : type === DEVICE_TYPE.wifi ? await this.nm.props(p, IFACE.wireless) : {};
    return {
      path: p,
      type,
      state: num(d, 'State'),
      interfaceName: str(d, 'IpInterface') || str(d, 'Interface'),
      // Device.HwAddress exists since NetworkManager 1.24; the type-specific one before and since.
      hwAddress: str(specific, 'HwAddress') || str(d, 'HwAddress'),
      permHwAddress: str(specific, 'PermHwAddress'),
      activeConnection: path(d, 'ActiveConnection'),
      ip4Config: path(d, 'Ip4Config'),
      ip6Config: path(d, 'Ip6Config'),
      activeAccessPoint: path(specific, 'ActiveAccessPoint'),
      lastScan: 'LastScan' in specific ? num(specific, 'LastScan') : null,
    };
  }

  async allDevices(): Promise<Device[]> {
    const out: Device[] = [];
    for (const p of await this.nm.devices()) out.push(await this.device(p));
    return out;
  }

  /** The Reagent's choice: the Wi-Fi device that is in use, else the first one. */
  async wifiDevice(): Promise<Device> {
    const wifi = (await this.allDevices()).filter((d) => d.type === DEVICE_TYPE.wifi);
    const chosen = wifi.find((d) => d.activeConnection !== NO_OBJECT) ?? wifi[0];
    if (!chosen) throw new NetworkRequestFailed('no Wi-Fi device found');
    return chosen;
  }

  async accessPoints(device: Device): Promise<AccessPoint[]> {
    const out: AccessPoint[] = [];
    for (const p of await this.nm.accessPoints(device.path)) {
      const a = await this.nm.props(p, IFACE.accessPoint);
      out.push({
        path: p,
        ssid: str(a, 'Ssid'),
        bssid: str(a, 'HwAddress'),
        strength: num(a, 'Strength'),
        frequency: num(a, 'Frequency'),
        security: apSecurity(num(a, 'Flags'), num(a, 'WpaFlags'), num(a, 'RsnFlags')),
      });
    }
    return out;
  }

  async saved(): Promise<Saved[]> {
    const out: Saved[] = [];
    for (const p of await this.nm.connections()) {
      try {
        out.push({ path: p, settings: await this.nm.settings(p) });
      } catch (err) {
        // One unreadable connection (removed meanwhile) does not hide the others; a lost bus does.
        if (!(err instanceof NetworkRequestFailed)) throw err;
      }
    }
    return out;
  }

  savedWifi(all: Saved[], ssid: string): Saved[] {
    return all.filter((c) => ssidOf(c.settings) === ssid);
  }

  async addresses(config: string, iface: string): Promise<AddressData[]> {
    if (config === NO_OBJECT) return [];
    return addressData(await this.nm.props(config, iface));
  }

  async activeConnectionOf(device: Device): Promise<{ connection: string; specificObject: string } | null> {
    if (device.activeConnection === NO_OBJECT) return null;
    const a = await this.nm.props(device.activeConnection, IFACE.active);
    return { connection: path(a, 'Connection'), specificObject: path(a, 'SpecificObject') };
  }

  /** A saved connection bound to the interface (`connection.interface-name`), for a device that is not connected. */
  byInterface(all: Saved[], interfaceName: string): Saved | undefined {
    return interfaceName === '' ? undefined : all.find((c) => stringOf(c.settings, SETTING.connection, 'interface-name') === interfaceName);
  }

  /** Settings ready for an Update: deprecated keys dropped, stored secrets merged back in. */
  async withStoredSecrets(c: Saved): Promise<Settings> {
    const secrets: Settings[] = [];
    for (const name of SECRET_SETTINGS) if (c.settings[name]) secrets.push(await this.nm.secrets(c.path, name));
    return withSecrets(forUpdate(c.settings), secrets);
  }
}
