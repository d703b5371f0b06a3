// The device's networking over NetworkManager, doing what the Reagent's
// network/nmw_network.go does (with the corrections noted in place). One
// request runs at a time: every one of them reads state and then changes it,
// and two interleaved would act on what the other is changing. The queue is
// bounded; a request beyond it is refused at once.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  hasInfiniteRetries,
  isIpv4,
  ipv4FromNetworkOrder,
  keepIdentity,
  passwordProblem,
  seenBssids,
  ssidOf,
  stringOf,
  wifiConnection,
  withDhcp,
  withInfiniteRetries,
  withStaticIpv4,
  type Settings,
} from './connection-settings.js';
import { addressData, plain, str, type NmClient, type Props } from './nm-client.js';
import { DEVICE_STATE, DEVICE_TYPE, IFACE, NO_OBJECT, SCAN_RATE_LIMITED, SETTING } from './nm-names.js';
import { NmState, type Device } from './nm-state.js';
import {
  CONFIGURABLE_SECURITY,
  NetworkRequestFailed,
  type AddressData,
  type ConfigurableSecurity,
  type EthernetDevice,
  type Ipv4Change,
  type NetworkService,
  type WifiCredentials,
  type WifiList,
  type WifiNetwork,
} from './service.js';
import { channelOf } from './wifi-facts.js';

export interface NmNetworkOptions {
  client: NmClient;
  logger: Logger;
  /** Registers a secret with the log redactor (Wi-Fi passwords). */
  addSecret(value: string): void;
  /** Bound of a Wi-Fi scan (the Reagent's 10 s). */
  scanTimeoutMs?: number;
  /** How long a new IP configuration waits before it is activated, so the caller's answer leaves first. */
  activationDelayMs?: number;
  /** Requests waiting behind the running one before more are refused. */
  maxQueued?: number;
}

