// The continuous disk guard (§7.5) through the built CLI, a real router and a
// real dockerd, with the apps dir on a small tmpfs that the test fills and
// empties: crossing the minimum stops the running app, reports EMERGENCY in
// place of CONNECTED and refuses a disk-growing request; space back, the apps
// drive to their requested states again and the device is CONNECTED.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { drainProgress, makeTgz, skipLoudly, startDockerPeer, uniqueAppKey, type DockerPeer } from '../helpers/docker-peer.js';
import { mountTmpfs, tmpfsOrSkip, type Tmpfs } from '../helpers/tmpfs.js';
import { dockerArch } from '../../adapters/docker/arch.js';
import { STUDIO_USER, proc, until } from './helpers/harness.js';
import { callOutcome, type Peer } from './helpers/wamp-peer.js';
import type { CliDevice } from './helpers/cli-device.js';
import type { RouterPeer } from './helpers/router.js';
import type { BackendSim } from './helpers/backend-sim.js';
import { requireBuild } from '../helpers/cli.js';
import { startCliStudio, stopCliStudio } from './helpers/cli-studio.js';

requireBuild();
const noTmpfs = tmpfsOrSkip('disk guard e2e', (name, reason) => test(name, { skip: reason }, () => {}));
const peerOrSkip = noTmpfs ? { skipped: noTmpfs } : await startDockerPeer();
const skip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (skip && !noTmpfs) skipLoudly('disk guard e2e', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

const MiB = 1024 * 1024;

describe('disk guard: emergency below the minimum, recovery above it', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  const first = Number(uniqueAppKey());
  const second = Number(uniqueAppKey());
  let router: RouterPeer;
  let backend: BackendSim;
  let device: CliDevice;
  let studio: Peer;
  let disk: Tmpfs;

  const request = (appKey: number) => ({
    app_key: appKey,
    app_name: 'ticker',
    stage: 'PROD',
    target_state: 'RUNNING',
    version: '1.0.0',
    requestor_account_key: Number(STUDIO_USER.authid),
    docker_credentials: { [peer.registry.host]: { username: peer.registry.username, password: peer.registry.password } },
  });
  const said = (text: string) => device.lines().filter((l) => String(l.msg).includes(text));

  before(async () => {
    const docker = peer.docker();
    const work = await mkdtemp(path.join(os.tmpdir(), 'reagent-e2e-img-'));
    const repo = `${peer.registry.host}/apps/prod_${dockerArch()}_`;
    const refs = [`${repo}${first}_ticker:1.0.0`, `${repo}${second}_ticker:1.0.0`];
    try {
      const tgz = await makeTgz(work, { Dockerfile: `FROM ${peer.image}\nCMD ["sh", "-c", "while true; do echo tick; sleep 1; done"]\n` });
      await drainProgress(await docker.buildImage(tgz, { t: refs[0], rm: true }), 'build');
      await docker.getImage(refs[0]!).tag({ repo: refs[1]!.slice(0, refs[1]!.lastIndexOf(':')), tag: '1.0.0' });
      const auth = { username: peer.registry.username, password: peer.registry.password, serveraddress: peer.registry.host };
      for (const ref of refs) await drainProgress(await docker.getImage(ref).push({ authconfig: auth }), `push ${ref}`);
      for (const ref of refs) await docker.getImage(ref).remove().catch(() => undefined);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    disk = mountTmpfs(64 * 1024);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'reagent-e2e-'));
    ({ router, backend, device, studio } = await startCliStudio({
      dir,
      args: ['-appsDir', disk.dir],
      env: {
        DOCKER_HOST: peer.dockerHost,
        REAGENT_APP_NETWORK: 'none',
        REAGENT_DISK_WARN_MIB: '40',
        REAGENT_DISK_MIN_MIB: '20',
        REAGENT_DISK_CHECK_MS: '500',
        REAGENT_DISK_EMERGENCY_CHECK_MS: '300',
      },
      flock: { docker_registry_url: peer.registry.host, docker_main_repository: 'apps/' },
    }));
  });
  after(async () => {
    disk?.release();
    await stopCliStudio({ router, backend, device, studio }, async (studio) => {
      for (const key of [first, second]) {
        await callOutcome(studio.session, proc('request_app_state'), [], { app_key: key, app_name: 'ticker', stage: 'PROD', target_state: 'UNINSTALLED' }).catch(() => undefined);
      }
    });
    disk?.unmount();
  });

  test('an app runs, its container logs capped at 50 MiB', { timeout: 90_000 }, async () => {
    assert.ok((await callOutcome(studio.session, proc('request_app_state'), [], request(first))).ok);
    await backend.until(() => backend.statesOf(first, 'PROD').at(-1) === 'RUNNING', 60_000, 'RUNNING');
    const info = await peer.docker().getContainer(`prod_${first}_ticker`).inspect();
    assert.equal(info.HostConfig.LogConfig?.Config?.['max-size'], '50m');
  });

  test('below the minimum: the app is stopped, a disk-growing request refused, EMERGENCY reported in place of CONNECTED', { timeout: 90_000 }, async () => {
    disk.fill(10 * MiB);
    await until(() => said('disk emergency: running apps are stopped').length === 1, 10_000, 'the emergency noticed');
    // The statechart's disk hold: STOPPING, then STOPPED (the container kept, the request still RUNNING).
    await backend.until(() => backend.statesOf(first, 'PROD').at(-1) === 'STOPPED', 30_000, 'the running app stopped');
    assert.ok((await callOutcome(studio.session, proc('request_app_state'), [], request(second))).ok);
    await until(() => said('app request refused').some((l) => l.actor === `app:PROD:${second}`), 15_000, 'the pull refused');
    assert.ok(!backend.statesOf(second, 'PROD').includes('DOWNLOADING'), 'nothing pulled in an emergency');
    const before = backend.statuses().length;
    await backend.until(() => backend.statuses().length > before, 45_000, 'the next heartbeat');
    assert.equal(backend.statuses().at(-1), 'EMERGENCY');
  });

  test('space back: the apps drive to their requested states and the device is CONNECTED again', { timeout: 120_000 }, async () => {
    disk.release();
    await until(() => said('disk emergency over').length === 1, 10_000, 'recovery noticed');
    await backend.until(() => backend.statesOf(first, 'PROD').at(-1) === 'RUNNING', 60_000, 'the stopped app running again');
    await backend.until(() => backend.statesOf(second, 'PROD').at(-1) === 'RUNNING', 60_000, 'the refused app running');
    const before = backend.statuses().length;
    await backend.until(() => backend.statuses().length > before, 45_000, 'the next heartbeat');
    assert.equal(backend.statuses().at(-1), 'CONNECTED');
  });
});
