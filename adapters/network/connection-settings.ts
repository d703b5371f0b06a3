// NetworkManager connection settings (`a{sa{sv}}`: setting name → key →
// variant) as the Reagent edits them: a new Wi-Fi configuration, DHCP or a
// static IPv4 address on an existing connection, infinite autoconnect retries.
// Pure functions over copies; the D-Bus calls live in nm-network.ts.
import { Variant } from '@particle/dbus-next';
import { SETTING } from './nm-names.js';
import type { ConfigurableSecurity } from './service.js';

export type Settings = Record<string, Record<string, Variant>>;

/** A copy deep enough that edits to a setting never touch the original. */
export function copySettings(s: Settings): Settings {
  const out: Settings = {};
  for (const [name, setting] of Object.entries(s)) out[name] = { ...setting };
  return out;
}

function setting(s: Settings, name: string): Record<string, Variant> {
  return (s[name] ??= {});
}

/** The SSID of a Wi-Fi connection (bytes, read as UTF-8); null for other connections. */
export function ssidOf(s: Settings): string | null {
  const v = s[SETTING.wifi]?.ssid?.value;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v) && v.every((b) => typeof b === 'number')) return Buffer.from(v).toString('utf8');
  return null;
}

export function stringOf(s: Settings, name: string, key: string): string | null {
  const v = s[name]?.[key]?.value;
  return typeof v === 'string' ? v : null;
}

export function numberOf(s: Settings, name: string, key: string): number | null {
  const v = s[name]?.[key]?.value;
  return typeof v === 'number' ? v : null;
}

/** `802-11-wireless.seen-bssids`: the access points this configuration has connected through. */
export function seenBssids(s: Settings): string[] {
  const v = s[SETTING.wifi]?.['seen-bssids']?.value;
  return Array.isArray(v) ? v.filter((b): b is string => typeof b === 'string') : [];
}

/** What a Wi-Fi password must look like for each security type; null when it does. Never quotes the password. */
export function passwordProblem(security: ConfigurableSecurity, password: string): string | null {
  switch (security) {
    case 'none':
      return password === '' ? null : 'an empty string: the network is open (security "none")';
    case 'wpa-psk':
      return (password.length >= 8 && password.length <= 63 && /^[\x20-\x7e]*$/.test(password)) || /^[0-9a-fA-F]{64}$/.test(password)
        ? null
        : `a WPA passphrase of 8 to 63 printable ASCII characters, or 64 hex digits (got ${password.length} characters)`;
    case 'sae':
      return password.length >= 1 && password.length <= 128 ? null : `a WPA3 password of 1 to 128 characters (got ${password.length})`;
    case 'wep':
      return [5, 13].includes(password.length) || (/^[0-9a-fA-F]*$/.test(password) && [10, 26].includes(password.length))
        ? null
        : `a WEP key of 5 or 13 characters, or 10 or 26 hex digits (got ${password.length} characters)`;
  }
}

export interface WifiConfig {
  ssid: string;
  security: ConfigurableSecurity;
  password: string;
  priority: number;
  uuid: string;
}

/**
 * A new Wi-Fi connection, as the Reagent builds it (id = SSID, the priority as
 * `autoconnect-priority`), plus what it leaves to chance: the type and a uuid
 * (older NetworkManager versions require both), and `autoconnect-retries` 0 so
 * that the network added from the studio is retried for ever, like every
 * other connection after boot. An open network gets no security setting: a
 * `key-mgmt` of "none" would mean static WEP to NetworkManager.
 */
export function wifiConnection(c: WifiConfig): Settings {
  const s: Settings = {
    [SETTING.connection]: {
      id: new Variant('s', c.ssid),
      uuid: new Variant('s', c.uuid),
      type: new Variant('s', SETTING.wifi),
      'autoconnect-priority': new Variant('i', c.priority),
      'autoconnect-retries': new Variant('i', 0),
    },
    [SETTING.wifi]: {
      ssid: new Variant('ay', Buffer.from(c.ssid, 'utf8')),
      mode: new Variant('s', 'infrastructure'),
    },
    [SETTING.ipv4]: { method: new Variant('s', 'auto') },
    [SETTING.ipv6]: { method: new Variant('s', 'auto') },
  };
  if (c.security === 'none') return s;
  s[SETTING.wifi]!.security = new Variant('s', SETTING.wifiSecurity);
  const sec: Record<string, Variant> = { 'key-mgmt': new Variant('s', c.security) };
  if (c.security === 'wep') {
    sec['wep-key-type'] = new Variant('u', 1); // NM_WEP_KEY_TYPE_KEY: hex or ASCII key
    sec['wep-key0'] = new Variant('s', c.password);
  } else {
    sec['psk-flags'] = new Variant('u', 0); // stored by NetworkManager itself: a headless device has no secret agent
    sec.psk = new Variant('s', c.password);
  }
  s[SETTING.wifiSecurity] = sec;
  return s;
}

