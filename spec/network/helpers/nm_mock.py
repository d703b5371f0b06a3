#!/usr/bin/python3
"""Drives python3-dbusmock's NetworkManager template for the network tests,
through libdbus (dbus-python): an independent D-Bus client, so what the tests
read back is the mock's state, not what reagent's own client believes.

  nm_mock.py setup    a device: eth0 (connected, DHCP), eth1 (disconnected,
                      static), wlan0 connected to HomeNet, five access points,
                      saved Wi-Fi networks HomeNet and Attic, a bridge
  nm_mock.py state    prints the mock's devices, saved connections (settings,
                      secrets merged in) and active connections as JSON
  nm_mock.py hang SECONDS
                      makes GetDevices sleep that long (the mock is single
                      threaded: nothing answers meanwhile)

The bus is DBUS_SYSTEM_BUS_ADDRESS (scripts/nm-mock-peer.sh prints it).
"""
import json
import sys
import uuid

import dbus

NM = 'org.freedesktop.NetworkManager'
NM_PATH = '/org/freedesktop/NetworkManager'
SETTINGS_PATH = '/org/freedesktop/NetworkManager/Settings'
MOCK = 'org.freedesktop.DBus.Mock'
PROPS = 'org.freedesktop.DBus.Properties'
DEVICE = 'org.freedesktop.NetworkManager.Device'
WIRED = 'org.freedesktop.NetworkManager.Device.Wired'
WIRELESS = 'org.freedesktop.NetworkManager.Device.Wireless'
ACTIVE = 'org.freedesktop.NetworkManager.Connection.Active'
CONNECTION = 'org.freedesktop.NetworkManager.Settings.Connection'
IP4 = 'org.freedesktop.NetworkManager.IP4Config'
IP6 = 'org.freedesktop.NetworkManager.IP6Config'

PSK, PAIR_CCMP, GROUP_CCMP, EAP = 0x100, 0x8, 0x80, 0x200
SECRET_KEYS = ('psk', 'wep-key0', 'wep-key1', 'wep-key2', 'wep-key3', 'leap-password', 'password')

bus = dbus.SystemBus()


def obj(path):
    return bus.get_object(NM, path)


def mock(path):
    return dbus.Interface(obj(path), MOCK)


def template():
    # The template's own methods (AddEthernetDevice, ...) live on its main object.
    return dbus.Interface(obj('/org/freedesktop'), MOCK)


def ip_config(path, iface, addresses, gateway='', nameservers=()):
    data = dbus.Array([dbus.Dictionary({'address': dbus.String(a), 'prefix': dbus.UInt32(p)}, signature='sv') for a, p in addresses], signature='a{sv}')
    props = {'AddressData': data, 'Gateway': dbus.String(gateway)}
    if iface == IP4:
        props['NameserverData'] = dbus.Array([dbus.Dictionary({'address': dbus.String(n)}, signature='sv') for n in nameservers], signature='a{sv}')
    mock(NM_PATH).AddObject(path, iface, props, [])
    return path


def add_connection(settings):
    path = dbus.Interface(obj(SETTINGS_PATH), 'org.freedesktop.NetworkManager.Settings').AddConnection(settings)
    # As NetworkManager, unlike the template: Update replaces every setting (a key left
    # out is gone), GetSettings leaves the secrets out and GetSecrets gives them.
    m = mock(path)
    m.AddMethod(CONNECTION, 'Update', 'a{sa{sv}}', '', 'self.settings = args[0]')
    m.AddMethod(CONNECTION, 'GetSettings', '', 'a{sa{sv}}', '\n'.join([
        'ret = {}',
        'for name in self.settings:',
        '    ret[name] = {}',
        '    for key in self.settings[name]:',
        '        if key not in %r:' % (SECRET_KEYS,),
        '            ret[name][key] = self.settings[name][key]',
    ]))
    m.AddMethod(CONNECTION, 'GetSecrets', 's', 'a{sa{sv}}', '\n'.join([
        'found = {}',
        'setting = self.settings.get(args[0], {})',
        'for key in setting:',
        '    if key in %r:' % (SECRET_KEYS,),
        '        found[key] = setting[key]',
        'ret = {args[0]: found}',
    ]))
    return path


