// Ports end to end (§7.2): the built CLI on a private dockerd, requested from
// the studio client over the real router. Each `ports[]` rule gets a host port
// from 40000–49999 that no other app holds; the port report reaches the
// backend through the outbox; the app sees DEVICE_PORT_FOR_<port> in its
// environment and in /data/env (0600). The private engine has no bridge, so
// the apps run with REAGENT_APP_NETWORK=none (publishing itself is Docker's;
// the create options are checked in spec/docker).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { drainProgress, makeTgz, skipLoudly, startDockerPeer, uniqueAppKey, type DockerPeer } from '../helpers/docker-peer.js';
import { dockerArch } from '../../adapters/docker/arch.js';
import { DEVICE, STUDIO_USER, proc } from './helpers/harness.js';
import { callOutcome, type Peer } from './helpers/wamp-peer.js';
import type { CliDevice } from './helpers/cli-device.js';
import type { RouterPeer } from './helpers/router.js';
import type { BackendSim } from './helpers/backend-sim.js';
import { requireBuild } from '../helpers/cli.js';
import { startCliStudio, stopCliStudio } from './helpers/cli-studio.js';

requireBuild();
const peerOrSkip = await startDockerPeer();
const skip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (skip) skipLoudly('ports e2e', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

async function pushTickerImage(peer: DockerPeer, ref: string): Promise<void> {
  const docker = peer.docker();
  const work = await mkdtemp(path.join(os.tmpdir(), 'reagent-e2e-ports-'));
  try {
    const tgz = await makeTgz(work, { Dockerfile: `FROM ${peer.image}\nCMD ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]\n` });
    await drainProgress(await docker.buildImage(tgz, { t: ref, rm: true }), `build ${ref}`);
    const auth = { username: peer.registry.username, password: peer.registry.password, serveraddress: peer.registry.host };
    await drainProgress(await docker.getImage(ref).push({ authconfig: auth }), `push ${ref}`);
    await docker.getImage(ref).remove();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

describe('ports: studio client → CLI → Docker', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  const keyA = Number(uniqueAppKey());
  const keyB = Number(uniqueAppKey());
  let router: RouterPeer;
  let backend: BackendSim;
  let device: CliDevice;
  let studio: Peer;
  const creds = () => ({ [peer.registry.host]: { username: peer.registry.username, password: peer.registry.password } });
  const request = (appKey: number, name: string, target: string, ports: unknown[]) => ({
    app_key: appKey,
    app_name: name,
    stage: 'PROD',
    target_state: target,
    version: '1.0.0',
    requestor_account_key: Number(STUDIO_USER.authid),
    docker_credentials: creds(),
    ports,
  });
  const portReports = (appKey: number) => backend.reports().filter((r) => r.payload.app_key === appKey && Array.isArray(r.payload.ports));

  before(async () => {
    for (const [k, n] of [[keyA, 'alpha'], [keyB, 'beta']] as const) await pushTickerImage(peer, `${peer.registry.host}/apps/prod_${dockerArch()}_${k}_${n}:1.0.0`);
    ({ router, backend, device, studio } = await startCliStudio({
      args: ['-debug'],
      env: { DOCKER_HOST: peer.dockerHost, REAGENT_APP_NETWORK: 'none' },
      flock: { docker_registry_url: peer.registry.host, docker_main_repository: 'apps/' },
    }));
  });
  after(async () => {
    await stopCliStudio({ router, backend, device, studio }, async (studio) => {
      for (const [k, n] of [[keyA, 'alpha'], [keyB, 'beta']] as const) {
        await callOutcome(studio.session, proc('request_app_state'), [], { app_key: k, app_name: n, stage: 'PROD', target_state: 'UNINSTALLED' }).catch(() => undefined);
        await backend.until(() => backend.statesOf(k, 'PROD').at(-1) === 'UNINSTALLED', 30_000, 'uninstalled').catch(() => undefined);
      }
    });
  });

  test('host ports are allocated without collision, reported, and in the app\'s env and /data/env', async () => {
    const rules = [
      { port: 80, protocol: 'http', name: 'web', main: true, active: true, public: false },
      { port: 5683, protocol: 'udp', name: 'coap', active: true },
      { port: 22, protocol: 'tcp', name: 'ssh', active: false },
    ];
    const a = await callOutcome(studio.session, proc('request_app_state'), [], request(keyA, 'alpha', 'RUNNING', rules));
    assert.ok(a.ok, JSON.stringify(a));
    await backend
      .until(() => backend.statesOf(keyA, 'PROD').at(-1) === 'RUNNING', 90_000, 'alpha RUNNING')
      .catch((err: Error) => {
        const said = device.lines().filter((l) => l.level === 'warn' || l.level === 'error').map((l) => JSON.stringify(l));
        throw new Error(`${err.message}\nstates: ${backend.statesOf(keyA, 'PROD').join(' ')}\n${said.join('\n')}`);
      });
    await backend.until(() => portReports(keyA).length > 0, 10_000, 'alpha port report');
    const reportA = portReports(keyA).at(-1)!.payload;
    assert.equal(reportA.stage, 'PROD');
    assert.equal(reportA.device_key, DEVICE.device_key);
    assert.equal(reportA.swarm_key, DEVICE.swarm_key);
    assert.equal(reportA.serial_number, undefined, 'a port report is {app_key, device_key, swarm_key, stage, ports}');
    const portsA = reportA.ports as Array<Record<string, unknown>>;
    assert.equal(portsA.length, 3);
    const webA = portsA.find((p) => p.port === 80)!;
    const coapA = portsA.find((p) => p.port === 5683)!;
    assert.equal(webA.name, 'web', 'the studio\'s rule is echoed');
    for (const p of [webA, coapA]) assert.ok(typeof p.host_port === 'number' && p.host_port >= 40000 && p.host_port <= 49999, JSON.stringify(p));
    assert.equal(portsA.find((p) => p.port === 22)!.host_port, undefined, 'an inactive rule gets no port');

    const container = `prod_${keyA}_alpha`;
    const env = (await peer.docker().getContainer(container).inspect()).Config.Env ?? [];
    assert.ok(env.includes(`DEVICE_PORT_FOR_80=${webA.host_port}`), env.join(' '));
    assert.ok(env.includes(`DEVICE_PORT_FOR_5683=${coapA.host_port}`), env.join(' '));
    const file = path.join(device.agentDir, 'apps', 'data', container, 'env', 'DEVICE_PORT_FOR_80.txt');
    assert.equal(readFileSync(file, 'utf8'), String(webA.host_port));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    // …and the app reads it as /data/env.
    const exec = await peer.docker().getContainer(container).exec({ Cmd: ['cat', '/data/env/DEVICE_PORT_FOR_80.txt'], AttachStdout: true, AttachStderr: true });
    const out = await new Promise<string>((resolve, reject) => {
      void exec.start({ hijack: true, stdin: false }).then((stream) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
        stream.on('error', reject);
      }, reject);
    });
    assert.ok(out.includes(String(webA.host_port)), JSON.stringify(out));

    // A second app declaring the same port, and asking for alpha's host port: it gets another one.
    const b = await callOutcome(studio.session, proc('request_app_state'), [], request(keyB, 'beta', 'RUNNING', [{ port: 80, protocol: 'tcp', active: true, host_port: webA.host_port }]));
    assert.ok(b.ok, JSON.stringify(b));
    await backend.until(() => portReports(keyB).length > 0, 30_000, 'beta port report');
    const webB = (portReports(keyB).at(-1)!.payload.ports as Array<Record<string, unknown>>)[0]!;
    assert.notEqual(webB.host_port, webA.host_port);
    await backend.until(() => backend.statesOf(keyB, 'PROD').at(-1) === 'RUNNING', 90_000, 'beta RUNNING');

    // The studio sends alpha's ports back with their host ports: alpha keeps them.
    const again = await callOutcome(studio.session, proc('request_app_state'), [], request(keyA, 'alpha', 'RUNNING', portsA));
    assert.ok(again.ok, JSON.stringify(again));
    await backend.until(() => portReports(keyA).length > 1, 10_000, 'alpha second port report');
    assert.deepEqual(portReports(keyA).at(-1)!.payload.ports, portsA);
  });
});
