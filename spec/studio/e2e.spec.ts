// End to end: the built `reagent` CLI with a .flock pointing at the real
// router, the backend simulator and a studio client. (Apps on a real Docker
// engine: e2e-apps.spec.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEVICE, OTHER_USER, proc, startPeers } from './helpers/harness.js';
import { applicationError, callOutcome, connectPeer, type Peer } from './helpers/wamp-peer.js';
import { startCliDevice, type CliDevice } from './helpers/cli-device.js';
import type { RouterPeer } from './helpers/router.js';
import type { BackendSim } from './helpers/backend-sim.js';
import { requireBuild } from '../helpers/cli.js';
import { startCliStudio, stopCliStudio } from './helpers/cli-studio.js';

requireBuild();

describe('reagent -config device.flock', () => {
  let router: RouterPeer;
  let backend: BackendSim;
  let device: CliDevice;
  let studio: Peer;
  before(async () => {
    ({ router, backend, device, studio } = await startCliStudio({}, 30_000));
  });
  after(() => stopCliStudio({ router, backend, device, studio }));

  test('connects, reports CONFIGURING then CONNECTED, and answers the handshake', async () => {
    assert.deepEqual(backend.statuses().slice(0, 2), ['CONFIGURING', 'CONNECTED']);
    const hs = await callOutcome(studio.session, proc('device_handshake'));
    assert.ok(hs.ok);
    assert.equal(hs.kwargs.id, DEVICE.serial_number);
    const online = device.lines().find((l) => l.msg === 'studio link online: device API registered, status CONNECTED');
    assert.ok(online, 'the CLI says it is online');
  });

  test('a caller without the privilege is refused', async () => {
    const other = await connectPeer(router.url, OTHER_USER.authid, OTHER_USER.secret);
    try {
      assert.equal(applicationError(await callOutcome(other.session, proc('list_containers'))), 'wamp.error.not_authorized');
      assert.equal(applicationError(await callOutcome(other.session, proc('system_reboot'))), 'wamp.error.not_authorized');
    } finally {
      await other.close();
    }
    assert.ok(device.lines().some((l) => String(l.msg).startsWith('device API call denied')));
  });

  test('malformed payloads get errors and the link stays up', async () => {
    const testaments = backend.callsTo('wamp.session.add_testament').length;
    assert.equal(applicationError(await callOutcome(studio.session, proc('get_app_log_history'), [{ containerName: 5 }])), 'wamp.error.invalid_argument');
    assert.equal(applicationError(await callOutcome(studio.session, proc('request_app_state'), [], { app_key: 'twelve' })), 'wamp.error.invalid_argument');
    assert.equal(applicationError(await callOutcome(studio.session, proc('write_data'), ['BEGIN', '../../etc/passwd', 'dev_1_x', 1, 'id'])), 'wamp.error.invalid_argument');
    assert.ok((await callOutcome(studio.session, proc('device_handshake'))).ok);
    assert.equal(backend.callsTo('wamp.session.add_testament').length, testaments, 'no reconnect');
    assert.ok(device.lines().some((l) => String(l.msg).includes('field \"app_key\": expected a non-negative integer')));
  });

  test('SIGTERM stops it cleanly; the router fires its testament', async () => {
    const code = await device.stop();
    assert.equal(code, 0);
    await backend.until(() => backend.testamentsFired.length === 1, 10_000, 'testament fired');
    assert.equal(backend.testamentsFired[0]!.topic, 'reswarm.api.testament_device');
    assert.ok(!device.reagent.output().includes(DEVICE.secret), 'the secret never printed');
  });
});

test('reagent -offline -config device.flock: no connection attempts, and it stays responsive', async () => {
  const { router, backend } = await startPeers();
  const device = startCliDevice({ url: router.url, args: ['-offline'] });
  try {
    await device.reagent.waitFor(/"msg":"ready"/, 20_000);
    await device.reagent.waitFor(/studio link offline \(-offline\)/, 5000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(backend.calls.length, 0, 'the router never saw the device');
    const t0 = Date.now();
    assert.equal(await device.stop(), 0);
    assert.ok(Date.now() - t0 < 5000, 'stops promptly');
  } finally {
    await device.stop();
    device.cleanup();
    await backend.stop();
    await router.stop();
  }
});

