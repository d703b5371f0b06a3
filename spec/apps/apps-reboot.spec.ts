// A reboot, simulated: a daemon brings two apps up and stops; behind its back
// one app's container is removed, the other's has exited (as after a power
// cut: restart policy "no"), and a container with our labels that no request
// accounts for appears. The built `reagent` then starts on the same agent dir
// and, before it says "ready" (that is, before any network link could
// start), has removed the orphan and brought both apps back.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { skipLoudly, startDockerPeer, uniqueAppKey, type DockerPeer } from '../helpers/docker-peer.js';
import { pushTickerImage, removeAppContainers, startAppsDaemon } from '../helpers/apps-daemon.js';
import { cleanEnv, startReagent, tempDir } from '../helpers/cli.js';
import { dockerArch } from '../../adapters/docker/arch.js';
import { LABELS } from '../../adapters/docker/naming.js';
import { AppId } from '../../machines/app-id.js';

const peerOrSkip = await startDockerPeer();
const skip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (skip) skipLoudly('apps reboot', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

describe('apps after a reboot', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  const arch = dockerArch();
  const [kA, kB, kOrphan] = [uniqueAppKey(), uniqueAppKey(), uniqueAppKey()];
  let agentDir = '';

  before(async () => {
    await pushTickerImage(peer, `prod_${arch}_${kA}_alpha`, '1.0.0');
    await pushTickerImage(peer, `prod_${arch}_${kB}_beta`, '2.1.0');
  });
  after(async () => {
    await removeAppContainers(peer.docker(), [kA, kB, kOrphan]);
    if (agentDir) await rm(agentDir, { recursive: true, force: true });
  });

  it('the built daemon converges the apps from its projection before it is ready', async (t) => {
    const creds = { [peer.registry.host]: { username: peer.registry.username, password: peer.registry.password } };
    const first = await startAppsDaemon(peer, { registryUrl: peer.registry.host });
    agentDir = first.agentDir;
    await first.request({ appKey: Number(kA), appName: 'alpha', stage: 'PROD', targetState: 'RUNNING', version: '1.0.0', dockerCredentials: creds });
    await first.request({ appKey: Number(kB), appName: 'beta', stage: 'PROD', targetState: 'RUNNING', version: '2.1.0', dockerCredentials: creds });
    await first.waitForState(AppId.format('PROD', kA), 'RUNNING');
    await first.waitForState(AppId.format('PROD', kB), 'RUNNING');
    await first.stop();

    const docker = peer.docker();
    const alpha = `prod_${kA}_alpha`;
    const beta = `prod_${kB}_beta`;
    const orphan = `prod_${kOrphan}_orphan`;
    const betaBefore = (await docker.getContainer(beta).inspect()).Id;
    assert.equal((await docker.getContainer(alpha).inspect()).State.Running, true, 'apps keep running while the agent is stopped');
    await peer.cli(['rm', '-f', alpha]);
    await peer.cli(['stop', '-t', '1', beta]);
    await peer.cli([
      'run', '-d', '--name', orphan, '--network', 'none',
      '--label', `${LABELS.managed}=true`, '--label', `${LABELS.appKey}=${kOrphan}`,
      '--label', `${LABELS.stage}=PROD`, '--label', `${LABELS.appName}=orphan`,
      peer.image, 'sleep', '300',
    ]);

    const home = tempDir('reagent-home-');
    const t0 = Date.now();
    const daemon = startReagent(
      ['-offline', '-agentDir', agentDir],
      cleanEnv(home, { DOCKER_HOST: peer.dockerHost, REAGENT_APP_NETWORK: 'none', REAGENT_APP_STOP_TIMEOUT: '2' }),
    );
    try {
      await daemon.waitFor(/"msg":"ready"/, 30_000);
      t.diagnostic(`start to ready with 2 apps to converge: ${Date.now() - t0} ms`);
      // No waiting here: "ready" already means converged.
      const a = await docker.getContainer(alpha).inspect();
      const b = await docker.getContainer(beta).inspect();
      assert.equal(a.State.Running, true, 'the removed container was recreated');
      assert.equal(b.State.Running, true, 'the exited app runs again');
      assert.notEqual(b.Id, betaBefore, 'in a fresh container');
      await assert.rejects(docker.getContainer(orphan).inspect(), /no such container/i, 'the orphan is gone');

      const out = daemon.output();
      const at = (re: RegExp) => out.search(re);
      assert.ok(at(/"msg":"removed a container of ours that no app request accounts for"/) >= 0, out);
      assert.ok(at(/"msg":"apps reconciled with Docker"/) < at(/"msg":"apps settled"/));
      assert.ok(at(/"msg":"apps settled"/) < at(/"msg":"reagent started"/), 'the apps settle before the daemon (and any network link) is up');
      assert.match(out, /"apps":2,"orphansRemoved":1,"engine":"up","msg":"apps reconciled with Docker"/);
      assert.ok(!out.includes(peer.registry.password));
    } finally {
      daemon.child.kill('SIGTERM');
      assert.equal(await daemon.exit, 0);
      await rm(home, { recursive: true, force: true });
    }
    assert.equal((await docker.getContainer(alpha).inspect()).State.Running, true, 'stopping the agent leaves the apps running');
  });
});
