// Studio apps through the built CLI, a real router, a real dockerd and a
// password-protected registry, with a backend that answers as IronFlock's:
// - a PROD app requested with no docker_credentials logs in as the Reagent
//   (username = get_registry_token, password = the .flock secret) and runs;
// - the container's APP_AUTH_ID/APP_AUTH_SECRET are the values computed here
//   from the key get_app_cred_key answered (§1.3);
// - a token the registry refuses is asked for once more, then the app is
//   FAILED with the registry's reason;
// - on every reconnect, apps get_requested_app_states no longer lists are
//   removed (their /data kept), and an error from it removes nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { drainProgress, makeTgz, skipLoudly, startDockerPeer, uniqueAppKey, type DockerPeer } from '../helpers/docker-peer.js';
import { dockerArch } from '../../adapters/docker/arch.js';
import { BACKEND_USER, DEVICE, DEVICE_AUTHID, STUDIO_USER, proc, routerUsers, until } from './helpers/harness.js';
import { callOutcome, connectPeer, type Peer } from './helpers/wamp-peer.js';
import { startCliDevice, type CliDevice } from './helpers/cli-device.js';
import { startRouter, type RouterPeer } from './helpers/router.js';
import { BackendSim } from './helpers/backend-sim.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { requireBuild } from '../helpers/cli.js';

requireBuild();
const peerOrSkip = await startDockerPeer();
const skip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (skip) skipLoudly('studio apps: registry login, app credentials, removal on reconnect', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

const APP_CRED_KEY = 'app-cred-key-of-this-test-3f9a';
const OWNER = 3003;

const TICKER = (image: string) => `FROM ${image}\nCMD ["sh", "-c", "while true; do echo tick; sleep 1; done"]\n`;
/** Healthy for its first seconds, then its HEALTHCHECK fails for good. */
const SICKENING = (image: string) =>
  `FROM ${image}\nHEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD test ! -f /tmp/sick\nCMD ["sh", "-c", "sleep 4; touch /tmp/sick; while true; do sleep 1; done"]\n`;

async function pushTicker(peer: DockerPeer, refs: string[], dockerfile = TICKER): Promise<void> {
  const docker = peer.docker();
  const work = await mkdtemp(path.join(os.tmpdir(), 'reagent-e2e-img-'));
  try {
    const tgz = await makeTgz(work, { Dockerfile: dockerfile(peer.image) });
    await drainProgress(await docker.buildImage(tgz, { t: refs[0], rm: true }), `build ${refs[0]}`);
    const auth = { username: peer.registry.username, password: peer.registry.password, serveraddress: peer.registry.host };
    for (const ref of refs) {
      if (ref !== refs[0]) await docker.getImage(refs[0]!).tag({ repo: ref.slice(0, ref.lastIndexOf(':')), tag: ref.slice(ref.lastIndexOf(':') + 1) });
      await drainProgress(await docker.getImage(ref).push({ authconfig: auth }), `push ${ref}`);
    }
    for (const ref of refs) await docker.getImage(ref).remove().catch(() => undefined);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const p = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(p) : [p];
  });
}

/** Computed here, independently of the agent's code, from §1.3. */
function expectedAppAuth(key: string, appKey: number, stage: string, epoch: number): { id: string; secret: string } {
  return {
    id: `app-${appKey}-${stage.toLowerCase()}-e${epoch}@${DEVICE.serial_number}`,
    secret: createHmac('sha256', key).update(`ironflock/app-cred/v1|${DEVICE.serial_number}|${appKey}|${stage}|${epoch}`).digest('base64'),
  };
}

