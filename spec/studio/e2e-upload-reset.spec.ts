// A DEV upload (write_data) that fails midway resets the app to REMOVED, as
// the Reagent does, through the built CLI and the real router: the studio
// sees REMOVED in update_app_on_device instead of waiting on TRANSFERING.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { proc, until } from './helpers/harness.js';
import { applicationError, callOutcome, type Peer } from './helpers/wamp-peer.js';
import type { CliDevice } from './helpers/cli-device.js';
import type { RouterPeer } from './helpers/router.js';
import type { BackendSim } from './helpers/backend-sim.js';
import { requireBuild } from '../helpers/cli.js';
import { startCliStudio, stopCliStudio } from './helpers/cli-studio.js';

requireBuild();
let router: RouterPeer;
let backend: BackendSim;
let device: CliDevice;
let studio: Peer;

before(async () => {
  ({ router, backend, device, studio } = await startCliStudio());
});
after(() => stopCliStudio({ router, backend, device, studio }));

test('a DEV upload that fails midway resets the app to REMOVED and says so to the studio', { timeout: 60_000 }, async () => {
  // The device knows the app (a request for it); an upload for a name it never had resets nothing.
  assert.ok((await callOutcome(studio.session, proc('request_app_state'), [], { app_key: 77, app_name: 'uploader', stage: 'DEV', target_state: 'REMOVED' })).ok);
  const settled = () => device.lines().filter((l) => l.msg === 'app request settled' && l.actor === 'app:DEV:77').length;
  await until(() => settled() === 1, 30_000, 'the request settled');
  await backend.until(() => backend.statesOf(77, 'DEV').at(-1) === 'REMOVED', 30_000, 'REMOVED reported');
  await new Promise((r) => setTimeout(r, 500));
  const before = backend.statesOf(77, 'DEV').length;
  const write = (chunk: string) => callOutcome(studio.session, proc('write_data'), [chunk, 'uploader.tgz', 'dev_77_uploader', 4, 'u1']);
  assert.ok((await write('BEGIN')).ok);
  const bad = await write('not hex at all');
  assert.equal(bad.ok, false);
  assert.equal(applicationError(bad), 'wamp.error.invalid_argument');
  await until(() => settled() === 2, 30_000, 'the reset settled');
  await backend.until(() => backend.statesOf(77, 'DEV').length > before, 30_000, 'REMOVED reported again for the DEV app');
  assert.equal(backend.statesOf(77, 'DEV').at(-1), 'REMOVED');
  assert.ok(device.lines().some((l) => String(l.msg).includes('upload failed; the app is reset to REMOVED')));

  const stranger = (chunk: string) => callOutcome(studio.session, proc('write_data'), [chunk, 'x.tgz', 'dev_78_stranger', 4, 'u2']);
  assert.ok((await stranger('BEGIN')).ok);
  assert.equal((await stranger('zz')).ok, false);
  await until(() => device.lines().some((l) => String(l.msg).includes('upload failed for an app this device does not have')), 10_000, 'the unknown app left alone');
  assert.deepEqual(backend.statesOf(78, 'DEV'), [], 'no app made up from a container name');
});
