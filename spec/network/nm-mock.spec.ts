// The NetworkManager adapter against python3-dbusmock's NetworkManager
// template on a private system bus. Every change is checked on the mock's own
// D-Bus state, read back with libdbus (nm_mock.py), not on our return values.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { NmClient } from '../../adapters/network/nm-client.js';
import { NmNetwork } from '../../adapters/network/nm-network.js';
import { NetworkRequestFailed, NetworkUnavailable } from '../../adapters/network/service.js';
import { networkFromFlags } from '../../adapters/network/from-flags.js';
import { Redactor } from '../../adapters/log/redactor.js';
import { connectionNamed, skipLoudly, startNmPeer, type MockPaths, type NmPeer } from './helpers/nm-peer.js';

function quietLogger(lines: string[] = []) {
  return pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
}

function network(address: string, opts: { callTimeoutMs?: number; secrets?: string[]; logs?: string[] } = {}) {
  const client = new NmClient({ address, connectTimeoutMs: 2000, callTimeoutMs: opts.callTimeoutMs ?? 5000, logger: quietLogger(opts.logs) });
  const net = new NmNetwork({ client, logger: quietLogger(opts.logs), addSecret: (v) => opts.secrets?.push(v), activationDelayMs: 10, scanTimeoutMs: 3000 });
  return { client, net };
}

async function until<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const peerOrSkip = await startNmPeer();

