// App containers against the real engine: run with our conventions, logs, stop,
// remove, uninstall, ownership checks, disk checks.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { skipLoudly, startDockerPeer, uniqueAppKey, waitFor, type DockerPeer } from '../helpers/docker-peer.js';
import { DockerEngine, EngineError, type LogLine } from '../../adapters/docker/engine.js';
import { dockerArch } from '../../adapters/docker/arch.js';
import { silentLogger } from '../../adapters/docker/types.js';
import { appDataDir, LABELS } from '../../adapters/docker/naming.js';

const peerOrSkip = await startDockerPeer();
const skip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (skip) skipLoudly('docker containers', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

// PID 1 ignores SIGTERM unless it traps it; `sleep 1` keeps the trap responsive.
const LONG_RUNNING = ['sh', '-c', 'trap "exit 0" TERM; echo ready; while true; do sleep 1; done'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

describe('docker: app containers', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  const key = uniqueAppKey();
  let engine: DockerEngine;
  let appsDir: string;

  before(async () => {
    appsDir = await mkdtemp(path.join(os.tmpdir(), 'rdp-apps-'));
    engine = new DockerEngine({ docker: peer.docker(), appsDir, arch: dockerArch(), logger: silentLogger });
  });
  after(async () => {
    for (const c of await engine.listOurContainers()) if (c.appKey === key) await engine.remove(c.name, { force: true });
    await rm(appsDir, { recursive: true, force: true });
  });

  it('runs an app with our name, labels, mounts, env and RestartPolicy no', async (t) => {
    const t0 = Date.now();
    const { name } = await engine.runApp({
      appKey: key,
      stage: 'DEV',
      appName: 'Conv',
      image: peer.image,
      networkMode: 'none',
      env: { GREETING: 'hello world', EMPTY: '' },
      ports: [{ port: 8080 }, { port: 53, protocol: 'udp', host_port: 5353 }],
      cmd: ['sh', '-c', 'echo "$GREETING" > /data/greeting; touch /shared/from-conv; id -u > /data/uid'],
    });
    t.diagnostic(`runApp (create + start): ${Date.now() - t0} ms`);
    assert.equal(name, `dev_${key}_conv`);
    const info = await peer.docker().getContainer(name).inspect();
    assert.equal(info.Config.Labels[LABELS.managed], 'true');
    assert.equal(info.Config.Labels[LABELS.appKey], key);
    assert.equal(info.Config.Labels[LABELS.stage], 'DEV');
    assert.equal(info.Config.Labels[LABELS.appName], 'Conv');
    assert.equal(info.HostConfig.RestartPolicy?.Name, 'no');
    assert.equal(info.HostConfig.Privileged, false);
    assert.equal(info.HostConfig.CapAdd ?? null, null);
    assert.deepEqual(Object.keys(info.Config.ExposedPorts ?? {}).sort(), ['53/udp', '8080/tcp']);
    assert.ok(info.Config.Env.includes('GREETING=hello world'));
    const dataDir = appDataDir(appsDir, 'DEV', key, 'Conv');
    assert.deepEqual(info.HostConfig.Binds, [`${path.join(appsDir, 'shared')}:/shared`, `${dataDir}:/data`]);

    await waitFor('the app to exit', async () => (await peer.docker().getContainer(name).inspect()).State.Status === 'exited');
    assert.equal(await readFile(path.join(dataDir, 'greeting'), 'utf8'), 'hello world\n');
    await stat(path.join(appsDir, 'shared', 'from-conv'));
    const listed = (await engine.listOurContainers()).find((c) => c.name === name);
    assert.equal(listed?.state, 'exited');
    assert.equal(listed?.exitCode, 0);
    assert.equal(listed?.stage, 'DEV');
  });

  it('privileged is an explicit option', async (t) => {
    const name = `prod_${key}_priv`;
    await engine.runApp({ appKey: key, stage: 'PROD', appName: 'priv', image: peer.image, networkMode: 'none', privileged: true, cmd: ['true'] }).catch((e: unknown) => {
      // Sandboxes without every capability (no CAP_SYS_RESOURCE here) cannot start
      // privileged containers; the container is still created with the options.
      assert.ok(e instanceof EngineError && /apply caps|operation not permitted/.test(e.message), String(e));
      t.diagnostic(`privileged start refused by this host: ${e.message}`);
    });
    const info = await peer.docker().getContainer(name).inspect();
    assert.equal(info.HostConfig.Privileged, true);
    assert.deepEqual(info.HostConfig.CapAdd, ['ALL']);
    assert.ok(info.HostConfig.Binds?.includes('/dev:/dev'));
  });

  it('followLogs delivers stdout and stderr lines in order and ends when the container stops', async (t) => {
    const { name } = await engine.runApp({
      appKey: key,
      stage: 'DEV',
      appName: 'logs',
      image: peer.image,
      networkMode: 'none',
      // Long lines (to cross chunk and frame boundaries), both streams, and an unterminated tail.
      cmd: ['sh', '-c', 'for i in $(seq 1 300); do echo "out $i $(head -c 3000 /dev/zero | tr "\\0" x)"; echo "err $i" >&2; done; printf tail'],
    });
    const lines: LogLine[] = [];
    const t0 = Date.now();
    const res = await engine.followLogs(name, (batch) => lines.push(...batch));
    t.diagnostic(`followLogs: ${lines.length} lines in ${Date.now() - t0} ms`);
    assert.equal(res.reason, 'ended');
    const out = lines.filter((l) => l.stream === 'stdout').map((l) => l.text);
    const err = lines.filter((l) => l.stream === 'stderr').map((l) => l.text);
    assert.equal(err.length, 300);
    assert.deepEqual(err, Array.from({ length: 300 }, (_, i) => `err ${i + 1}`));
    assert.equal(out.length, 301);
    assert.equal(out[300], 'tail');
    out.slice(0, 300).forEach((l, i) => assert.equal(l, `out ${i + 1} ${'x'.repeat(3000)}`));
  });

  it('a log consumer that throws loses that batch only: the follow goes on, the failure is logged', async () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') };
    const watched = new DockerEngine({ docker: peer.docker(), appsDir, arch: dockerArch(), logger });
    const { name } = await watched.runApp({ appKey: key, stage: 'DEV', appName: 'throwy', image: peer.image, networkMode: 'none', cmd: ['sh', '-c', 'echo first; sleep 1; echo second; sleep 1; echo third'] });
    const seen: string[] = [];
    let calls = 0;
    const res = await watched.followLogs(name, (batch) => {
      calls++;
      if (calls === 1) throw new TypeError('consumer bug');
      seen.push(...batch.map((l) => l.text));
    });
    assert.equal(res.reason, 'ended');
    assert.ok(seen.includes('third'), `lines after the failure still arrive: ${seen.join(',')}`);
    assert.ok(!seen.includes('first'), 'the batch whose handler threw is the one dropped');
    assert.ok(warnings.some((w) => w.includes(`follow logs of ${name}: an item from the engine was dropped, its handler failed (TypeError: consumer bug)`)), warnings.join('\n'));
    await watched.remove(name, { force: true });
  });

  it('followLogs of a TTY container, one follower per container, abort stops it', async () => {
    const { name } = await engine.runApp({ appKey: key, stage: 'DEV', appName: 'tty', image: peer.image, networkMode: 'none', tty: true, cmd: LONG_RUNNING, stopTimeoutSec: 2 });
    const ac = new AbortController();
    const lines: LogLine[] = [];
    const following = engine.followLogs(name, (b) => lines.push(...b), ac.signal);
    await waitFor('the ready line', () => lines.some((l) => l.text === 'ready'));
    await assert.rejects(engine.followLogs(name, () => {}), (e: unknown) => e instanceof EngineError && e.code === 'conflict');
    ac.abort();
    assert.equal((await following).reason, 'aborted');
    assert.equal(engine.isFollowingLogs(name), false);
    assert.ok(lines.every((l) => l.stream === 'stdout'));
    await engine.remove(name, { force: true });
  });

  it('stop and remove are idempotent', async (t) => {
    const { name } = await engine.runApp({ appKey: key, stage: 'PROD', appName: 'stopme', image: peer.image, networkMode: 'none', cmd: LONG_RUNNING });
    const t0 = Date.now();
    await engine.stop(name, 5);
    t.diagnostic(`stop (trapped SIGTERM): ${Date.now() - t0} ms`);
    assert.equal((await engine.listOurContainers()).find((c) => c.name === name)?.state, 'exited');
    await engine.stop(name, 5);
    assert.equal(await engine.remove(name), true);
    assert.equal(await engine.remove(name), false);
    await assert.rejects(engine.stop(name), (e: unknown) => e instanceof EngineError && e.code === 'not-found');
  });

  it('a name clash is a conflict; replace swaps the container', async () => {
    const spec = { appKey: key, stage: 'DEV' as const, appName: 'clash', image: peer.image, networkMode: 'none', cmd: ['true'] };
    const first = await engine.runApp(spec);
    await assert.rejects(engine.runApp(spec), (e: unknown) => e instanceof EngineError && e.code === 'conflict');
    const second = await engine.runApp({ ...spec, replace: true });
    assert.notEqual(second.id, first.id);
  });

  it('containers without our labels are never stopped or removed', async () => {
    const name = `dev_${key}_foreign`;
    await peer.cli(['run', '-d', '--name', name, '--network', 'none', peer.image, 'sleep', '60']);
    try {
      await assert.rejects(engine.stop(name), (e: unknown) => e instanceof EngineError && e.code === 'not-ours');
      await assert.rejects(engine.remove(name, { force: true }), (e: unknown) => e instanceof EngineError && e.code === 'not-ours');
      await assert.rejects(engine.runApp({ appKey: key, stage: 'DEV', appName: 'foreign', image: peer.image, networkMode: 'none', replace: true }), /not managed by reagent/);
      assert.equal((await engine.listOurContainers()).some((c) => c.name === name), false);
    } finally {
      await peer.cli(['rm', '-f', name]);
    }
  });

  it('host networking: a declared port is reachable on loopback', async () => {
    const port = await freePort();
    await mkdir(appDataDir(appsDir, 'DEV', key, 'web'), { recursive: true });
    await writeFile(path.join(appDataDir(appsDir, 'DEV', key, 'web'), 'index.html'), 'served from /data\n');
    const { name } = await engine.runApp({
      appKey: key,
      stage: 'DEV',
      appName: 'web',
      image: peer.image,
      networkMode: 'host',
      ports: [{ port, host_port: port }],
      cmd: ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/data'],
    });
    const body = await waitFor('httpd to answer', async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/index.html`);
        return r.ok ? await r.text() : undefined;
      } catch {
        return undefined;
      }
    });
    assert.equal(body, 'served from /data\n');
    await engine.remove(name, { force: true });
  });

  it('uninstall removes the container and the data dir, and nothing outside the apps dir', async () => {
    const { name } = await engine.runApp({ appKey: key, stage: 'PROD', appName: 'gone', image: peer.image, networkMode: 'none', cmd: ['sh', '-c', 'echo x > /data/file'] });
    const dataDir = appDataDir(appsDir, 'PROD', key, 'gone');
    await waitFor('the data file', () => stat(path.join(dataDir, 'file')).then(() => true, () => false));
    assert.deepEqual(await engine.uninstall(key, 'PROD', 'gone'), { containerRemoved: true, dataDirRemoved: true });
    await assert.rejects(stat(dataDir), { code: 'ENOENT' });
    assert.equal((await engine.listOurContainers()).some((c) => c.name === name), false);
    assert.deepEqual(await engine.uninstall(key, 'PROD', 'gone'), { containerRemoved: false, dataDirRemoved: false });

    // A data "dir" that is a symlink to somewhere else: only the link goes.
    const outside = await mkdtemp(path.join(os.tmpdir(), 'rdp-outside-'));
    try {
      await writeFile(path.join(outside, 'precious'), 'keep');
      await mkdir(path.join(appsDir, 'data'), { recursive: true });
      await symlink(outside, appDataDir(appsDir, 'PROD', key, 'linked'));
      assert.equal((await engine.uninstall(key, 'PROD', 'linked')).dataDirRemoved, true);
      assert.equal(await readFile(path.join(outside, 'precious'), 'utf8'), 'keep');

      // A data root that is a symlink out of the apps dir: refused, nothing deleted.
      const otherApps = await mkdtemp(path.join(os.tmpdir(), 'rdp-apps2-'));
      try {
        await mkdir(path.join(outside, `dev_${key}_victim`));
        await writeFile(path.join(outside, `dev_${key}_victim`, 'precious'), 'keep');
        await symlink(outside, path.join(otherApps, 'data'));
        const other = new DockerEngine({ docker: peer.docker(), appsDir: otherApps, arch: dockerArch(), logger: silentLogger });
        await assert.rejects(other.uninstall(key, 'DEV', 'victim'), (e: unknown) => e instanceof EngineError && e.code === 'not-ours' && /outside the apps dir/.test(e.message));
        assert.equal(await readFile(path.join(outside, `dev_${key}_victim`, 'precious'), 'utf8'), 'keep');
      } finally {
        await rm(otherApps, { recursive: true, force: true });
      }
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('invalid names are refused before anything is created', async () => {
    await assert.rejects(engine.runApp({ appKey: key, stage: 'DEV', appName: '../escape', image: peer.image }), /invalid app name/);
    await assert.rejects(engine.uninstall('../1', 'DEV', 'x'), /invalid app key/);
    await assert.rejects(engine.stop('/etc/passwd'), /invalid container name/);
    await assert.rejects(engine.runApp({ appKey: key, stage: 'DEV', appName: 'x', image: peer.image, env: { 'BAD-KEY': '1' } }), /env var name/);
    await assert.rejects(stat(path.join(appsDir, 'escape')), { code: 'ENOENT' });
  });

  it('disk checks report free bytes and a clear refusal', async () => {
    const free = await engine.freeBytes(appsDir);
    assert.ok(free > 0);
    assert.deepEqual((await engine.checkDisk(appsDir, 1)).ok, true);
    const refused = await engine.checkDisk(appsDir, free * 4);
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok && /free on the filesystem of .* at least/.test(refused.reason), JSON.stringify(refused));
    assert.ok((await engine.dataRoot()).length > 0);
  });
});
