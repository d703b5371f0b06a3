// The apps link against a real Docker engine and a password-protected
// registry, through the real daemon (lock, SQLite journal, actor system, app
// statecharts): what the studio would see reported, what lands in the app's
// logs, what the journal and the log file hold, and how the apps ride out a
// container killed behind their back and a dockerd restart.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rm, mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { skipLoudly, startDockerPeer, uniqueAppKey, waitFor, makeTgz, type DockerPeer } from '../helpers/docker-peer.js';
import { FAST_POLICY, pushTickerImage, removeAppContainers, startAppsDaemon, tickerDockerfile, type AppsDaemon } from '../helpers/apps-daemon.js';
import { dockerArch } from '../../adapters/docker/arch.js';
import { AppId } from '../../machines/app-id.js';
import { registryTokenSource } from '../../adapters/wamp/registry-token.js';

const peerOrSkip = await startDockerPeer({ needsRestart: true });
const skip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (skip) skipLoudly('apps link', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

describe('apps link on a real engine', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  const arch = dockerArch();
  const keys: string[] = [];
  let d: AppsDaemon;

  const key = (): string => {
    const k = uniqueAppKey();
    keys.push(k);
    return k;
  };
  const creds = () => ({ [peer.registry.host]: { username: peer.registry.username, password: peer.registry.password } });
  const running = async (name: string) => (await peer.docker().getContainer(name).inspect()).State;
  const history = (container: string) => d.link.runtime!.history.read(container)?.lines ?? [];

  before(async () => {
    d = await startAppsDaemon(peer, { registryUrl: peer.registry.host, overrides: { policy: FAST_POLICY } });
  });
  after(async () => {
    try {
      await d?.stop();
    } finally {
      await removeAppContainers(peer.docker(), keys);
      if (d) await rm(d.agentDir, { recursive: true, force: true });
    }
  });

  it('a PROD app goes REMOVED → DOWNLOADING → PRESENT → STARTING → RUNNING from the password-protected registry, logs flow, and it comes down again', async (t) => {
    const k = key();
    const actor = AppId.format('PROD', k);
    const container = `prod_${k}_sensor`;
    const image = await pushTickerImage(peer, `prod_${arch}_${k}_sensor`, '1.0.0');
    const t0 = Date.now();
    await d.request({ appKey: Number(k), appName: 'sensor', stage: 'PROD', targetState: 'RUNNING', version: '1.0.0', dockerCredentials: creds() });
    assert.deepEqual(await d.waitForState(actor, 'RUNNING'), ['REMOVED', 'DOWNLOADING', 'PRESENT', 'STARTING', 'RUNNING']);
    t.diagnostic(`request to RUNNING (pull + run): ${Date.now() - t0} ms`);

    const state = await running(container);
    assert.equal(state.Running, true);
    const info = await peer.docker().getContainer(container).inspect();
    assert.equal(info.Config.Image, image);
    assert.equal(info.HostConfig.RestartPolicy?.Name, 'no', 'restarts are the agent\'s');

    await waitFor('ticks in the app history', () => history(container).some((l) => /^tick \d+$/.test(l)), 10_000);
    const lines = history(container);
    assert.ok(lines.includes('Now running app…'), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('Pulling image ')), lines.join('\n'));
    assert.ok(lines.some((l) => /Pull complete/.test(l)), lines.join('\n'));

    // Pull progress reached the machine as OP_PROGRESS, a few events, not one per layer chunk.
    const progress = d.transitions.filter((tr) => tr.actor === actor && tr.type === 'OP_PROGRESS');
    assert.ok(progress.length >= 1 && progress.length < 50, `OP_PROGRESS events: ${progress.length}`);
    assert.ok(d.transitions.some((tr) => tr.actor === actor && tr.type === 'OP_SUCCEEDED' && tr.payload !== null && (tr.payload as { containerId?: string }).containerId === info.Id));

    // The registry password is nowhere: not in the journal (file bytes included), not in the log.
    await d.daemon.system.flush();
    const journalText = JSON.stringify([...d.daemon.journal.readEvents()]);
    assert.ok(!journalText.includes(peer.registry.password), 'password in a journal record');
    assert.ok(journalText.includes(peer.registry.host), 'the journal names the registry host only');
    assert.ok(!readFileSync(path.join(d.agentDir, 'reagent.db')).includes(peer.registry.password), 'password in the database file');
    assert.ok(!readFileSync(d.logFile, 'utf8').includes(peer.registry.password), 'password in the log');

    // The projection holds the standing request and the reported state.
    const row = d.daemon.journal.connection.get('SELECT target, state, payload FROM app_requests WHERE app_key = ?', [k]);
    assert.equal(row?.['target'], 'RUNNING');
    assert.equal(row?.['state'], 'RUNNING');
    assert.ok(!String(row?.['payload']).includes(peer.registry.password));

    await d.request({ appKey: Number(k), appName: 'sensor', stage: 'PROD', targetState: 'PRESENT', version: '1.0.0' });
    assert.deepEqual((await d.waitForState(actor, 'PRESENT')).slice(-3), ['RUNNING', 'STOPPING', 'PRESENT']);
    await assert.rejects(peer.docker().getContainer(container).inspect(), /no such container/i, 'PRESENT has no container');
    assert.ok(await d.link.runtime!.engine.imageExists(image));

    await d.request({ appKey: Number(k), appName: 'sensor', stage: 'PROD', targetState: 'REMOVED' });
    assert.deepEqual((await d.waitForState(actor, 'REMOVED')).slice(-3), ['PRESENT', 'DELETING', 'REMOVED']);
    assert.equal(await d.link.runtime!.engine.imageExists(image), false);
    await waitFor('the standing request to be dropped', () => d.daemon.journal.connection.get('SELECT 1 AS x FROM app_requests WHERE app_key = ?', [k]) === null);
  });

  it('a DEV app builds from <appsDir>/uploads/<container>/<name>.tgz and runs; a missing archive is a clear failure', async () => {
    const k = key();
    const actor = AppId.format('DEV', k);
    const container = `dev_${k}_web`;
    const uploads = path.join(d.appsDir, 'uploads', container);
    await mkdir(uploads, { recursive: true });
    const tgz = await makeTgz(d.appsDir, { Dockerfile: tickerDockerfile(peer.image), 'app/README': 'dev build\n' });
    await rename(tgz, path.join(uploads, 'web.tgz'));

    await d.request({ appKey: Number(k), appName: 'web', stage: 'DEV', targetState: 'BUILT' });
    // Uploaded sources and no image: the app starts as TRANSFERED.
    assert.deepEqual(await d.waitForState(actor, 'BUILT'), ['TRANSFERED', 'BUILDING', 'BUILT']);
    const built = history(container);
    assert.ok(built.includes('Starting image build…'), built.join('\n'));
    assert.ok(built.some((l) => /^Step 1\/\d+ : FROM/.test(l)), built.join('\n'));

    // A release build: tagged as the PROD image of that version and pushed with the request's credentials.
    await d.request({ appKey: Number(k), appName: 'web', stage: 'DEV', targetState: 'PUBLISHED', version: '3.0.0', dockerCredentials: creds() });
    assert.deepEqual((await d.waitForState(actor, 'PUBLISHED')).slice(-3), ['BUILT', 'PUBLISHING', 'PUBLISHED']);
    const release = `${peer.registry.host}/prod_${arch}_${k}_web:3.0.0`;
    await d.link.runtime!.engine.removeImage(release);
    await d.link.runtime!.engine.pull(release, { ...creds()[peer.registry.host]!, serveraddress: peer.registry.host }, () => {});
    assert.ok(await d.link.runtime!.engine.imageExists(release), 'the release is in the registry');

    await d.request({ appKey: Number(k), appName: 'web', stage: 'DEV', targetState: 'RUNNING' });
    assert.deepEqual((await d.waitForState(actor, 'RUNNING')).slice(-3), ['PUBLISHED', 'STARTING', 'RUNNING']);
    assert.equal((await running(container)).Running, true);
    await waitFor('the DEV app output', () => history(container).some((l) => /^tick \d+$/.test(l)), 10_000);

    // Uninstall deletes container, image, data and the uploaded archive.
    await d.request({ appKey: Number(k), appName: 'web', stage: 'DEV', targetState: 'UNINSTALLED' });
    await d.waitForState(actor, 'UNINSTALLED');
    await assert.rejects(peer.docker().getContainer(container).inspect(), /no such container/i);
    assert.equal(await d.link.runtime!.engine.imageExists(`dev_${arch}_${k}_web`), false);
    await assert.rejects(stat(uploads), { code: 'ENOENT' }, 'the uploaded sources went with it');
    await assert.rejects(stat(path.join(d.appsDir, 'data', container)), { code: 'ENOENT' }, 'and its /data');

    // DEV sources that were never uploaded: the build fails, saying where it looked.
    const k2 = key();
    await d.request({ appKey: Number(k2), appName: 'nosrc', stage: 'DEV', targetState: 'BUILT' });
    await d.waitForState(AppId.format('DEV', k2), 'FAILED');
    assert.ok(history(`dev_${k2}_nosrc`).some((l) => /build failed: no build archive at .*uploads\/dev_\d+_nosrc\/nosrc\.tgz/.test(l)), history(`dev_${k2}_nosrc`).join('\n'));
  });

  it('logs: live batches while someone listens, windowed queries, and a history that outlives the container and the daemon', async (t) => {
    const k = key();
    const actor = AppId.format('PROD', k);
    const container = `prod_${k}_chatty`;
    await pushTickerImage(peer, `prod_${arch}_${k}_chatty`, '1.0.0');
    const own = await startAppsDaemon(peer, { registryUrl: peer.registry.host });
    t.after(() => rm(own.agentDir, { recursive: true, force: true }));
    try {
      const batches: Array<{ lines: string[]; messages: string[] }> = [];
      const off = own.link.service.subscribeLogBatches(container, (b) => batches.push(b));
      await own.request({ appKey: Number(k), appName: 'chatty', stage: 'PROD', targetState: 'RUNNING', version: '1.0.0', dockerCredentials: creds() });
      await own.waitForState(actor, 'RUNNING');
      await waitFor('a live batch with ticks', () => batches.some((b) => b.lines.some((l) => /^tick \d+$/.test(l))), 10_000);
      assert.ok(batches.some((b) => b.messages.includes('Now running app…')), 'agent messages travel with the batches');
      off();

      const q = await own.link.service.queryAppLogs({ containerName: container, tail: 2, offset: 0, timestamps: true });
      assert.equal(q.source, 'docker');
      assert.equal(q.returned, 2);
      for (const l of q.lines) assert.match(l, /^\d{4}-\d{2}-\d{2}T\S+Z (started|tick \d+)$/);
      const older = await own.link.service.queryAppLogs({ containerName: container, tail: 1, offset: 1, timestamps: false });
      assert.deepEqual(older.lines, [q.lines[0]!.replace(/^\S+ /, '')], 'offset pages backwards');
      const future = await own.link.service.queryAppLogs({ containerName: container, tail: 10, offset: 0, since: Date.now() / 1000 + 3600, timestamps: false });
      assert.deepEqual(future.lines, []);
      await assert.rejects(own.link.service.queryAppLogs({ containerName: '../etc', tail: 1, offset: 0, timestamps: false }), /containerName/);

      await own.request({ appKey: Number(k), appName: 'chatty', stage: 'PROD', targetState: 'REMOVED' });
      await own.waitForState(actor, 'REMOVED');
      const fallback = await own.link.service.queryAppLogs({ containerName: container, tail: 500, offset: 0, timestamps: true });
      assert.equal(fallback.source, 'history', 'no container any more: the stored history answers');
      assert.ok(fallback.lines.some((l) => /^tick \d+$/.test(l)));
    } finally {
      await own.stop();
    }
    const again = await startAppsDaemon(peer, { agentDir: own.agentDir, registryUrl: peer.registry.host });
    try {
      const kept = await again.link.service.appLogHistory(container);
      assert.ok(kept.some((l) => /^tick \d+$/.test(l)), kept.join('\n'));
      assert.ok(kept.length <= 100, 'the last 100 lines');
      assert.ok(kept.includes('App removed with ' + `${peer.registry.host}/prod_${arch}_${k}_chatty:1.0.0`), kept.join('\n'));
    } finally {
      await again.stop();
    }
  });

  it('the disk guard refuses a pull below the free-space minimum with a clear reason', async () => {
    const k = key();
    const guarded = await startAppsDaemon(peer, { registryUrl: peer.registry.host, env: { REAGENT_DISK_WARN_MIB: '999999999', REAGENT_DISK_MIN_MIB: '999999999' } });
    try {
      await pushTickerImage(peer, `prod_${arch}_${k}_big`, '2.0.0');
      const actor = AppId.format('PROD', k);
      // The continuous guard's first check (at start) already found the emergency: the request is refused before any pull.
      assert.equal(guarded.link.service.diskEmergency(), true);
      await guarded.request({ appKey: Number(k), appName: 'big', stage: 'PROD', targetState: 'PRESENT', version: '2.0.0', dockerCredentials: creds() });
      await waitFor('the refusal', () => guarded.transitions.some((tr) => tr.actor === actor && tr.commands.some((c) => c.type === 'apps.request-refused')));
      const refusal = guarded.transitions.flatMap((tr) => (tr.actor === actor ? tr.commands : [])).find((c) => c.type === 'apps.request-refused');
      assert.match(String(refusal?.['reason']), /^disk emergency: .* would grow the disk \(DOWNLOADING\)/);
      assert.deepEqual(guarded.reports(actor), ['REMOVED'], 'nothing pulled');
    } finally {
      await guarded.stop();
      await rm(guarded.agentDir, { recursive: true, force: true });
    }
  });

  it('without docker_credentials and without a studio connection, a pull the registry refuses fails naming the registry and why', async () => {
    const k = key();
    const actor = AppId.format('PROD', k);
    await pushTickerImage(peer, `prod_${arch}_${k}_nocreds`, '1.0.0');
    // The studio link's token source while it has no session (the real one, offline).
    const unplug = d.link.service.useRegistryAuth(registryTokenSource({ session: () => null, secret: 'never-sent', registryUrl: peer.registry.host, redactor: d.redactor }));
    try {
      await d.request({ appKey: Number(k), appName: 'nocreds', stage: 'PROD', targetState: 'PRESENT', version: '1.0.0' });
      await d.waitForState(actor, 'FAILED');
      const failed = d.transitions.find((tr) => tr.actor === actor && tr.type === 'OP_FAILED');
      const reason = String((failed?.payload as { reason?: string }).reason);
      assert.ok(reason.startsWith(`registry ${peer.registry.host} needs a login: the request carried no docker_credentials for it`), reason);
      assert.match(reason, /studio connection, which is down/);
      assert.match(reason, /the registry said: .*(unauthorized|no basic auth|authentication required)/i);
    } finally {
      unplug();
      await d.request({ appKey: Number(k), appName: 'nocreds', stage: 'PROD', targetState: 'UNINSTALLED', version: '1.0.0' });
    }
  });

  it('a container killed from outside is noticed and restarted by the crash-loop policy', async (t) => {
    const k = key();
    const actor = AppId.format('PROD', k);
    const container = `prod_${k}_worker`;
    await pushTickerImage(peer, `prod_${arch}_${k}_worker`, '1.0.0');
    await d.request({ appKey: Number(k), appName: 'worker', stage: 'PROD', targetState: 'RUNNING', version: '1.0.0', dockerCredentials: creds() });
    await d.waitForState(actor, 'RUNNING');
    const first = (await peer.docker().getContainer(container).inspect()).Id;

    const t0 = Date.now();
    await peer.cli(['kill', container]);
    await waitFor('FAILED then RUNNING again', () => d.reports(actor).slice(-3).join(',') === 'FAILED,STARTING,RUNNING', 15_000);
    t.diagnostic(`killed → RUNNING again: ${Date.now() - t0} ms (retry after ${FAST_POLICY.retry.initialMs} ms)`);
    const second = await peer.docker().getContainer(container).inspect();
    assert.notEqual(second.Id, first, 'a new container replaced the killed one');
    assert.equal(second.State.Running, true);
    assert.ok(
      history(container).some((l) => /^App failed: container exited with code 137; restarting in \d/.test(l)),
      history(container).join('\n'),
    );
  });

  it('an update pulls the newest version, restarts the app on it, and prunes the old image', async () => {
    const k = key();
    const actor = AppId.format('PROD', k);
    const container = `prod_${k}_upd`;
    const v1 = await pushTickerImage(peer, `prod_${arch}_${k}_upd`, '1.0.0');
    const v2 = await pushTickerImage(peer, `prod_${arch}_${k}_upd`, '1.1.0');
    const app = { appKey: Number(k), appName: 'upd', stage: 'PROD' as const, targetState: 'RUNNING' as const, version: '1.0.0', dockerCredentials: creds() };
    await d.request(app);
    await d.waitForState(actor, 'RUNNING');
    assert.equal((await peer.docker().getContainer(container).inspect()).Config.Image, v1);

    await d.request({ ...app, newestVersion: '1.1.0', requestUpdate: true });
    await waitFor('the update to land in RUNNING', () => d.reports(actor).slice(-5).join(',') === 'RUNNING,UPDATING,PRESENT,STARTING,RUNNING', 20_000);
    assert.equal((await peer.docker().getContainer(container).inspect()).Config.Image, v2);
    await waitFor('the old image to be pruned', async () => !(await d.link.runtime!.engine.imageExists(v1)), 10_000);
    assert.ok(await d.link.runtime!.engine.imageExists(v2));
  });

  it('a dockerd restart is survived: apps wait visibly while it is gone, then converge', async (t) => {
    const k = key();
    const actor = AppId.format('PROD', k);
    const container = `prod_${k}_steady`;
    await pushTickerImage(peer, `prod_${arch}_${k}_steady`, '1.0.0');
    const kLate = key();
    const late = AppId.format('PROD', kLate);
    await pushTickerImage(peer, `prod_${arch}_${kLate}_late`, '1.0.0');
    await d.request({ appKey: Number(k), appName: 'steady', stage: 'PROD', targetState: 'RUNNING', version: '1.0.0', dockerCredentials: creds() });
    await d.waitForState(actor, 'RUNNING');

    const t0 = Date.now();
    const restart = peer.restartEngine();
    await waitFor('the app to be told the engine is down', () => d.transitions.some((tr) => tr.actor === actor && tr.type === 'ENGINE_DOWN'), 15_000);
    // A request while Docker is away waits for it instead of failing.
    await d.request({ appKey: Number(kLate), appName: 'late', stage: 'PROD', targetState: 'RUNNING', version: '1.0.0', dockerCredentials: creds() });
    await restart;
    t.diagnostic(`dockerd restart: ${Date.now() - t0} ms`);

    await waitFor('both apps RUNNING in running containers', async () => {
      if (d.reports(actor).at(-1) !== 'RUNNING' || d.reports(late).at(-1) !== 'RUNNING') return false;
      return (await running(container).catch(() => ({ Running: false }))).Running && (await running(`prod_${kLate}_late`).catch(() => ({ Running: false }))).Running;
    }, 30_000).catch((err: Error) => {
      // What each app went through, so a failure on CI says where it stopped.
      const states = (id: string) => d.transitions.filter((tr) => tr.actor === id).map((tr) => `${tr.type}→${tr.state}`).slice(-12).join(', ');
      throw new Error(`${err.message}\n${actor}: ${d.reports(actor).join(' → ')}\n  ${states(actor)}\n${late}: ${d.reports(late).join(' → ')}\n  ${states(late)}\nlog: ${history(container).slice(-8).join(' | ')}`);
    });
    t.diagnostic(`converged ${Date.now() - t0} ms after the restart began; ${actor}: ${d.reports(actor).join(' → ')}; ${late}: ${d.reports(late).join(' → ')}`);
    assert.ok(history(container).some((l) => /^Docker engine unreachable/.test(l)), history(container).join('\n'));
    assert.ok(history(container).includes('Docker engine is back'));
    assert.ok(!d.reports(late).includes('FAILED'), `the late app never failed: ${d.reports(late).join(' → ')}`);
    assert.ok(
      d.transitions.some((tr) => tr.actor === late && tr.state === '{"DOWNLOADING":"waitingForEngine"}'),
      `the late app waited for the engine: ${d.transitions.filter((tr) => tr.actor === late).map((tr) => `${tr.type} ${tr.state}`).join(' | ')}`,
    );
  });
});
