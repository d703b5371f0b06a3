// End to end: the built `reagent` CLI on a private system D-Bus with the
// NetworkManager mock (DBUS_SYSTEM_BUS_ADDRESS), the real WAMP router, the
// backend simulator answering check_privilege, and a studio client calling
// the device API. What changed is read back from the mock over D-Bus.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEVICE, OTHER_USER, STUDIO_USER, proc, startPeers } from '../studio/helpers/harness.js';
import { applicationError, callOutcome, connectPeer, type CallOutcome, type Peer } from '../studio/helpers/wamp-peer.js';
import { startCliDevice, type CliDevice } from '../studio/helpers/cli-device.js';
import type { RouterPeer } from '../studio/helpers/router.js';
import type { BackendSim } from '../studio/helpers/backend-sim.js';
import { cleanEnv, requireBuild, runReagent, startReagent, tempDir } from '../helpers/cli.js';
import { connectionNamed, skipLoudly, startNmPeer, type NmPeer } from './helpers/nm-peer.js';

requireBuild();

/** A Wi-Fi password planted to be looked for in every output afterwards. */
const PLANTED = 'planted-WiFi-pass-7f3e9c';
const UNAVAILABLE = /network management unavailable on this device/;

/**
 * A device procedure call, and for a failure the `args[0].error` the device
 * sent: fox-wamp forwards only the error URI to the caller, so the ERROR frame
 * is read where -debugMessaging logs it on the device.
 */