def wifi_settings(ssid, psk, seen=(), extra_connection=None):
    connection = {'id': ssid, 'uuid': str(uuid.uuid4()), 'type': '802-11-wireless'}
    connection.update(extra_connection or {})
    return dbus.Dictionary({
        'connection': dbus.Dictionary(connection, signature='sv'),
        '802-11-wireless': dbus.Dictionary({
            'ssid': dbus.ByteArray(ssid.encode()),
            'mode': 'infrastructure',
            'security': '802-11-wireless-security',
            'seen-bssids': dbus.Array(list(seen), signature='s'),
        }, signature='sv'),
        '802-11-wireless-security': dbus.Dictionary({'key-mgmt': 'wpa-psk', 'psk': psk}, signature='sv'),
        'ipv4': dbus.Dictionary({'method': 'auto'}, signature='sv'),
    }, signature='sa{sv}')


def setup():
    t = template()
    eth0 = t.AddEthernetDevice('eth0', 'eth0', 100)
    eth1 = t.AddEthernetDevice('eth1', 'eth1', 30)
    wlan0 = t.AddWiFiDevice('wlan0', 'wlan0', 100)
    for path, mac in ((eth0, '52:54:00:12:34:56'), (eth1, '52:54:00:AB:CD:EF')):
        for prop in ('HwAddress', 'PermHwAddress'):
            t.SetProperty(path, WIRED, prop, dbus.String(mac, variant_level=1))
    # The template's devices have no IP configuration objects; real NetworkManager's do.
    v4 = ip_config('/org/freedesktop/NetworkManager/IP4Config/1', IP4, [('10.0.0.5', 24)], '10.0.0.1', ['10.0.0.1', '9.9.9.9'])
    v6 = ip_config('/org/freedesktop/NetworkManager/IP6Config/1', IP6, [('fe80::5054:ff:fe12:3456', 64)])
    wv4 = ip_config('/org/freedesktop/NetworkManager/IP4Config/2', IP4, [('192.168.1.23', 24)], '192.168.1.1', ['192.168.1.1'])
    for path, a, b in ((eth0, v4, v6), (eth1, '/', '/'), (wlan0, wv4, '/')):
        mock(path).AddProperty(DEVICE, 'Ip4Config', dbus.ObjectPath(a))
        mock(path).AddProperty(DEVICE, 'Ip6Config', dbus.ObjectPath(b))
    # A scan finishes at once and moves LastScan, as NetworkManager's does when the radio is done.
    mock(wlan0).AddProperty(WIRELESS, 'LastScan', dbus.Int64(1000))
    mock(wlan0).AddMethod(WIRELESS, 'RequestScan', 'a{sv}', '',
                          "self.Set('%s', 'LastScan', dbus.Int64(self.Get('%s', 'LastScan') + 1))" % (WIRELESS, WIRELESS))

    aps = {}
    for name, ssid, bssid, freq, strength, sec in (
        ('home', 'HomeNet', '00:11:22:33:44:01', 2437, 80, PSK | PAIR_CCMP),
        ('cafe', 'Cafe', '00:11:22:33:44:02', 5180, 55, 0),
        ('office', 'Office', '00:11:22:33:44:03', 5500, 40, PSK | PAIR_CCMP | GROUP_CCMP),
        ('corp', 'Corp', '00:11:22:33:44:05', 5200, 35, EAP | PAIR_CCMP),
        ('sixghz', 'Loft', '00:11:22:33:44:06', 5975, 30, PSK),
    ):
        aps[name] = t.AddAccessPoint(wlan0, name, ssid, bssid, 2, freq, 54000, dbus.Byte(strength), sec)

    wired = add_connection(dbus.Dictionary({
        'connection': dbus.Dictionary({'id': 'Wired connection 1', 'uuid': str(uuid.uuid4()), 'type': '802-3-ethernet', 'interface-name': 'eth0'}, signature='sv'),
        'ipv4': dbus.Dictionary({'method': 'auto'}, signature='sv'),
        'ipv6': dbus.Dictionary({'method': 'auto'}, signature='sv'),
    }, signature='sa{sv}'))
    add_connection(dbus.Dictionary({
        'connection': dbus.Dictionary({'id': 'static-eth1', 'uuid': str(uuid.uuid4()), 'type': '802-3-ethernet', 'interface-name': 'eth1', 'autoconnect-retries': dbus.Int32(2)}, signature='sv'),
        'ipv4': dbus.Dictionary({'method': 'manual', 'address-data': dbus.Array([dbus.Dictionary({'address': '192.168.50.2', 'prefix': dbus.UInt32(24)}, signature='sv')], signature='a{sv}')}, signature='sv'),
    }, signature='sa{sv}'))
    home = add_connection(wifi_settings('HomeNet', 'home-secret-1', ['00:11:22:33:44:01']))
    add_connection(wifi_settings('Attic', 'attic-secret-2', extra_connection={'autoconnect-retries': dbus.Int32(0)}))
    add_connection(dbus.Dictionary({
        'connection': dbus.Dictionary({'id': 'docker-br', 'uuid': str(uuid.uuid4()), 'type': 'bridge'}, signature='sv'),
    }, signature='sa{sv}'))
    t.AddActiveConnection([eth0], wired, '/', 'eth0', 2)
    t.AddActiveConnection([wlan0], home, aps['home'], 'wlan0', 2)
    print(json.dumps({'eth0': str(eth0), 'eth1': str(eth1), 'wlan0': str(wlan0), 'aps': {k: str(v) for k, v in aps.items()}}))


