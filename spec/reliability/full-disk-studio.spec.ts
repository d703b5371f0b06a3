// The studio link on a full disk: the built agent with its agent dir on a
// 2 MiB tmpfs, the WAMP router killed and restarted while the disk is full.
// The link comes back by itself and completes its on-connect sequence (the
// backend sees CONNECTED), and the router never holds two sessions of the
// device at once (it prints its per-authid session count).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it, test } from 'node:test';
import { BACKEND_USER, DEVICE_AUTHID, STUDIO_USER, startPeers } from '../studio/helpers/harness.js';
import { BackendSim } from '../studio/helpers/backend-sim.js';
import { startCliDevice, type CliDevice } from '../studio/helpers/cli-device.js';
import type { RouterPeer } from '../studio/helpers/router.js';
import { requireBuild } from '../helpers/cli.js';
import { mountTmpfs, tmpfsOrSkip, type Tmpfs } from '../helpers/tmpfs.js';

/** open/peak of every SESSIONS line the router printed for `authid`. */
function sessionCounts(routerOutput: string, authid: string): Array<{ open: number; peak: number }> {
  const re = new RegExp(`^SESSIONS authid=${authid} open=(-?\\d+) peak=(\\d+)$`, 'gm');
  return [...routerOutput.matchAll(re)].map((m) => ({ open: Number(m[1]), peak: Number(m[2]) }));
}

const skipped = tmpfsOrSkip('full disk, studio link', (name, reason) => test(name, { skip: reason }, () => {}));

describe('the studio link on a full disk', { skip: skipped ?? false }, () => {
  let disk: Tmpfs | undefined;
  let router: RouterPeer | undefined;
  const backends: BackendSim[] = [];
  let device: CliDevice | undefined;

  after(async () => {
    await device?.stop();
    for (const b of backends) await b.stop();
    await router?.stop();
    disk?.unmount();
  });

  it('reconnects while full after a router restart, one session at a time', async () => {
    requireBuild();
    disk = mountTmpfs(2048);
    const peers = await startPeers();
    router = peers.router;
    backends.push(peers.backend);
    device = startCliDevice({ url: router.url, dir: disk.dir });
    await peers.backend.until(() => peers.backend.statuses().includes('CONNECTED'), 30_000, 'the device online');

    disk.fill();
    await router.crash('SIGKILL');
    await device.reagent.waitFor(/studio link lost/, 20_000);
    await device.reagent.waitFor(/journal commit failed/, 10_000);
    await router.restart();
    const backend2 = new BackendSim({ url: router.url, ...BACKEND_USER, allow: [`*:${STUDIO_USER.authid}`] });
    backends.push(backend2);
    await backend2.start();
    // The on-connect sequence runs to CONNECTED with the journal still unable to commit.
    await backend2.until(() => backend2.statuses().includes('CONNECTED'), 60_000, 'CONNECTED again while the disk is full');
    assert.ok(disk.free() < 64 * 1024, 'still full');

    disk.release();
    await device.reagent.waitFor(/journal commit succeeded again/, 15_000);

    const counts = sessionCounts(router.output(), DEVICE_AUTHID);
    assert.ok(counts.length >= 2, `the router counted the device sessions:\n${router.output()}`);
    assert.ok(counts.every((c) => c.open <= 1 && c.peak <= 1), `at most one session at a time: ${JSON.stringify(counts)}`);

    assert.equal(await device.stop(), 0);
    assert.ok(!existsSync(join(device.agentDir, 'reagent.pid')), 'reagent.pid released');
  });
});