async function call(device: CliDevice, studio: Peer, name: string, args: unknown[] = []): Promise<CallOutcome & { text: string }> {
  const sent = () => device.lines().filter((l) => l.wamp === 'out' && l.type === 'ERROR');
  const before = sent().length;
  const o = await callOutcome(studio.session, proc(name), args);
  if (o.ok) return { ...o, text: '' };
  const deadline = Date.now() + 5000;
  while (sent().length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const frame = JSON.parse(String(sent().at(-1)?.message ?? '[]')) as unknown[];
  const first = (frame[5] as unknown[] | undefined)?.[0] as { error?: unknown } | undefined;
  return { ...o, text: typeof first?.error === 'string' ? first.error : '' };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    if (name.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

const nmOrSkip = await startNmPeer();

if ('skipped' in nmOrSkip) {
  skipLoudly('network management end to end', nmOrSkip.skipped);
} else {
  const nm: NmPeer = nmOrSkip;

  describe('reagent -config device.flock -debugMessaging, NetworkManager on the system D-Bus', () => {
    let router: RouterPeer;
    let backend: BackendSim;
    let device: CliDevice;
    let studio: Peer;
    before(async () => {
      await nm.setup();
      // The other user may read the device, not manage its network.
      ({ router, backend } = await startPeers({ allow: [`*:${STUDIO_USER.authid}`, `READ:${OTHER_USER.authid}`] }));
      device = startCliDevice({ url: router.url, args: ['-debugMessaging'], env: { DBUS_SYSTEM_BUS_ADDRESS: nm.address } });
      await backend.until(() => backend.statuses().includes('CONNECTED'), 30_000, 'the CLI device online');
      await device.reagent.waitFor(/autoconnect-retries is 0/, 15_000);
      studio = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
    });
    after(async () => {
      await studio?.close();
      if (device) {
        await device.stop();
        device.cleanup();
      }
      await backend?.stop();
      await router?.stop();
      await nm.stop();
    });

    test('at boot every Wi-Fi and Ethernet connection retries for ever', async () => {
      const line = device.lines().find((l) => String(l.msg).includes('autoconnect-retries is 0'));
      assert.equal(line?.changed, 3);
      const s = await nm.state();
      for (const name of ['Wired connection 1', 'static-eth1', 'HomeNet', 'Attic']) assert.equal(connectionNamed(s, name)?.settings.connection?.['autoconnect-retries'], 0, name);
    });

    test('list_wifi_networks and list_ethernet_devices answer from NetworkManager, in the Reagent\'s keys', async () => {
      const wifi = await call(device, studio, 'list_wifi_networks');
      assert.ok(wifi.ok, wifi.text);
      const home = (wifi.args as Array<Record<string, unknown>>).find((n) => n.ssid === 'HomeNet');
      assert.deepEqual(home, { mac: '00:11:22:33:44:01', ssid: 'HomeNet', channel: 6, signal: 80, security: 'wpa-psk', frequency: 2437, known: true, current: true });
      assert.deepEqual(wifi.kwargs, { ipv4: [{ Address: '192.168.1.23', Prefix: 24 }], ipv6: [] });
      const eth = await callOutcome(studio.session, proc('list_ethernet_devices'));
      assert.ok(eth.ok);
      assert.deepEqual((eth.args as Array<Record<string, unknown>>).map((d) => [d.interfaceName, d.mac, d.method]), [
        ['eth0', '52:54:00:12:34:56', 'auto'],
        ['eth1', '52:54:00:AB:CD:EF', 'manual'],
      ]);
    });

    test('add_wifi_configuration saves the network in NetworkManager; a caller without NETWORK is refused', async () => {
      const denied = await connectPeer(router.url, OTHER_USER.authid, OTHER_USER.secret);
      try {
        const payload = [{ ssid: 'Office', password: PLANTED, priority: 3, mac: '00:11:22:33:44:03' }];
        assert.equal(applicationError(await callOutcome(denied.session, proc('add_wifi_configuration'), payload)), 'wamp.error.not_authorized');
        assert.equal(connectionNamed(await nm.state(), 'Office'), undefined, 'nothing saved for the refused caller');
        assert.equal(applicationError(await callOutcome(denied.session, proc('scan_wifi_networks'))), 'wamp.error.not_authorized', 'scanning needs NETWORK');
        assert.ok((await callOutcome(denied.session, proc('list_wifi_networks'))).ok, 'reading needs READ only');
        const privileges = backend.callsTo('reswarm.devices.check_privilege').filter((c) => (c.args[0] as { requestor_account_key?: unknown }).requestor_account_key === OTHER_USER.authid).map((c) => (c.args[0] as { privilege: string }).privilege);
        assert.deepEqual(privileges.slice(-3), ['NETWORK', 'NETWORK', 'READ']);

        const added = await call(device, studio, 'add_wifi_configuration', payload);
        assert.ok(added.ok, added.text);
        const office = connectionNamed(await nm.state(), 'Office');
        assert.equal(office?.settings['802-11-wireless-security']?.psk, PLANTED);
        assert.equal(office?.settings.connection?.['autoconnect-priority'], 3);
      } finally {
        await denied.close();
      }
    });

    test('bad payloads are refused naming the field, without echoing the password', async () => {
      const short = await call(device, studio, 'add_wifi_configuration', [{ ssid: 'Cafe', password: 'sh0rt-pw', priority: 1, security: 'wep' }]);
      assert.equal(applicationError(short), 'wamp.error.invalid_argument');
      assert.match(short.text, /^add_wifi_configuration: field "args\[0\]\.password": expected a WEP key/);
      assert.ok(!device.reagent.output().includes('sh0rt-pw'), 'the refused password is not echoed or logged');
      const ip = await call(device, studio, 'update_ipv4_config', [{ method: 'manual', mac: '52:54:00:12:34:56', interfaceName: 'eth0', ipv4: '10.0.0.300', prefix: 24 }]);
      assert.match(ip.text, /field "args\[0\]\.ipv4": expected a dotted-quad IPv4 address/);
    });

    test('select, remove, static address and DHCP through the device API', async () => {
      assert.ok((await callOutcome(studio.session, proc('select_wifi_network'), [{ ssid: 'Office', mac: '00:11:22:33:44:03' }])).ok);
      let s = await nm.state();
      const office = connectionNamed(s, 'Office')!;
      assert.ok(s.active.some((a) => a.Connection === office.path && a.SpecificObject.endsWith('/AccessPoint/office')));

      assert.ok((await callOutcome(studio.session, proc('remove_wifi_configuration'), [{ ssid: 'Attic' }])).ok);
      const again = await call(device, studio, 'remove_wifi_configuration', [{ ssid: 'Attic' }]);
      assert.equal(applicationError(again), 'wamp.error.canceled');
      assert.equal(again.text, 'remove_wifi_configuration: no saved Wi-Fi configuration with ssid "Attic"');

      const set = await call(device, studio, 'update_ipv4_config', [{ method: 'manual', mac: '52:54:00:12:34:56', interfaceName: 'eth0', ipv4: '10.0.0.99', prefix: 24 }]);
      assert.ok(set.ok, set.text);
      s = await nm.state();
      assert.deepEqual(connectionNamed(s, 'Wired connection 1')?.settings.ipv4?.['address-data'], [{ address: '10.0.0.99', prefix: 24 }]);
      assert.ok((await callOutcome(studio.session, proc('update_ipv4_config'), [{ method: 'auto', mac: '52:54:00:12:34:56', interfaceName: 'eth0' }])).ok);
      assert.equal(connectionNamed(await nm.state(), 'Wired connection 1')?.settings.ipv4?.method, 'auto');
      assert.ok((await callOutcome(studio.session, proc('scan_wifi_networks'))).ok);
      assert.ok((await callOutcome(studio.session, proc('restart_wifi'))).ok);
    });

    test('the bus dies during a call: the caller gets "unavailable", the daemon stays up', async () => {
      await nm.hang(30);
      const pending = call(device, studio, 'list_ethernet_devices');
      await new Promise((r) => setTimeout(r, 300));
      nm.killBus();
      const o = await pending;
      assert.equal(applicationError(o), 'wamp.error.canceled');
      assert.match(o.text, /^list_ethernet_devices: network management unavailable on this device: the D-Bus connection (was closed by the bus|failed)/);
      assert.ok((await callOutcome(studio.session, proc('device_handshake'))).ok, 'the device still answers');
      const meta = await callOutcome(studio.session, proc('get_network_metadata'));
      assert.ok(meta.ok && meta.args.length > 0, 'get_network_metadata does not need NetworkManager');
      assert.equal(applicationError(await callOutcome(studio.session, proc('list_wifi_networks'))), 'wamp.error.canceled');
    });

    test('the planted Wi-Fi password is in no output: stdout, log file, journal, bug report', async () => {
      assert.ok(device.reagent.output().includes('add_wifi_configuration'), '-debugMessaging logged the call');
      const out = join(device.dir, 'report.ndjson');
      const r = runReagent(['-agentDir', device.agentDir, '-config', device.flockPath, 'bugreport', '-o', out], cleanEnv(device.dir));
      assert.equal(r.code, 0, r.stderr);
      assert.ok(existsSync(out));
      const places = [out, ...filesUnder(device.agentDir)];
      assert.ok(places.some((p) => p.endsWith('reagent.log')) && places.some((p) => p.endsWith('reagent.db')));
      for (const p of places) {
        // SQLite's rollback journal can vanish between listing and reading
        if (!existsSync(p)) continue;
        assert.ok(!readFileSync(p).includes(PLANTED), `${p} holds the password`);
      }
      assert.ok(!device.reagent.output().includes(PLANTED), 'stdout/stderr hold the password');
    });
  });
}

test('reagent -offline without a .flock: the boot retries are applied all the same (they need no cloud)', async (t) => {
  const peer = await startNmPeer();
  if ('skipped' in peer) return t.skip(peer.skipped);
  await peer.setup();
  const dir = tempDir('reagent-nm-offline-');
  const reagent = startReagent(['-offline', '-agentDir', join(dir, 'agent')], cleanEnv(dir, { DBUS_SYSTEM_BUS_ADDRESS: peer.address, DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}` }));
  try {
    await reagent.waitFor(/"links":\[[^\]]*"network"[^\]]*\],"msg":"reagent started"/, 20_000);
    await reagent.waitFor(/autoconnect-retries is 0/, 15_000);
    const s = await peer.state();
    for (const name of ['Wired connection 1', 'static-eth1', 'HomeNet', 'Attic']) assert.equal(connectionNamed(s, name)?.settings.connection?.['autoconnect-retries'], 0, name);
  } finally {
    reagent.child.kill('SIGTERM');
    assert.equal(await reagent.exit, 0);
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('network management unavailable, the daemon running anyway', () => {
  for (const [what, args, env, reason] of [
    ['-nmw=false', ['-nmw=false'], {}, /unavailable on this device: network management is turned off \(-nmw=false\)$/],
    ['no system bus', [], { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/reagent-test/system_bus_socket' }, /unavailable on this device: cannot connect to the D-Bus at unix:path=\/nonexistent/],
  ] as const) {
    test(`${what}: every network procedure answers "network management unavailable on this device"`, async () => {
      const { router, backend } = await startPeers();
      const device = startCliDevice({ url: router.url, args: ['-debugMessaging', ...args], env: { ...env } });
      try {
        await backend.until(() => backend.statuses().includes('CONNECTED'), 30_000, 'the CLI device online');
        const studio = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
        try {
          const calls: Array<[string, unknown[]]> = [
            ['list_wifi_networks', []],
            ['scan_wifi_networks', []],
            ['add_wifi_configuration', [{ ssid: 'Cafe', password: '', priority: 1 }]],
            ['remove_wifi_configuration', [{ ssid: 'Cafe' }]],
            ['select_wifi_network', [{ ssid: 'Cafe', mac: '00:11:22:33:44:02' }]],
            ['restart_wifi', []],
            ['list_ethernet_devices', []],
            ['update_ipv4_config', [{ method: 'auto', mac: '52:54:00:12:34:56', interfaceName: 'eth0' }]],
          ];
          for (const [name, a] of calls) {
            const o = await call(device, studio, name, a);
            assert.equal(applicationError(o), 'wamp.error.canceled', name);
            assert.ok(o.text.startsWith(`${name}: network management unavailable on this device: `), `${name}: ${o.text}`);
            assert.match(o.text, reason, name);
          }
          const meta = await callOutcome(studio.session, proc('get_network_metadata'));
          assert.ok(meta.ok, 'get_network_metadata answers from the kernel');
          assert.equal((await callOutcome(studio.session, proc('device_handshake'))).kwargs.id, DEVICE.serial_number);
        } finally {
          await studio.close();
        }
        if (what === 'no system bus') assert.ok(device.lines().some((l) => l.level === 'warn' && UNAVAILABLE.test(String(l.msg))), 'a warning at boot');
      } finally {
        await device.stop();
        device.cleanup();
        await backend.stop();
        await router.stop();
      }
    });
  }
});