if ('skipped' in peerOrSkip) {
  skipLoudly('NetworkManager adapter', peerOrSkip.skipped);
} else {
  const peer: NmPeer = peerOrSkip;
  let paths: MockPaths;
  const secrets: string[] = [];
  const { client, net } = network(peer.address, { secrets });

  describe('NetworkManager over D-Bus (dbusmock)', () => {
    before(async () => {
      paths = await peer.setup();
    });
    after(async () => {
      net.stop();
      client.close();
      await peer.stop();
    });

    test('boot: autoconnect-retries 0 on every Wi-Fi and Ethernet connection, secrets and addresses kept', async () => {
      assert.equal(await client.nmPresent(), true);
      assert.deepEqual(await net.setInfiniteAutoconnectRetries(), { changed: 3, connections: 4 });
      const s = await peer.state();
      for (const name of ['Wired connection 1', 'static-eth1', 'HomeNet', 'Attic']) {
        assert.equal(connectionNamed(s, name)?.settings.connection?.['autoconnect-retries'], 0, name);
      }
      assert.equal(connectionNamed(s, 'docker-br')?.settings.connection?.['autoconnect-retries'], undefined, 'a bridge is not touched');
      assert.equal(connectionNamed(s, 'HomeNet')?.settings['802-11-wireless-security']?.psk, 'home-secret-1');
      assert.deepEqual(connectionNamed(s, 'static-eth1')?.settings.ipv4?.['address-data'], [{ address: '192.168.50.2', prefix: 24 }]);
      assert.deepEqual(await net.setInfiniteAutoconnectRetries(), { changed: 0, connections: 4 }, 'a second boot changes nothing');
    });

    test('list_wifi_networks: access points in range, saved networks, the current one, the Wi-Fi addresses', async () => {
      const list = await net.listWifi();
      const by = new Map(list.networks.map((n) => [n.ssid, n]));
      assert.deepEqual(by.get('HomeNet'), { mac: '00:11:22:33:44:01', ssid: 'HomeNet', channel: 6, signal: 80, security: 'wpa-psk', frequency: 2437, known: true, current: true });
      assert.deepEqual(by.get('Cafe'), { mac: '00:11:22:33:44:02', ssid: 'Cafe', channel: 36, signal: 55, security: 'none', frequency: 5180, known: false, current: false });
      assert.equal(by.get('Corp')?.security, 'wpa-eap');
      assert.equal(by.get('Loft')?.channel, 5, '6 GHz channel 5');
      assert.deepEqual(by.get('Attic'), { mac: '', ssid: 'Attic', channel: 0, signal: 0, security: 'wpa-psk', frequency: 0, known: true, current: false });
      assert.equal(list.networks.filter((n) => n.current).length, 1);
      assert.deepEqual(list.ipv4, [{ Address: '192.168.1.23', Prefix: 24 }]);
      assert.deepEqual(list.ipv6, []);
    });

    test('list_ethernet_devices: addresses and method of each wired device', async () => {
      assert.deepEqual(await net.listEthernet(), [
        { interfaceName: 'eth0', mac: '52:54:00:12:34:56', ipv4: [{ Address: '10.0.0.5', Prefix: 24 }], ipv6: [{ Address: 'fe80::5054:ff:fe12:3456', Prefix: 64 }], method: 'auto' },
        // Disconnected: the addresses its configuration would give.
        { interfaceName: 'eth1', mac: '52:54:00:AB:CD:EF', ipv4: [{ Address: '192.168.50.2', Prefix: 24 }], ipv6: [], method: 'manual' },
      ]);
    });

    test('add_wifi_configuration: by BSSID (the AP names SSID and security), open by SSID, same SSID replaces', async () => {
      await net.addWifi({ ssid: 'ignored', password: 'office-pass-123', priority: 7, mac: '00:11:22:33:44:03' });
      await net.addWifi({ ssid: 'Cafe', password: '', priority: 5 });
      let s = await peer.state();
      const office = connectionNamed(s, 'Office')!;
      assert.equal(office.settings.connection?.id, 'Office');
      assert.equal(office.settings.connection?.type, '802-11-wireless');
      assert.equal(office.settings.connection?.['autoconnect-priority'], 7);
      assert.equal(office.settings.connection?.['autoconnect-retries'], 0);
      assert.equal(office.settings['802-11-wireless-security']?.['key-mgmt'], 'wpa-psk');
      assert.equal(office.settings['802-11-wireless-security']?.psk, 'office-pass-123', 'the password reached NetworkManager');
      const cafe = connectionNamed(s, 'Cafe')!;
      assert.equal(cafe.settings['802-11-wireless-security'], undefined, 'an open network has no security setting');
      assert.ok(secrets.includes('office-pass-123'), 'the password was registered with the redactor');

      await net.addWifi({ ssid: 'Cafe', password: 'now-protected', priority: 9, security: 'wpa-psk' });
      s = await peer.state();
      const cafes = s.connections.filter((c) => c.settings['802-11-wireless']?.ssid === 'Cafe');
      assert.equal(cafes.length, 1, 'replaced, not duplicated');
      assert.equal(cafes[0]!.settings.connection?.['autoconnect-priority'], 9);
      assert.equal(cafes[0]!.settings.connection?.uuid, cafe.settings.connection?.uuid, 'same identity');
    });

    test('add_wifi_configuration refusals name the problem and change nothing', async () => {
      const before = await peer.state();
      await assert.rejects(net.addWifi({ ssid: 'x', password: 'p', priority: 1, mac: '00:11:22:33:44:99' }), (e: Error) => e instanceof NetworkRequestFailed && /no access point with BSSID 00:11:22:33:44:99/.test(e.message));
      await assert.rejects(net.addWifi({ ssid: 'x', password: 'corp-password', priority: 1, mac: '00:11:22:33:44:05' }), /uses "wpa-eap" security, which cannot be configured/);
      await assert.rejects(net.addWifi({ ssid: 'Short', password: 'short', priority: 1, mac: '00:11:22:33:44:01' }), (e: Error) => /password is invalid: expected a WPA passphrase/.test(e.message) && !e.message.includes('short'));
      assert.deepEqual(await peer.state(), before);
    });

    test('select_wifi_network activates the saved configuration on the Wi-Fi device through that AP', async () => {
      await net.selectWifi('Office', '00:11:22:33:44:03');
      const s = await peer.state();
      const office = connectionNamed(s, 'Office')!;
      const active = s.active.find((a) => a.Connection === office.path);
      assert.ok(active, 'an active connection for Office');
      assert.deepEqual(active.Devices, [paths.wlan0]);
      assert.equal(active.SpecificObject, paths.aps.office);
      assert.equal(s.devices.find((d) => d.path === paths.wlan0)?.ActiveConnection, active.path);
      const current = (await net.listWifi()).networks.filter((n) => n.current).map((n) => n.ssid);
      assert.deepEqual(current, ['Office']);
      await assert.rejects(net.selectWifi('Nowhere', ''), /no saved Wi-Fi configuration with ssid "Nowhere"/);
    });

    test('remove_wifi_configuration deletes the saved configuration', async () => {
      await net.removeWifi('Attic');
      assert.equal(connectionNamed(await peer.state(), 'Attic'), undefined);
      await assert.rejects(net.removeWifi('Attic'), (e: Error) => e instanceof NetworkRequestFailed);
    });

    test('update_ipv4_config: static address with the current gateway and DNS, then DHCP; re-activated', async () => {
      const wired = connectionNamed(await peer.state(), 'Wired connection 1')!;
      const activeBefore = (await peer.state()).active.filter((a) => a.Connection === wired.path).length;
      await net.updateIpv4({ method: 'manual', mac: '52:54:00:12:34:56', interfaceName: 'eth0', address: '10.0.0.77', prefix: 16 });
      let ipv4 = connectionNamed(await peer.state(), 'Wired connection 1')!.settings.ipv4!;
      assert.equal(ipv4.method, 'manual');
      assert.deepEqual(ipv4['address-data'], [{ address: '10.0.0.77', prefix: 16 }]);
      assert.equal(ipv4.gateway, '10.0.0.1');
      const dns = (ipv4.dns as number[]).map((n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return [...b].join('.'); });
      assert.deepEqual(dns, ['10.0.0.1', '9.9.9.9'], 'uint32 in network byte order');
      await until(async () => (await peer.state()).active.filter((a) => a.Connection === wired.path).length > activeBefore, 'the connection re-activated');

      await net.updateIpv4({ method: 'auto', mac: '52:54:00:12:34:56', interfaceName: 'eth0' });
      ipv4 = connectionNamed(await peer.state(), 'Wired connection 1')!.settings.ipv4!;
      assert.equal(ipv4.method, 'auto');
      assert.equal(ipv4['address-data'], undefined);
      assert.equal(ipv4.gateway, undefined);
    });

    test('update_ipv4_config on a disconnected device finds its configuration by interface', async () => {
      await net.updateIpv4({ method: 'auto', mac: '52:54:00:ab:cd:ef', interfaceName: 'eth1' });
      assert.equal(connectionNamed(await peer.state(), 'static-eth1')!.settings.ipv4?.method, 'auto');
      await assert.rejects(net.updateIpv4({ method: 'auto', mac: '02:00:00:00:00:01', interfaceName: 'eth9' }), /no connection found for interface "eth9"/);
    });

    test('scan_wifi_networks waits for the scan; restart_wifi reloads', async () => {
      await net.scan();
      await net.restartWifi();
    });

    test('the bus killed in the middle of a call: the call fails at once as unavailable, and a new bus is used after', async () => {
      const lost = network(peer.address, { callTimeoutMs: 60_000 });
      await lost.net.listEthernet();
      await peer.hang(30);
      const pending = lost.net.listEthernet();
      await new Promise((r) => setTimeout(r, 300));
      peer.killBus();
      // Not the 60 s call timeout: the end of the connection itself rejects the call.
      await assert.rejects(pending, (e: Error) => e instanceof NetworkUnavailable && /the D-Bus connection (was closed by the bus|failed)/.test(e.message) && !/within/.test(e.message));
      await assert.rejects(lost.net.listEthernet(), (e: Error) => e instanceof NetworkUnavailable);
      // A new bus and NetworkManager at the same address: the next request connects again.
      const again = await startNmPeer({ dir: peer.dir });
      assert.ok(!('skipped' in again));
      await again.setup();
      assert.equal((await lost.net.listEthernet()).length, 2);
      lost.client.close();
    });
  });
}