describe('studio apps: registry login as the Reagent, app credentials, removal on reconnect', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  const good = Number(uniqueAppKey());
  const bad = Number(uniqueAppKey());
  const sick = Number(uniqueAppKey());
  const goodContainer = `prod_${good}_weather`;
  let router: RouterPeer;
  let backend: BackendSim;
  let proxy: TcpProxy;
  let device: CliDevice;
  let studio: Peer;
  let appsDir: string;

  const request = (appKey: number, extra: Record<string, unknown> = {}) => ({
    app_key: appKey,
    app_name: 'weather',
    stage: 'PROD',
    target_state: 'RUNNING',
    version: '1.0.0',
    requestor_account_key: Number(STUDIO_USER.authid),
    device_owner_account_key: OWNER,
    ...extra,
  });
  const connectedCount = () => backend.statuses().filter((s) => s === 'CONNECTED').length;
  const said = (text: string) => device.lines().filter((l) => String(l.msg).includes(text));
  /** Closes the device's socket and waits for the next completed on-connect sequence. */
  const reconnect = async () => {
    const before = connectedCount();
    const syncs = backend.callsTo('reswarm.containers.get_requested_app_states').length;
    proxy.cut();
    await backend.until(() => connectedCount() > before && backend.callsTo('reswarm.containers.get_requested_app_states').length > syncs, 30_000, 'a new working session');
  };

  before(async () => {
    const repo = `${peer.registry.host}/apps/prod_${dockerArch()}_`;
    await pushTicker(peer, [`${repo}${good}_weather:1.0.0`, `${repo}${bad}_weather:1.0.0`]);
    await pushTicker(peer, [`${repo}${sick}_weather:1.0.0`], SICKENING);
    // The registry's htpasswd user is the token; its password is the device secret (= the WAMP-CRA secret).
    router = await startRouter({ ...routerUsers(), [DEVICE_AUTHID]: { secret: peer.registry.password, role: 'device' } });
    backend = new BackendSim({ url: router.url, ...BACKEND_USER, allow: [`*:${STUDIO_USER.authid}`], appCredKey: APP_CRED_KEY, registryToken: peer.registry.username });
    await backend.start();
    proxy = await startTcpProxy(router.port);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'reagent-e2e-'));
    // -appsDir explicitly: its default derives from the default agent dir, not -agentDir (§1.1).
    appsDir = path.join(dir, 'apps');
    device = startCliDevice({
      url: proxy.url,
      dir,
      args: ['-appsDir', appsDir],
      env: { DOCKER_HOST: peer.dockerHost, REAGENT_APP_NETWORK: 'none' },
      flock: { secret: peer.registry.password, docker_registry_url: peer.registry.host, docker_main_repository: 'apps/' },
    });
    await backend.until(() => backend.statuses().includes('CONNECTED'), 60_000, 'the CLI device online');
    studio = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
  });
  after(async () => {
    if (studio) {
      for (const key of [good, bad, sick]) {
        await callOutcome(studio.session, proc('request_app_state'), [], { app_key: key, app_name: 'weather', stage: 'PROD', target_state: 'UNINSTALLED' }).catch(() => undefined);
      }
      await studio.close();
    }
    if (device) {
      await device.stop();
      device.cleanup();
    }
    await proxy?.close();
    await backend?.stop();
    await router?.stop();
  });

  test('a PROD app with no docker_credentials logs in with get_registry_token and the .flock secret, and runs', { timeout: 120_000 }, async () => {
    const r = await callOutcome(studio.session, proc('request_app_state'), [], request(good, { app_cred_epoch: 0 }));
    assert.ok(r.ok, JSON.stringify(r));
    await backend.until(() => backend.statesOf(good, 'PROD').at(-1) === 'RUNNING', 90_000, 'RUNNING reported');
    assert.deepEqual(backend.statesOf(good, 'PROD'), ['REMOVED', 'DOWNLOADING', 'PRESENT', 'STARTING', 'RUNNING']);
    const tokenCalls = backend.callsTo('reswarm.containers.get_registry_token');
    assert.ok(tokenCalls.length >= 1, 'the token was asked for');
    assert.deepEqual(tokenCalls[0]!.args, [{ callerID: OWNER }], 'a PROD app asks on behalf of the device owner');
    assert.equal(tokenCalls[0]!.caller, DEVICE_AUTHID);
    const out = device.reagent.output();
    assert.ok(!out.includes(peer.registry.password), 'the device secret never printed');
    assert.ok(!out.includes(APP_CRED_KEY), 'the app credential key never printed');
  });

  test("the container's APP_AUTH_ID/APP_AUTH_SECRET are those computed from get_app_cred_key's key (epoch 0 read as 1)", async () => {
    const info = await peer.docker().getContainer(goodContainer).inspect();
    const env = new Map((info.Config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    const want = expectedAppAuth(APP_CRED_KEY, good, 'PROD', 1);
    assert.equal(env.get('APP_AUTH_ID'), want.id);
    assert.equal(env.get('APP_AUTH_SECRET'), want.secret);
    assert.equal(env.has('DEVICE_SECRET'), false, 'the device secret is not given to apps');
    assert.ok(!device.reagent.output().includes(want.secret), 'the app secret never printed');
    // Nor in any file the agent wrote (journal, logs): only the .flock holds the device secret.
    for (const file of filesUnder(device.agentDir)) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (err) {
        // SQLite's rollback journal comes and goes with each commit: gone between listing and reading is fine
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      for (const [what, secret] of [['the app credential key', APP_CRED_KEY], ['the app secret', want.secret], ['the device secret', peer.registry.password]] as const) {
        assert.equal(bytes.includes(Buffer.from(secret)), false, `${what} found in ${file}`);
      }
    }
  });

  test('a token the registry refuses is asked for once more, then the app is FAILED with the registry’s reason', { timeout: 60_000 }, async () => {
    backend.registryToken = 'a-token-the-registry-does-not-know';
    const before = backend.callsTo('reswarm.containers.get_registry_token').length;
    const r = await callOutcome(studio.session, proc('request_app_state'), [], request(bad));
    assert.ok(r.ok, JSON.stringify(r));
    await backend.until(() => backend.statesOf(bad, 'PROD').includes('FAILED'), 45_000, 'FAILED reported');
    assert.ok(backend.callsTo('reswarm.containers.get_registry_token').length - before >= 2, 'one refresh after the refusal');
    const failed = said('Docker operation failed').filter((l) => l.actor === `app:PROD:${bad}`);
    assert.ok(failed.length >= 1, 'the failure is logged');
    assert.match(String(failed[0]!.reason), /unauthorized|authentication required|denied/i, `the registry's reason: ${String(failed[0]!.reason)}`);
    backend.registryToken = peer.registry.username;
  });

  test('a container whose real HEALTHCHECK turns unhealthy is seen and reported in the app log', { timeout: 90_000 }, async () => {
    const r = await callOutcome(studio.session, proc('request_app_state'), [], request(sick));
    assert.ok(r.ok, JSON.stringify(r));
    await backend.until(() => backend.statesOf(sick, 'PROD').at(-1) === 'RUNNING', 60_000, 'RUNNING reported');
    await until(() => said('app container is unhealthy').some((l) => l.actor === `app:PROD:${sick}`), 40_000, 'unhealthy seen');
    const history = await callOutcome(studio.session, proc('get_app_log_history'), [{ containerName: `prod_${sick}_weather` }]);
    assert.ok(history.ok, JSON.stringify(history));
    assert.ok((history.args[0] as string[]).some((l) => l.includes('Health check failing')), `history: ${JSON.stringify(history.args[0])}`);
    const containers = (await callOutcome(studio.session, proc('list_containers'))).args[0] as Array<{ Names: string[]; Status: string }>;
    assert.match(containers.find((c) => c.Names.includes(`/prod_${sick}_weather`))!.Status, /unhealthy/);
    backend.requestedAppStates = [request(good)];
  });

  test('an error from get_requested_app_states removes nothing', { timeout: 60_000 }, async () => {
    backend.requestedAppStates = [];
    backend.failures.set('reswarm.containers.get_requested_app_states', 1);
    await reconnect();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(said('the studio no longer lists this app').length, 0);
    const info = await peer.docker().getContainer(goodContainer).inspect();
    assert.equal(info.State.Running, true, 'the app still runs');
  });

  test('an app get_requested_app_states no longer lists is removed on reconnect, its /data kept', { timeout: 90_000 }, async () => {
    const dataDir = path.join(appsDir, 'data', goodContainer);
    assert.ok(existsSync(dataDir), `the running app has its data dir ${dataDir}`);
    // The backend lists the good app only: the failed one and the unhealthy one go.
    backend.requestedAppStates = [request(good)];
    await reconnect();
    await until(() => said('the studio no longer lists this app').length === 2, 20_000, 'the unlisted apps removed');
    assert.deepEqual(said('the studio no longer lists this app').map((l) => l.actor).sort(), [`app:PROD:${bad}`, `app:PROD:${sick}`].sort());
    await backend.until(() => backend.statesOf(bad, 'PROD').at(-1) === 'REMOVED' && backend.statesOf(sick, 'PROD').at(-1) === 'REMOVED', 30_000, 'REMOVED reported');
    assert.equal((await peer.docker().getContainer(goodContainer).inspect()).State.Running, true, 'the listed app still runs');

    // Now it lists nothing: the running app goes too, its data stays.
    backend.requestedAppStates = [];
    await reconnect();
    await until(() => said('the studio no longer lists this app').length === 3, 20_000, 'the last unlisted app removed');
    await until(
      async () => !(await peer.docker().listContainers({ all: true })).some((c) => c.Names.includes(`/${goodContainer}`)),
      30_000,
      'its container gone',
    );
    assert.ok(existsSync(dataDir), `its data dir ${dataDir} is kept`);
  });
});
