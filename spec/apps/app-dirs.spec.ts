// App files keyed by stage and app key, on a real engine. Before, /data was
// `<appsDir>/<stage>/<name>` and DEV sources `<appsDir>/build/<name>.tgz`:
// two apps with one name (two keys, or the same app in DEV and PROD for the
// sources) mounted the same /data, and uninstalling one deleted the other's.
// Also the move of an old layout at start: by rename, once, logged, and
// under a container that keeps running on it.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTgz, skipLoudly, startDockerPeer, uniqueAppKey, waitFor, type DockerPeer } from '../helpers/docker-peer.js';
import { logLines, pushTickerImage, removeAppContainers, startAppsDaemon, TICKER_CMD, tickerDockerfile, type AppsDaemon } from '../helpers/apps-daemon.js';
import { dockerArch } from '../../adapters/docker/arch.js';
import { appLabels } from '../../adapters/docker/naming.js';
import { AppId } from '../../machines/app-id.js';

const peerOrSkip = await startDockerPeer();
const skip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (skip) skipLoudly('app dirs', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

describe('app files keyed by stage and app key', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  const arch = dockerArch();
  const keys: string[] = [];
  const dirs: string[] = [];
  const key = (): string => {
    const k = uniqueAppKey();
    keys.push(k);
    return k;
  };
  const creds = () => ({ [peer.registry.host]: { username: peer.registry.username, password: peer.registry.password } });
  const exec = (container: string, script: string) => peer.cli(['exec', container, 'sh', '-c', script]);

  after(async () => {
    await removeAppContainers(peer.docker(), keys);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('two apps named alike (two keys, and DEV next to PROD) keep separate /data; uninstalling one leaves the others\' data', async () => {
    const [k1, k2] = [key(), key()];
    await pushTickerImage(peer, `prod_${arch}_${k1}_same`, '1.0.0');
    await pushTickerImage(peer, `prod_${arch}_${k2}_same`, '1.0.0');
    const d = await startAppsDaemon(peer, { registryUrl: peer.registry.host });
    dirs.push(d.agentDir);
    try {
      // The DEV twin of k1: sources uploaded into its own place.
      const devUploads = path.join(d.appsDir, 'uploads', `dev_${k1}_same`);
      await mkdir(devUploads, { recursive: true });
      await rename(await makeTgz(d.appsDir, { Dockerfile: tickerDockerfile(peer.image) }), path.join(devUploads, 'same.tgz'));

      const apps = [
        { appKey: Number(k1), stage: 'PROD' as const, container: `prod_${k1}_same` },
        { appKey: Number(k2), stage: 'PROD' as const, container: `prod_${k2}_same` },
        { appKey: Number(k1), stage: 'DEV' as const, container: `dev_${k1}_same` },
      ];
      for (const a of apps) {
        await d.request({ appKey: a.appKey, appName: 'same', stage: a.stage, targetState: 'RUNNING', version: '1.0.0', dockerCredentials: creds() });
      }
      for (const a of apps) await d.waitForState(AppId.format(a.stage, String(a.appKey)), 'RUNNING', 60_000);

      for (const a of apps) await exec(a.container, `echo ${a.container} > /data/who`);
      for (const a of apps) {
        assert.equal((await exec(a.container, 'cat /data/who; ls /data | wc -l')).trim(), `${a.container}\n1`, `${a.container} sees only its own /data`);
        assert.equal(await readFile(path.join(d.appsDir, 'data', a.container, 'who'), 'utf8'), `${a.container}\n`);
      }

      // Uninstall PROD k1: its data goes; PROD k2 and DEV k1, both named "same", keep theirs.
      await d.request({ appKey: Number(k1), appName: 'same', stage: 'PROD', targetState: 'UNINSTALLED' });
      await d.waitForState(AppId.format('PROD', k1), 'UNINSTALLED');
      await assert.rejects(stat(path.join(d.appsDir, 'data', `prod_${k1}_same`)), { code: 'ENOENT' });
      assert.equal(await readFile(path.join(d.appsDir, 'data', `prod_${k2}_same`, 'who'), 'utf8'), `prod_${k2}_same\n`);
      assert.equal((await exec(`dev_${k1}_same`, 'cat /data/who')).trim(), `dev_${k1}_same`);

      // Uninstall DEV k1: its /data and its sources go; PROD k2's data stays.
      await d.request({ appKey: Number(k1), appName: 'same', stage: 'DEV', targetState: 'UNINSTALLED' });
      await d.waitForState(AppId.format('DEV', k1), 'UNINSTALLED');
      await assert.rejects(stat(path.join(d.appsDir, 'data', `dev_${k1}_same`)), { code: 'ENOENT' });
      await assert.rejects(stat(devUploads), { code: 'ENOENT' });
      assert.equal((await exec(`prod_${k2}_same`, 'cat /data/who')).trim(), `prod_${k2}_same`);
    } finally {
      await d.stop();
    }
  });

  it('the by-name layout moves at start: by rename, logged, once; shared and occupied places are left; a running container keeps its data', async () => {
    const [kMoved, kLive, kDupA, kDupB, kDev] = [key(), key(), key(), key(), key()];
    await pushTickerImage(peer, `prod_${arch}_${kMoved}_moved`, '1.0.0');
    await pushTickerImage(peer, `prod_${arch}_${kLive}_live`, '1.0.0');
    const first = await startAppsDaemon(peer, { registryUrl: peer.registry.host });
    const { agentDir, appsDir } = first;
    dirs.push(agentDir);
    try {
      // Standing requests, as an older agent left them. The DEV apps have no sources:
      // they stay REMOVED, and their requests stand.
      await first.request({ appKey: Number(kMoved), appName: 'moved', stage: 'PROD', targetState: 'PRESENT', version: '1.0.0', dockerCredentials: creds() });
      await first.request({ appKey: Number(kLive), appName: 'live', stage: 'PROD', targetState: 'RUNNING', version: '1.0.0', dockerCredentials: creds() });
      await first.request({ appKey: Number(kDupA), appName: 'dup', stage: 'DEV', targetState: 'PRESENT' });
      await first.request({ appKey: Number(kDupB), appName: 'dup', stage: 'DEV', targetState: 'PRESENT' });
      await first.request({ appKey: Number(kDev), appName: 'solo', stage: 'DEV', targetState: 'PRESENT' });
      await first.waitForState(AppId.format('PROD', kMoved), 'PRESENT');
      await first.waitForState(AppId.format('PROD', kLive), 'RUNNING');
      const standing = () => first.daemon.journal.connection.all('SELECT app_key FROM app_requests').length;
      await waitFor('five standing requests', () => standing() === 5);
    } finally {
      await first.stop();
    }

    // The old layout, as the previous version made it: by name, and a container bound to it.
    const live = `prod_${kLive}_live`;
    await peer.cli(['rm', '-f', live]);
    await rm(path.join(appsDir, 'data'), { recursive: true, force: true });
    for (const d of ['prod/moved', 'prod/live', 'dev/dup', 'prod/occupied']) await mkdir(path.join(appsDir, d), { recursive: true });
    await writeFile(path.join(appsDir, 'prod', 'moved', 'state.db'), 'moved data\n');
    await writeFile(path.join(appsDir, 'dev', 'dup', 'whose'), 'one of two apps named dup\n');
    await mkdir(path.join(appsDir, 'build'), { recursive: true });
    await writeFile(path.join(appsDir, 'build', 'dup.tgz'), 'sources of one of the dups\n');
    const movedIno = (await stat(path.join(appsDir, 'prod', 'moved'))).ino;
    const image = `${peer.registry.host}/prod_${arch}_${kLive}_live:1.0.0`;
    const old = await peer.docker().createContainer({
      name: live,
      Image: image,
      Cmd: JSON.parse(TICKER_CMD) as string[],
      Labels: appLabels('PROD', kLive, 'live'),
      HostConfig: { Binds: [`${path.join(appsDir, 'shared')}:/shared`, `${path.join(appsDir, 'prod', 'live')}:/data`], NetworkMode: 'none', RestartPolicy: { Name: 'no' } },
    });
    await old.start();
    await exec(live, 'echo before > /data/note');
    // A DEV app whose keyed upload place is already taken: the old archive is not put over it.
    await writeFile(path.join(appsDir, 'build', 'solo.tgz'), 'old sources\n');
    await mkdir(path.join(appsDir, 'uploads', `dev_${kDev}_solo`), { recursive: true });
    await writeFile(path.join(appsDir, 'uploads', `dev_${kDev}_solo`, 'solo.tgz'), 'new sources\n');

    const second = await startAppsDaemon(peer, { agentDir, registryUrl: peer.registry.host });
    try {
      // By rename: the same directory (inode), now at the keyed place.
      const moved = path.join(appsDir, 'data', `prod_${kMoved}_moved`);
      assert.equal((await stat(moved)).ino, movedIno);
      assert.equal(await readFile(path.join(moved, 'state.db'), 'utf8'), 'moved data\n');
      await assert.rejects(stat(path.join(appsDir, 'prod', 'moved')), { code: 'ENOENT' });

      // The running container was left running and writes into the moved directory.
      await second.waitForState(AppId.format('PROD', kLive), 'RUNNING');
      assert.equal((await peer.docker().getContainer(live).inspect()).Id, old.id, 'not recreated');
      await exec(live, 'echo after >> /data/note');
      assert.equal(await readFile(path.join(appsDir, 'data', live, 'note'), 'utf8'), 'before\nafter\n');

      // Two standing apps named "dup": whose data it is cannot be known, so it stays, and says so.
      assert.equal(await readFile(path.join(appsDir, 'dev', 'dup', 'whose'), 'utf8'), 'one of two apps named dup\n');
      assert.equal(await readFile(path.join(appsDir, 'build', 'dup.tgz'), 'utf8'), 'sources of one of the dups\n');
      const left = logLines(second.logFile, /left in place/);
      assert.ok(left.some((l) => l['path'] === path.join(appsDir, 'dev', 'dup') && /dev_\d+_dup, dev_\d+_dup/.test(String(l['reason']))), JSON.stringify(left));
      // prod/occupied belongs to no standing app: untouched, not even mentioned.
      await stat(path.join(appsDir, 'prod', 'occupied'));

      const moves = logLines(second.logFile, /moved to the layout keyed by stage and app key/);
      assert.deepEqual(moves.map((m) => m['to']).sort(), [moved, path.join(appsDir, 'data', live)].sort());

      // A keyed place that is already taken is never overwritten or merged into.
      assert.equal(await readFile(path.join(appsDir, 'build', 'solo.tgz'), 'utf8'), 'old sources\n');
      assert.equal(await readFile(path.join(appsDir, 'uploads', `dev_${kDev}_solo`, 'solo.tgz'), 'utf8'), 'new sources\n');
      assert.ok(logLines(second.logFile, /left in place/).some((l) => l['path'] === path.join(appsDir, 'build', 'solo.tgz') && /already exists; the two are not merged/.test(String(l['reason']))));
    } finally {
      await second.stop();
    }

    // Once: a third start moves nothing more and leaves the taken place alone.
    const third: AppsDaemon = await startAppsDaemon(peer, { agentDir, registryUrl: peer.registry.host });
    try {
      await waitFor('the third start to reconcile', () => logLines(third.logFile, /apps reconciled with Docker/).length === 3);
      assert.equal(logLines(third.logFile, /moved to the layout keyed/).length, 2, 'nothing moved the second time');
      assert.equal(await readFile(path.join(appsDir, 'data', live, 'note'), 'utf8'), 'before\nafter\n');
      assert.equal(await readFile(path.join(appsDir, 'uploads', `dev_${kDev}_solo`, 'solo.tgz'), 'utf8'), 'new sources\n');
    } finally {
      await third.stop();
    }
  });
});
