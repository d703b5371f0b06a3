// NetworkManager's D-Bus names and numbers (its D-Bus API reference, "nm-dbus-types").

export const NM_BUS = 'org.freedesktop.NetworkManager';
export const NM_PATH = '/org/freedesktop/NetworkManager';
export const NM_SETTINGS_PATH = '/org/freedesktop/NetworkManager/Settings';

export const IFACE = {
  nm: 'org.freedesktop.NetworkManager',
  settings: 'org.freedesktop.NetworkManager.Settings',
  connection: 'org.freedesktop.NetworkManager.Settings.Connection',
  active: 'org.freedesktop.NetworkManager.Connection.Active',
  device: 'org.freedesktop.NetworkManager.Device',
  wired: 'org.freedesktop.NetworkManager.Device.Wired',
  wireless: 'org.freedesktop.NetworkManager.Device.Wireless',
  accessPoint: 'org.freedesktop.NetworkManager.AccessPoint',
  ip4: 'org.freedesktop.NetworkManager.IP4Config',
  ip6: 'org.freedesktop.NetworkManager.IP6Config',
  properties: 'org.freedesktop.DBus.Properties',
  dbus: 'org.freedesktop.DBus',
} as const;

export const DBUS_BUS = 'org.freedesktop.DBus';
export const DBUS_PATH = '/org/freedesktop/DBus';

/** NMDeviceType. */
export const DEVICE_TYPE = { ethernet: 1, wifi: 2 } as const;

/** NMDeviceState: below DISCONNECTED a device cannot be used (unmanaged, unavailable). */
export const DEVICE_STATE = { disconnected: 30, activated: 100 } as const;

/** The "no object" path NetworkManager uses for empty object references. */
export const NO_OBJECT = '/';

/** Setting names in a connection's settings dictionary. */
export const SETTING = {
  connection: 'connection',
  wifi: '802-11-wireless',
  wifiSecurity: '802-11-wireless-security',
  ethernet: '802-3-ethernet',
  ieee8021x: '802-1x',
  ipv4: 'ipv4',
  ipv6: 'ipv6',
} as const;

/** Errors that mean "NetworkManager is not on the bus", as opposed to NetworkManager refusing a request. */
export const SERVICE_GONE_ERRORS: ReadonlySet<string> = new Set([
  'org.freedesktop.DBus.Error.ServiceUnknown',
  'org.freedesktop.DBus.Error.NameHasNoOwner',
  'org.freedesktop.DBus.Error.NoReply',
  'org.freedesktop.DBus.Error.Disconnected',
  'org.freedesktop.DBus.Error.Timeout',
  'org.freedesktop.DBus.Error.TimedOut',
]);

/** RequestScan refused because a scan ran moments ago. */
export const SCAN_RATE_LIMITED = /NotAllowed|scanning not allowed|immediately following previous scan/i;