export class NmNetwork implements NetworkService {
  private chain: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private readonly nm: NmClient;
  private readonly read: NmState;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: NmNetworkOptions) {
    this.nm = opts.client;
    this.read = new NmState(opts.client);
  }

  /** Runs requests one after another; refuses when too many wait. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const max = this.opts.maxQueued ?? 8;
    if (this.queued >= max) return Promise.reject(new NetworkRequestFailed(`network management is busy (${this.queued} requests waiting); try again`));
    this.queued++;
    const run = this.chain.then(fn, fn);
    this.chain = run.then(
      () => this.queued--,
      () => this.queued--,
    );
    return run;
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ---- the device API ----------------------------------------------------

  listWifi(): Promise<WifiList> {
    return this.serial(async () => {
      const device = await this.read.wifiDevice();
      const aps = await this.read.accessPoints(device);
      const all = await this.read.saved();
      const wifi = all.filter((c) => ssidOf(c.settings) !== null);
      const knownSsids = new Set(wifi.map((c) => ssidOf(c.settings)));
      const knownBssids = new Set(wifi.flatMap((c) => seenBssids(c.settings).map((b) => b.toUpperCase())));
      // The AP the device is associated with; through the active connection where ActiveAccessPoint is not offered.
      const currentAp = device.activeAccessPoint !== NO_OBJECT ? device.activeAccessPoint : ((await this.read.activeConnectionOf(device))?.specificObject ?? NO_OBJECT);
      const networks: WifiNetwork[] = aps.map((ap) => ({
        mac: ap.bssid,
        ssid: ap.ssid,
        channel: channelOf(ap.frequency),
        signal: ap.strength,
        security: ap.security,
        frequency: ap.frequency,
        known: knownSsids.has(ap.ssid) || knownBssids.has(ap.bssid.toUpperCase()),
        current: currentAp !== NO_OBJECT && ap.path === currentAp,
      }));
      // Saved networks not in range are listed too, known and not current.
      const inRange = new Set(aps.map((a) => a.ssid));
      for (const c of wifi) {
        const ssid = ssidOf(c.settings)!;
        if (inRange.has(ssid)) continue;
        inRange.add(ssid);
        const keyMgmt = stringOf(c.settings, SETTING.wifiSecurity, 'key-mgmt');
        networks.push({ mac: '', ssid, channel: 0, signal: 0, security: keyMgmt ?? 'none', frequency: 0, known: true, current: false });
      }
      return {
        networks,
        ipv4: await this.read.addresses(device.ip4Config, IFACE.ip4),
        ipv6: await this.read.addresses(device.ip6Config, IFACE.ip6),
      };
    });
  }

  scan(): Promise<void> {
    return this.serial(async () => {
      const deadline = Date.now() + (this.opts.scanTimeoutMs ?? 10_000);
      const device = await this.read.wifiDevice();
      const before = device.lastScan;
      for (;;) {
        try {
          await this.nm.requestScan(device.path);
          break;
        } catch (err) {
          // A scan right after another is refused; the Reagent waits a second and asks again.
          if (!(err instanceof NetworkRequestFailed) || !SCAN_RATE_LIMITED.test(err.message) || Date.now() + 1000 > deadline) throw err;
          await sleep(1000);
        }
      }
      // NetworkManager before 1.12 has no LastScan: the request is all there is to wait for.
      if (before === null) return;
      for (;;) {
        const now = await this.read.device(device.path);
        if (now.lastScan !== before) return;
        if (now.state < DEVICE_STATE.disconnected) throw new NetworkRequestFailed(`the Wi-Fi device ${device.interfaceName} is not available for scanning (state ${now.state})`);
        if (Date.now() > deadline) throw new NetworkRequestFailed(`the Wi-Fi scan did not finish within ${this.opts.scanTimeoutMs ?? 10_000} ms`);
        await sleep(100);
      }
    });
  }

  addWifi(c: WifiCredentials): Promise<void> {
    // Registered before anything can fail: NetworkManager's errors are logged, and must not carry it.
    this.opts.addSecret(c.password);
    return this.serial(async () => {
      let ssid = c.ssid;
      let security: ConfigurableSecurity = c.security ?? (c.password === '' ? 'none' : 'wpa-psk');
      if (c.mac) {
        // As the Reagent: a BSSID names the access point, whose SSID and security win.
        const device = await this.read.wifiDevice();
        const ap = (await this.read.accessPoints(device)).find((a) => sameMac(a.bssid, c.mac!));
        if (!ap) throw new NetworkRequestFailed(`no access point with BSSID ${c.mac} in range`);
        if (!(CONFIGURABLE_SECURITY as readonly string[]).includes(ap.security)) {
          throw new NetworkRequestFailed(`the access point ${c.mac} uses "${ap.security}" security, which cannot be configured here (supported: ${CONFIGURABLE_SECURITY.join(', ')})`);
        }
        ssid = ap.ssid;
        security = ap.security as ConfigurableSecurity;
      }
      const problem = passwordProblem(security, c.password);
      if (problem) throw new NetworkRequestFailed(`the Wi-Fi password is invalid: expected ${problem}`);
      const settings = wifiConnection({ ssid, security, password: c.password, priority: c.priority, uuid: randomUUID() });
      const existing = this.read.savedWifi(await this.read.saved(), ssid)[0];
      try {
        if (existing) await this.nm.update(existing.path, keepIdentity(settings, existing.settings));
        else await this.nm.addConnection(settings);
      } catch (err) {
        if (err instanceof NetworkRequestFailed && /psk|wep-key/.test(err.message)) throw new NetworkRequestFailed('the Wi-Fi password is invalid (NetworkManager refused it)');
        throw err;
      }
      this.opts.logger.info({ ssid, security, priority: c.priority, replaced: existing !== undefined }, 'Wi-Fi configuration saved');
    });
  }

  removeWifi(ssid: string): Promise<void> {
    return this.serial(async () => {
      const matching = this.read.savedWifi(await this.read.saved(), ssid);
      if (matching.length === 0) throw new NetworkRequestFailed(`no saved Wi-Fi configuration with ssid ${JSON.stringify(ssid)}`);
      for (const c of matching) await this.nm.deleteConnection(c.path);
      this.opts.logger.info({ ssid, removed: matching.length }, 'Wi-Fi configuration removed');
    });
  }

  selectWifi(ssid: string, mac: string): Promise<void> {
    return this.serial(async () => {
      const device = await this.read.wifiDevice();
      const conn = this.read.savedWifi(await this.read.saved(), ssid)[0];
      if (!conn) throw new NetworkRequestFailed(`no saved Wi-Fi configuration with ssid ${JSON.stringify(ssid)}; add it first`);
      let specific = NO_OBJECT;
      if (mac !== '') {
        const ap = (await this.read.accessPoints(device)).find((a) => sameMac(a.bssid, mac));
        if (!ap) throw new NetworkRequestFailed(`no access point with BSSID ${mac} in range`);
        specific = ap.path;
      }
      await this.nm.activate(conn.path, device.path, specific);
      this.opts.logger.info({ ssid, bssid: mac, device: device.interfaceName }, 'Wi-Fi network selected');
    });
  }

  restartWifi(): Promise<void> {
    return this.serial(async () => {
      await this.nm.reload();
      this.opts.logger.info('NetworkManager reloaded');
    });
  }

  listEthernet(): Promise<EthernetDevice[]> {
    return this.serial(async () => {
      const devices = (await this.read.allDevices()).filter((d) => d.type === DEVICE_TYPE.ethernet);
      const all = devices.length > 0 ? await this.read.saved() : [];
      const out: EthernetDevice[] = [];
      for (const d of devices) {
        const active = await this.read.activeConnectionOf(d);
        const activeSettings = active && active.connection !== NO_OBJECT ? all.find((c) => c.path === active.connection) : undefined;
        const conn = activeSettings ?? this.read.byInterface(all, d.interfaceName);
        let ipv4 = await this.read.addresses(d.ip4Config, IFACE.ip4);
        // Not connected: the addresses it would get, as the Reagent shows them.
        if (d.ip4Config === NO_OBJECT && conn) ipv4 = addressDataOf(conn.settings);
        out.push({
          interfaceName: d.interfaceName,
          mac: d.permHwAddress || d.hwAddress,
          ipv4,
          ipv6: await this.read.addresses(d.ip6Config, IFACE.ip6),
          method: (conn && stringOf(conn.settings, SETTING.ipv4, 'method')) ?? '',
        });
      }
      return out;
    });
  }

  updateIpv4(change: Ipv4Change): Promise<void> {
    return this.serial(async () => {
      const devices = await this.read.allDevices();
      const device = devices.find((d) => sameMac(d.hwAddress, change.mac) || sameMac(d.permHwAddress, change.mac)) ?? devices.find((d) => d.interfaceName === change.interfaceName && change.interfaceName !== '');
      const all = await this.read.saved();
      const active = device ? await this.read.activeConnectionOf(device) : null;
      const conn = (active && all.find((c) => c.path === active.connection)) ?? this.read.byInterface(all, device?.interfaceName || change.interfaceName);
      if (!conn) throw new NetworkRequestFailed(`no connection found for interface ${JSON.stringify(change.interfaceName)} (mac ${change.mac})`);
      const current = await this.read.withStoredSecrets(conn);
      let next: Settings;
      if (change.method === 'auto') {
        next = withDhcp(current);
      } else {
        // The device's present gateway and DNS servers carry over, so it stays reachable at its new address.
        const ip4 = device && device.ip4Config !== NO_OBJECT ? await this.nm.props(device.ip4Config, IFACE.ip4) : {};
        next = withStaticIpv4(current, { address: change.address, prefix: change.prefix, gateway: str(ip4, 'Gateway') || null, dns: nameservers(ip4) });
      }
      await this.nm.update(conn.path, next);
      this.opts.logger.info({ interface: device?.interfaceName ?? change.interfaceName, method: change.method, ...(change.method === 'manual' ? { address: `${change.address}/${change.prefix}` } : {}) }, 'IPv4 configuration updated');
      if (device) this.activateLater(conn.path, device);
    });
  }

  /**
   * Re-activating applies the new addresses, and may cut the link this very
   * request came over: it runs shortly after the answer, as the Reagent does
   * it in the background.
   */
  private activateLater(connection: string, device: Device): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.serial(() => this.nm.activate(connection, device.path, NO_OBJECT)).then(
        () => this.opts.logger.info({ interface: device.interfaceName }, 'connection re-activated with the new IPv4 configuration'),
        (err: unknown) => this.opts.logger.error({ err, interface: device.interfaceName }, 're-activating the connection failed'),
      );
    }, this.opts.activationDelayMs ?? 500);
    this.timers.add(timer);
  }

  // ---- boot --------------------------------------------------------------

  /**
   * The Reagent's SetInfiniteAutoconnectRetries, run at boot: NetworkManager
   * gives up auto-activating a connection after 4 failed tries (the default
   * -1), which leaves a headless device offline after a router or DHCP outage
   * until someone reboots it. `autoconnect-retries` = 0 means "for ever"; it
   * is set on every Wi-Fi and Ethernet connection that does not have it yet.
   */
  setInfiniteAutoconnectRetries(): Promise<{ changed: number; connections: number }> {
    return this.serial(async () => {
      const candidates = (await this.read.saved()).filter((c) => {
        const type = stringOf(c.settings, SETTING.connection, 'type');
        return type === SETTING.wifi || type === SETTING.ethernet;
      });
      let changed = 0;
      for (const c of candidates) {
        if (hasInfiniteRetries(c.settings)) continue;
        await this.nm.update(c.path, withInfiniteRetries(await this.read.withStoredSecrets(c)));
        changed++;
      }
      return { changed, connections: candidates.length };
    });
  }
}

function sameMac(a: string, b: string): boolean {
  return a !== '' && a.toUpperCase() === b.toUpperCase();
}

function addressDataOf(s: Settings): AddressData[] {
  return addressData({ AddressData: plain(s[SETTING.ipv4]?.['address-data']) });
}

/** DNS servers of an IP4Config: NameserverData (NetworkManager ≥ 1.14), else the older uint32 list. */
function nameservers(ip4: Props): string[] {
  const data = ip4.NameserverData;
  if (Array.isArray(data)) {
    return data
      .map((d: unknown) => (d !== null && typeof d === 'object' ? Reflect.get(d, 'address') : undefined))
      .filter((a): a is string => typeof a === 'string' && isIpv4(a))
      .slice(0, 8);
  }
  const old = ip4.Nameservers;
  if (Array.isArray(old)) return old.filter((n): n is number => typeof n === 'number').map((n) => ipv4FromNetworkOrder(n)).slice(0, 8);
  return [];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