def plain(v, key=None):
    if isinstance(v, dbus.ByteArray) or (isinstance(v, dbus.Array) and v.signature == 'y'):
        return bytes(bytearray(v)).decode('utf-8', 'replace') if key == 'ssid' else list(bytearray(v))
    if isinstance(v, (list, dbus.Array, dbus.Struct, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, (dict, dbus.Dictionary)):
        return {str(k): plain(x, str(k)) for k, x in v.items()}
    if isinstance(v, dbus.Boolean):
        return bool(v)
    if isinstance(v, (dbus.String, dbus.ObjectPath, str)):
        return str(v)
    if isinstance(v, (int, dbus.Byte)):
        return int(v)
    return v


def state():
    nm = dbus.Interface(obj(NM_PATH), PROPS)
    devices = []
    for path in nm.Get(NM, 'Devices'):
        props = plain(dbus.Interface(obj(path), PROPS).GetAll(DEVICE))
        devices.append({'path': str(path), **{k: props.get(k) for k in ('Interface', 'DeviceType', 'State', 'ActiveConnection', 'Ip4Config')}})
    connections = []
    for path in dbus.Interface(obj(SETTINGS_PATH), PROPS).Get('org.freedesktop.NetworkManager.Settings', 'Connections'):
        conn = dbus.Interface(obj(path), CONNECTION)
        settings = plain(conn.GetSettings())
        # Secrets as NetworkManager would hand them out, merged back for the tests to see.
        for name in ('802-11-wireless-security',):
            if name in settings:
                for key, value in plain(conn.GetSecrets(name)).get(name, {}).items():
                    if key in SECRET_KEYS:
                        settings[name][key] = value
        connections.append({'path': str(path), 'settings': settings})
    active = []
    for path in nm.Get(NM, 'ActiveConnections'):
        props = plain(dbus.Interface(obj(path), PROPS).GetAll(ACTIVE))
        active.append({'path': str(path), **{k: props.get(k) for k in ('Connection', 'SpecificObject', 'Devices', 'Id')}})
    print(json.dumps({'devices': devices, 'connections': connections, 'active': active}))


def hang(seconds):
    mock(NM_PATH).AddMethod(NM, 'GetDevices', '', 'ao', 'import time\ntime.sleep(%f)\nret = []' % seconds)
    print('{}')


if __name__ == '__main__':
    cmd = sys.argv[1] if len(sys.argv) > 1 else ''
    if cmd == 'setup':
        setup()
    elif cmd == 'state':
        state()
    elif cmd == 'hang':
        hang(float(sys.argv[2]))
    else:
        sys.exit(__doc__)
