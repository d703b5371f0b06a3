// A DEV upload (write_data) that fails midway resets the app to REMOVED, as
// the Reagent does, through the built CLI and the real router: the studio
// sees REMOVED in update_app_on_device instead of waiting on TRANSFERING.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { STUDIO_USER, proc, startPeers } from './helpers/harness.js';
import { applicationError, callOutcome, connectPeer, type Peer } from './helpers/wamp-peer.js';
import { startCliDevice, type CliDevice } from './helpers/cli-device.js';
import type { RouterPeer } from './helpers/router.js';
import type { BackendSim } from './helpers/backend-sim.js';
import { requireBuild } from '../helpers/cli.js';

requireBuild();
let router: RouterPeer;
let backend: BackendSim;
let device: CliDevice;
let studio: Peer;

before(async () => {
  ({ router, backend } = await startPeers());
  device = startCliDevice({ url: router.url });
  await backend.until(() => backend.statuses().includes('CONNECTED'), 60_000, 'the CLI device online');
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
});

test('a DEV upload that fails midway resets the app to REMOVED and says so to the studio', { timeout: 60_000 }, async () => {
  const write = (chunk: string) => callOutcome(studio.session, proc('write_data'), [chunk, 'uploader.tgz', 'dev_77_uploader', 4, 'u1']);
  assert.ok((await write('BEGIN')).ok);
  const bad = await write('not hex at all');
  assert.equal(bad.ok, false);
  assert.equal(applicationError(bad), 'wamp.error.invalid_argument');
  await backend.until(() => backend.statesOf(77, 'DEV').at(-1) === 'REMOVED', 30_000, 'REMOVED reported for the DEV app');
  assert.ok(device.lines().some((l) => String(l.msg).includes('upload failed; the app is reset to REMOVED')));
});
