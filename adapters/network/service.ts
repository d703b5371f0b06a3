// What the device API may ask of the device's networking, in the Reagent's
// wire shapes (api/wifi.go, api/ethernet.go). The studio link's procedures
// depend on this interface only; adapters/network/ implements it over
// NetworkManager's D-Bus API, or answers "unavailable".
import type { WifiSecurity } from './wifi-facts.js';

/** One address of an interface. The Reagent sends its Go struct untagged, so the keys are Go's field names. */
export interface AddressData {
  Address: string;
  Prefix: number;
}

/** An entry of list_wifi_networks: an access point in range, or a saved network not in range. */
export interface WifiNetwork {
  /** BSSID of the access point; "" for a saved network not in range. */
  mac: string;
  ssid: string;
  channel: number;
  /** Signal quality in percent. */
  signal: number;
  security: WifiSecurity | string;
  /** MHz. */
  frequency: number;
  /** A saved configuration exists for it. */
  known: boolean;
  /** The Wi-Fi device is connected through it. */
  current: boolean;
}

export interface WifiList {
  networks: WifiNetwork[];
  /** Addresses of the Wi-Fi device (list_wifi_networks' kwargs). */
  ipv4: AddressData[];
  ipv6: AddressData[];
}

export interface EthernetDevice {
  interfaceName: string;
  mac: string;
  ipv4: AddressData[];
  ipv6: AddressData[];
  /** The connection's `ipv4.method` ("auto" = DHCP, "manual" = static), "" when there is none. */
  method: string;
}

/** Wi-Fi security types add_wifi_configuration can configure. */
export const CONFIGURABLE_SECURITY = ['none', 'wep', 'wpa-psk', 'sae'] as const;
export type ConfigurableSecurity = (typeof CONFIGURABLE_SECURITY)[number];

export interface WifiCredentials {
  ssid: string;
  /** A secret: never logged, journaled or echoed. */
  password: string;
  priority: number;
  /** BSSID of an access point in range; its SSID and security are then taken from the access point. */
  mac?: string;
  security?: ConfigurableSecurity;
}

export type Ipv4Change =
  | { method: 'auto'; mac: string; interfaceName: string }
  | { method: 'manual'; mac: string; interfaceName: string; address: string; prefix: number };

export interface NetworkService {
  listWifi(): Promise<WifiList>;
  /** Asks for a scan and waits (bounded) until it has run. */
  scan(): Promise<void>;
  /** Saves a Wi-Fi configuration; one with the same SSID is replaced. */
  addWifi(credentials: WifiCredentials): Promise<void>;
  removeWifi(ssid: string): Promise<void>;
  selectWifi(ssid: string, mac: string): Promise<void>;
  restartWifi(): Promise<void>;
  listEthernet(): Promise<EthernetDevice[]>;
  updateIpv4(change: Ipv4Change): Promise<void>;
}

export const UNAVAILABLE = 'network management unavailable on this device';

/** Every network procedure's answer when NetworkManager cannot be reached (or -nmw=false). */
export class NetworkUnavailable extends Error {
  constructor(readonly reason: string) {
    super(`${UNAVAILABLE}: ${reason}`);
    this.name = 'NetworkUnavailable';
  }
}

/** A request NetworkManager cannot carry out as asked (no such network, device or configuration). */
export class NetworkRequestFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetworkRequestFailed';
  }
}

/** `-nmw=false`, a non-Linux host: every call answers "unavailable" with the reason. */
export class UnavailableNetwork implements NetworkService {
  constructor(readonly reason: string) {}
  private fail(): Promise<never> {
    return Promise.reject(new NetworkUnavailable(this.reason));
  }
  listWifi() {
    return this.fail();
  }
  scan() {
    return this.fail();
  }
  addWifi() {
    return this.fail();
  }
  removeWifi() {
    return this.fail();
  }
  selectWifi() {
    return this.fail();
  }
  restartWifi() {
    return this.fail();
  }
  listEthernet() {
    return this.fail();
  }
  updateIpv4() {
    return this.fail();
  }
}
