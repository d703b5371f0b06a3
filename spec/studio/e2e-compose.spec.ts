// Compose apps end to end: the built CLI on a private dockerd, driven from the
// studio client over the real router, with the host's compose CLI (Debian's
// docker-compose 1.29 here). A two-service app is installed and reaches
// RUNNING; one service exiting non-zero makes it FAILED; uninstall takes the
// project, its files and its data away. The private engine has no bridge
// network, so the services use `network_mode: none`. One service's image is
// only in the password-protected registry, so installing pulls it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { drainProgress, makeTgz, skipLoudly, startDockerPeer, uniqueAppKey, waitFor, type DockerPeer } from '../helpers/docker-peer.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { STUDIO_USER, proc } from './helpers/harness.js';
import { callOutcome, type Peer } from './helpers/wamp-peer.js';
import type { CliDevice } from './helpers/cli-device.js';
import type { RouterPeer } from './helpers/router.js';
import type { BackendSim } from './helpers/backend-sim.js';
import { requireBuild } from '../helpers/cli.js';
import { startCliStudio, stopCliStudio } from './helpers/cli-studio.js';
import { detectComposeCli } from '../../adapters/compose/cli.js';

requireBuild();
const peerOrSkip = await startDockerPeer();
let skip: string | false = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (!skip) {
  try {
    await detectComposeCli(process.env);
  } catch (err) {
    skip = (err as Error).message;
  }
}
if (skip) skipLoudly('compose apps e2e', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

describe('compose app: studio client → CLI → compose CLI → Docker', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  const appKey = Number(uniqueAppKey());
  const project = `prod_${appKey}_plant_compose`;
  // The web service's image is only in the password-protected registry: installing pulls it.
  const webImage = `${peer.registry.host}/apps/compose-web-${appKey}:1.0.0`;
  const compose = {
    services: {
      web: {
        image: webImage,
        network_mode: 'none',
        environment: { GREETING: '${GREETING}' },
        command: ['sh', '-c', "trap 'exit 0' TERM; while true; do echo web $$GREETING; sleep 1; done"],
      },
      worker: {
        image: peer.image,
        network_mode: 'none',
        // Exits 3 once the test drops /tmp/fail into it.
        command: ['sh', '-c', "trap 'exit 0' TERM; while [ ! -f /tmp/fail ]; do sleep 0.2; done; echo worker failing; exit 3"],
      },
    },
  };
  const request = (target: string) => ({
    app_key: appKey,
    app_name: 'plant',
    stage: 'PROD',
    target_state: target,
    version: '1.0.0',
    requestor_account_key: Number(STUDIO_USER.authid),
    environment: { GREETING: 'hello-compose' },
    docker_compose: compose,
    docker_credentials: { [peer.registry.host]: { username: peer.registry.username, password: peer.registry.password } },
  });
  let router: RouterPeer;
  let backend: BackendSim;
  let device: CliDevice;
  let studio: Peer;
  const projectContainers = async () =>
    peer.docker().listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });

  before(async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), 'reagent-e2e-compose-'));
    try {
      const docker = peer.docker();
      const tgz = await makeTgz(work, { Dockerfile: `FROM ${peer.image}\nLABEL app=compose-web\n` });
      await drainProgress(await docker.buildImage(tgz, { t: webImage, rm: true }), `build ${webImage}`);
      const auth = { username: peer.registry.username, password: peer.registry.password, serveraddress: peer.registry.host };
      await drainProgress(await docker.getImage(webImage).push({ authconfig: auth }), `push ${webImage}`);
      await docker.getImage(webImage).remove();
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    ({ router, backend, device, studio } = await startCliStudio({
      args: ['-debug'],
      env: { DOCKER_HOST: peer.dockerHost, REAGENT_APP_NETWORK: 'none' },
      flock: { docker_registry_url: peer.registry.host, docker_main_repository: 'apps/' },
    }));
  });
  after(async () => {
    await stopCliStudio({ router, backend, device, studio });
    for (const c of await projectContainers().catch(() => [])) await peer.docker().getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  });

  test('install → RUNNING → a service exits non-zero → FAILED → uninstall', async () => {
    const r = await callOutcome(studio.session, proc('request_app_state'), [], request('RUNNING'));
    assert.ok(r.ok, JSON.stringify(r));
    await backend.until(() => backend.statesOf(appKey, 'PROD').at(-1) === 'RUNNING', 90_000, 'RUNNING reported');
    // web's image was missing: pulled with the request's registry credentials (DOWNLOADING).
    assert.deepEqual(backend.statesOf(appKey, 'PROD'), ['REMOVED', 'DOWNLOADING', 'PRESENT', 'STARTING', 'RUNNING']);
    assert.ok(!device.reagent.output().includes(peer.registry.password), 'the registry password never printed');

    const containers = await projectContainers();
    assert.equal(containers.length, 2, JSON.stringify(containers.map((c) => c.Names)));
    assert.ok(containers.every((c) => c.State === 'running'));
    const web = containers.find((c) => c.Labels['com.docker.compose.service'] === 'web')!;
    const worker = containers.find((c) => c.Labels['com.docker.compose.service'] === 'worker')!;
    const env = (await peer.docker().getContainer(web.Id).inspect()).Config.Env ?? [];
    assert.ok(env.includes('GREETING=hello-compose'), `.env-compose substituted: ${env.join(' ')}`);

    // The files where §3.1 puts them, owner-only.
    const dir = path.join(device.agentDir, 'apps', 'compose', 'plant');
    const file = path.join(dir, 'docker-compose.json');
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), compose);
    assert.equal(statSync(path.join(dir, '.env-compose')).mode & 0o777, 0o600);
    assert.equal(readFileSync(path.join(dir, '.env-compose'), 'utf8'), 'GREETING=hello-compose\n');
    // The compose CLI's output is in the agent's log, and nothing says which CLI is missing.
    assert.ok(device.lines().some((l) => l.msg === 'compose CLI found'), 'the CLI detection is logged');

    // Its logs: the services' output through the compose CLI, and the agent's lines with them.
    let lastLogs: unknown;
    await waitFor('web output', async () => {
      const q = await callOutcome(studio.session, proc('query_app_logs'), [{ containerName: `prod_${appKey}_plant`, tail: 20 }]);
      lastLogs = q;
      const res = q.args?.[0] as { source: string; lines: string[] } | undefined;
      return res?.source === 'compose' && res.lines.some((l) => /^web\S* +\| .*web hello-compose$/.test(l));
    }, 20_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(lastLogs)}`);
    });
    const hist = (await callOutcome(studio.session, proc('get_app_log_history'), [{ containerName: `prod_${appKey}_plant` }])).args?.[0] as string[];
    assert.ok(hist.includes('Now running compose app…'), hist.join('\n'));
    assert.ok(hist.some((l) => /^web\S* +\| web hello-compose$/.test(l)), hist.join('\n'));

    // One service fails: the app is FAILED although the other still runs.
    const exec = await peer.docker().getContainer(worker.Id).exec({ Cmd: ['sh', '-c', 'echo x > /tmp/fail'] });
    await exec.start({});
    await backend.until(() => backend.statesOf(appKey, 'PROD').includes('FAILED'), 20_000, 'FAILED reported');
    const failed = backend.reports().find((x) => x.payload.app_key === appKey && x.payload.state === 'FAILED')!;
    assert.ok(failed, 'a FAILED report');
    assert.ok((await peer.docker().getContainer(web.Id).inspect()).State.Running, 'the sibling still ran when the app failed');

    const u = await callOutcome(studio.session, proc('request_app_state'), [], request('UNINSTALLED'));
    assert.ok(u.ok, JSON.stringify(u));
    await backend.until(() => backend.statesOf(appKey, 'PROD').at(-1) === 'UNINSTALLED', 60_000, 'UNINSTALLED reported');
    await waitFor('the project gone', async () => (await projectContainers()).length === 0, 20_000);
    assert.equal(existsSync(dir), false, 'the compose dir went with it');
    assert.equal(existsSync(path.join(device.agentDir, 'apps', 'data', `prod_${appKey}_plant`)), false);
  });
});
