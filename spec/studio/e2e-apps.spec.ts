// End to end with apps: the built CLI on a real Docker engine (private dockerd
// + password-protected registry), driven from the studio client over the real
// router. An app requested RUNNING gets there with its reports in order; its
// output is published only while someone subscribes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { drainProgress, makeTgz, skipLoudly, startDockerPeer, uniqueAppKey, type DockerPeer } from '../helpers/docker-peer.js';
import { dockerArch } from '../../adapters/docker/arch.js';
import { DEVICE, STUDIO_USER, proc, until } from './helpers/harness.js';
import { callOutcome, type Peer } from './helpers/wamp-peer.js';
import type { CliDevice } from './helpers/cli-device.js';
import type { RouterPeer } from './helpers/router.js';
import type { BackendSim } from './helpers/backend-sim.js';
import { requireBuild } from '../helpers/cli.js';
import { startCliStudio, stopCliStudio } from './helpers/cli-studio.js';

requireBuild();
const peerOrSkip = await startDockerPeer();
const skip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (skip) skipLoudly('studio link e2e with apps', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

/** Builds and pushes an app image whose container prints a numbered tick five times a second. */
async function pushTickerImage(peer: DockerPeer, ref: string): Promise<void> {
  const docker = peer.docker();
  const work = await mkdtemp(path.join(os.tmpdir(), 'reagent-e2e-img-'));
  try {
    const tgz = await makeTgz(work, {
      Dockerfile: `FROM ${peer.image}\nCMD ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]\n`,
    });
    await drainProgress(await docker.buildImage(tgz, { t: ref, rm: true }), `build ${ref}`);
    const auth = { username: peer.registry.username, password: peer.registry.password, serveraddress: peer.registry.host };
    await drainProgress(await docker.getImage(ref).push({ authconfig: auth }), `push ${ref}`);
    await docker.getImage(ref).remove();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

describe('studio client → CLI → Docker', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  const appKey = Number(uniqueAppKey());
  const container = `prod_${appKey}_weather`;
  let router: RouterPeer;
  let backend: BackendSim;
  let device: CliDevice;
  let studio: Peer;

  before(async () => {
    await pushTickerImage(peer, `${peer.registry.host}/apps/prod_${dockerArch()}_${appKey}_weather:1.0.0`);
    ({ router, backend, device, studio } = await startCliStudio({
      args: ['-debug'],
      env: { DOCKER_HOST: peer.dockerHost, REAGENT_APP_NETWORK: 'none' },
      flock: { docker_registry_url: peer.registry.host, docker_main_repository: 'apps/' },
    }));
  });
  after(async () => {
    await stopCliStudio({ router, backend, device, studio }, async (studio) => {
      await callOutcome(studio.session, proc('request_app_state'), [], { app_key: appKey, app_name: 'weather', stage: 'PROD', target_state: 'UNINSTALLED' }).catch(() => undefined);
      await backend.until(() => backend.statesOf(appKey, 'PROD').at(-1) === 'UNINSTALLED', 30_000, 'uninstalled').catch(() => undefined);
    });
  });

  test('an app requested RUNNING from the studio reaches RUNNING, its reports in order', async () => {
    const r = await callOutcome(studio.session, proc('request_app_state'), [], {
      app_key: appKey,
      app_name: 'weather',
      stage: 'PROD',
      target_state: 'RUNNING',
      version: '1.0.0',
      requestor_account_key: Number(STUDIO_USER.authid),
      docker_credentials: { [peer.registry.host]: { username: peer.registry.username, password: peer.registry.password } },
    });
    assert.ok(r.ok, JSON.stringify(r));
    await backend.until(() => backend.statesOf(appKey, 'PROD').at(-1) === 'RUNNING', 90_000, 'RUNNING reported');
    assert.deepEqual(backend.statesOf(appKey, 'PROD'), ['REMOVED', 'DOWNLOADING', 'PRESENT', 'STARTING', 'RUNNING']);
    const last = backend.reports().at(-1)!.payload;
    assert.equal(last.serial_number, DEVICE.serial_number);
    assert.equal(last.device_key, DEVICE.device_key);
    const containers = (await callOutcome(studio.session, proc('list_containers'))).args[0] as Array<{ Names: string[]; State: string }>;
    assert.ok(containers.some((c) => c.Names.includes(`/${container}`) && c.State === 'running'));
    assert.ok(!device.reagent.output().includes(peer.registry.password), 'the registry password never printed');
    assert.equal(backend.callsTo('reswarm.containers.get_registry_token').length, 0, 'docker_credentials given: no registry token asked for');
  });

  test('its output is published only while someone subscribes', async () => {
    const topic = `reswarm.logs.${DEVICE.serial_number}.${container}`;
    const said = (text: string) => device.lines().filter((l) => String(l.msg).includes(text) && l.container === container).length;
    assert.equal(said('someone listens to this app log'), 0, 'nobody listened yet, nothing published');
    const got: string[] = [];
    const sub = await studio.session.subscribe(topic, (args?: unknown[]) => void got.push(String(args?.[0])));
    await until(() => got.some((g) => /tick \d+/.test(g)), 20_000, 'ticks arrive');
    assert.equal(said('someone listens to this app log'), 1);
    await studio.session.unsubscribe(sub);
    await until(() => said('nobody listens to this app log any more') === 1, 10_000, 'publishing stops');
    const n = got.length;
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(got.length, n, 'nothing after unsubscribing');
  });
});
