// The studio stack the end-to-end specs stand the built CLI in: router,
// backend, the CLI device online, and a studio user's session to drive it.
import { startCliDevice, type CliDevice, type CliDeviceOptions } from './cli-device.js';
import { STUDIO_USER, startPeers } from './harness.js';
import { connectPeer, type Peer } from './wamp-peer.js';
import type { RouterPeer } from './router.js';
import type { BackendSim } from './backend-sim.js';

export interface CliStudio {
  router: RouterPeer;
  backend: BackendSim;
  device: CliDevice;
  studio: Peer;
}

/**
 * Starts the stack and waits for the device to come online. If any step
 * fails, what already started is stopped before the error goes on, so a
 * spec's `after` only ever stops a whole stack.
 */
export async function startCliStudio(device: Omit<CliDeviceOptions, 'url'> = {}, onlineMs = 60_000): Promise<CliStudio> {
  const started: Partial<CliStudio> = {};
  try {
    Object.assign(started, await startPeers());
    const { router, backend } = started as CliStudio;
    started.device = startCliDevice({ url: router.url, ...device });
    await backend.until(() => backend.statuses().includes('CONNECTED'), onlineMs, 'the CLI device online');
    started.studio = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
    return started as CliStudio;
  } catch (err) {
    await stopCliStudio(started);
    throw err;
  }
}

/**
 * Stops whatever of the stack is there, last started first. `beforeClose`
 * runs while the studio session is still open (uninstalling the spec's apps);
 * its failures are the spec's to swallow.
 */
export async function stopCliStudio(stack: Partial<CliStudio>, beforeClose?: (studio: Peer) => Promise<void>): Promise<void> {
  if (stack.studio) {
    await beforeClose?.(stack.studio);
    await stack.studio.close();
  }
  if (stack.device) {
    await stack.device.stop();
    stack.device.cleanup();
  }
  await stack.backend?.stop();
  await stack.router?.stop();
}