/** Replacing an existing configuration keeps its identity (uuid, id), so NetworkManager updates it in place. */
export function keepIdentity(next: Settings, existing: Settings): Settings {
  const out = copySettings(next);
  const conn = setting(out, SETTING.connection);
  for (const key of ['uuid', 'id'] as const) {
    const v = existing[SETTING.connection]?.[key];
    if (v) conn[key] = v;
  }
  return out;
}

/**
 * GetSettings returns the deprecated `addresses`/`routes` next to
 * `address-data`/`route-data`; sending both back makes NetworkManager use the
 * deprecated ones and ignore the new ones, so they are dropped before an Update.
 */
export function forUpdate(s: Settings): Settings {
  const out = copySettings(s);
  for (const ip of [SETTING.ipv4, SETTING.ipv6]) {
    const set = out[ip];
    if (!set) continue;
    delete set.addresses;
    delete set.routes;
  }
  return out;
}

/** Secrets (GetSecrets replies) merged in: an Update without them could drop a stored Wi-Fi key. */
export function withSecrets(s: Settings, secrets: readonly Settings[]): Settings {
  const out = copySettings(s);
  for (const reply of secrets) {
    for (const [name, values] of Object.entries(reply)) {
      if (!out[name]) continue;
      for (const [key, v] of Object.entries(values)) out[name]![key] ??= v;
    }
  }
  return out;
}

/** `connection.autoconnect-retries` = 0: NetworkManager retries activation for ever (-1, the default, means 4 tries). */
export function withInfiniteRetries(s: Settings): Settings {
  const out = forUpdate(s);
  setting(out, SETTING.connection)['autoconnect-retries'] = new Variant('i', 0);
  return out;
}

export function hasInfiniteRetries(s: Settings): boolean {
  return numberOf(s, SETTING.connection, 'autoconnect-retries') === 0;
}

/** DHCP: method auto, no static address or gateway (the DNS servers stay, as the Reagent leaves them). */
export function withDhcp(s: Settings): Settings {
  const out = forUpdate(s);
  const ip = setting(out, SETTING.ipv4);
  delete ip['address-data'];
  delete ip.gateway;
  ip.method = new Variant('s', 'auto');
  return out;
}

export interface StaticIpv4 {
  address: string;
  prefix: number;
  /** The device's current gateway and DNS servers, kept so the device stays reachable after the switch. */
  gateway: string | null;
  dns: readonly string[];
}

/** A static address: method manual, one address, the current gateway and DNS servers. */
export function withStaticIpv4(s: Settings, v: StaticIpv4): Settings {
  const out = forUpdate(s);
  const ip = setting(out, SETTING.ipv4);
  delete ip.gateway;
  delete ip.dns;
  ip.method = new Variant('s', 'manual');
  ip['address-data'] = new Variant('aa{sv}', [{ address: new Variant('s', v.address), prefix: new Variant('u', v.prefix) }]);
  if (v.gateway) ip.gateway = new Variant('s', v.gateway);
  if (v.dns.length > 0) ip.dns = new Variant('au', v.dns.map((a) => ipv4ToNetworkOrder(a)));
  return out;
}

/** `ipv4.dns` holds addresses as uint32 "in network byte order": the integer whose bytes in memory, on this host, are the address. */
export function ipv4ToNetworkOrder(address: string, littleEndian = hostIsLittleEndian()): number {
  const bytes = Buffer.from(address.split('.').map((p) => Number(p)));
  return littleEndian ? bytes.readUInt32LE(0) : bytes.readUInt32BE(0);
}

export function ipv4FromNetworkOrder(n: number, littleEndian = hostIsLittleEndian()): string {
  const b = Buffer.alloc(4);
  if (littleEndian) b.writeUInt32LE(n >>> 0, 0);
  else b.writeUInt32BE(n >>> 0, 0);
  return [...b].join('.');
}

function hostIsLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/** Dotted-quad IPv4, each part 0-255 without leading zeros. */
export function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}