describe('network management unavailable', () => {
  test('no system bus at the address', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nm-none-'));
    try {
      const { client, net } = network(`unix:path=${join(dir, 'nobody-here')}`);
      await assert.rejects(net.listWifi(), (e: Error) => e instanceof NetworkUnavailable && e.message.startsWith('network management unavailable on this device: cannot connect to the D-Bus'));
      await assert.rejects(client.nmPresent(), (e: Error) => e instanceof NetworkUnavailable);
      client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an address that is not a unix socket is refused without being used', async () => {
    const { client, net } = network('unixexec:path=/bin/sh');
    await assert.rejects(net.listEthernet(), /unavailable on this device: unsupported D-Bus address/);
    client.close();
  });

  test('-nmw=false and non-Linux hosts answer unavailable with the reason', async () => {
    const off = await networkFromFlags({ nmw: false }, {}, 'linux', new Redactor());
    assert.equal(off.link, null);
    await assert.rejects(off.service.listWifi(), (e: Error) => e instanceof NetworkUnavailable && e.message === 'network management unavailable on this device: network management is turned off (-nmw=false)');
    const mac = await networkFromFlags({ nmw: true }, {}, 'darwin', new Redactor());
    await assert.rejects(mac.service.addWifi({ ssid: 'x', password: 'y', priority: 0 }), /NetworkManager is Linux-only \(this is darwin\)/);
  });

  test('a bus without NetworkManager, and a NetworkManager that never answers', async (t) => {
    const bare = await startNmPeer({ nm: false });
    if ('skipped' in bare) return t.skip(bare.skipped);
    try {
      const { client, net } = network(bare.address);
      assert.equal(await client.nmPresent(), false);
      await assert.rejects(net.listWifi(), (e: Error) => e instanceof NetworkUnavailable && /NetworkManager is not running on the system D-Bus/.test(e.message));
      client.close();
    } finally {
      await bare.stop();
    }
    const stuck = await startNmPeer();
    if ('skipped' in stuck) return t.skip(stuck.skipped);
    try {
      await stuck.hang(5);
      const { client, net } = network(stuck.address, { callTimeoutMs: 500 });
      await assert.rejects(net.listEthernet(), (e: Error) => e instanceof NetworkUnavailable && /GetDevices got no answer within 500 ms/.test(e.message));
      client.close();
    } finally {
      await stuck.stop();
    }
  });
});
