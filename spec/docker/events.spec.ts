// Engine events against the real engine: our containers' lifecycle, a kill from
// outside the agent, and dockerd going away and coming back mid-watch.
//
// This file restarts dockerd, so it always runs its own private engine, even when
// CI provides a shared one.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import { skipLoudly, startDockerPeer, uniqueAppKey, waitFor, type DockerPeer } from '../helpers/docker-peer.js';
import { DockerEngine, type EngineEvent, type EngineStateChange, type EventWatcher } from '../../adapters/docker/engine.js';
import { dockerArch } from '../../adapters/docker/arch.js';
import { silentLogger } from '../../adapters/docker/types.js';

const peerOrSkip = await startDockerPeer({ needsRestart: true });
const skip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (skip) skipLoudly('docker events', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

const LONG_RUNNING = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'];
const WATCH = { initialBackoffMs: 100, maxBackoffMs: 1000, pingIntervalMs: 2000 };

describe('docker: engine events', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  const key = uniqueAppKey();
  let engine: DockerEngine;
  let appsDir: string;
  let watcher: EventWatcher;
  const events: EngineEvent[] = [];
  const states: EngineStateChange[] = [];

  const eventFor = (container: string, kind: EngineEvent['kind']) => () => events.find((e) => e.container === container && e.kind === kind);

  before(async () => {
    appsDir = await mkdtemp(path.join(os.tmpdir(), 'rdp-apps-'));
    engine = new DockerEngine({ docker: peer.docker(), appsDir, arch: dockerArch(), logger: silentLogger });
    watcher = engine.watchEvents((e) => events.push(e), (s) => states.push(s), WATCH);
    await waitFor('the first up', () => states[0]?.state === 'up');
  });
  after(async () => {
    watcher?.close();
    for (const c of await engine.listOurContainers()) await engine.remove(c.name, { force: true });
    await rm(appsDir, { recursive: true, force: true });
  });

  it('reports the first attach as up with the current containers, not as a resync', () => {
    const first = states[0];
    assert.ok(first?.state === 'up' && first.resync === false && Array.isArray(first.containers));
  });

  it('a docker kill from outside the agent arrives as kill + die with exit code 137', async (t) => {
    const { name } = await engine.runApp({ appKey: key, stage: 'PROD', appName: 'victim', image: peer.image, networkMode: 'none', cmd: LONG_RUNNING });
    const start = await waitFor('start event', eventFor(name, 'start'));
    assert.deepEqual({ appKey: start.appKey, stage: start.stage, appName: start.appName }, { appKey: key, stage: 'PROD', appName: 'victim' });
    const t0 = Date.now();
    await peer.cli(['kill', name]);
    const die = await waitFor('die event', eventFor(name, 'die'));
    t.diagnostic(`die event ${Date.now() - t0} ms after docker kill`);
    assert.equal(die.exitCode, 137);
    const kill = events.find((e) => e.container === name && e.kind === 'kill');
    assert.ok(kill && /^(9|SIGKILL)$/.test(kill.signal ?? ''), JSON.stringify(kill));
  });

  it('stop and remove arrive as die(0), stop, destroy; foreign containers are filtered out', async () => {
    await peer.cli(['run', '-d', '--name', `dev_${key}_foreign`, '--network', 'none', peer.image, 'true']);
    const { name } = await engine.runApp({ appKey: key, stage: 'DEV', appName: 'calm', image: peer.image, networkMode: 'none', cmd: LONG_RUNNING });
    await waitFor('start event', eventFor(name, 'start'));
    await engine.stop(name, 5);
    assert.equal((await waitFor('die event', eventFor(name, 'die'))).exitCode, 0);
    await waitFor('stop event', eventFor(name, 'stop'));
    await engine.remove(name);
    await waitFor('destroy event', eventFor(name, 'destroy'));
    assert.equal(events.some((e) => e.container.endsWith('_foreign')), false);
    await peer.cli(['rm', '-f', `dev_${key}_foreign`]);
  });

  for (const signal of ['TERM', 'KILL'] as const) {
    it(`dockerd restarted mid-watch (SIG${signal}) is noticed: down, then up with a resync`, async (t) => {
      const appName = `survivor-${signal.toLowerCase()}`;
      const { name } = await engine.runApp({ appKey: key, stage: 'DEV', appName, image: peer.image, networkMode: 'none', cmd: LONG_RUNNING, stopTimeoutSec: 1 });
      await waitFor('start event', eventFor(name, 'start'));
      const before = states.length;
      const t0 = Date.now();
      await peer.restartEngine({ signal });
      const restartMs = Date.now() - t0;
      const down = await waitFor('down', () => states.slice(before).find((s) => s.state === 'down'), 30_000);
      const up = await waitFor('up again', () => states.slice(before).find((s) => s.state === 'up'), 30_000);
      t.diagnostic(`dockerd restart (${signal}) took ${restartMs} ms; watcher up again ${Date.now() - t0} ms after the restart began`);
      assert.ok(states.indexOf(down) < states.indexOf(up));
      assert.ok(up.state === 'up' && up.resync);
      // Without live-restore dockerd stops running containers on shutdown (TERM) or
      // on its next start (KILL); the resync is how the agent learns about that.
      const survivor = up.containers.find((c) => c.name === name);
      assert.equal(survivor?.state, 'exited', JSON.stringify(up.containers));

      // Events flow over the re-attached stream.
      await engine.remove(name, { force: true });
      const again = await engine.runApp({ appKey: key, stage: 'DEV', appName: `${appName}-after`, image: peer.image, networkMode: 'none', cmd: ['true'] });
      await waitFor('start event after the restart', eventFor(again.name, 'start'));
      await waitFor('die event after the restart', eventFor(again.name, 'die'));
    });
  }

  it('an engine that is not there is reported down once, retried, and close() stops it', async () => {
    const gone = new Dockerode({ socketPath: path.join(appsDir, 'no-such.sock') });
    const s: EngineStateChange[] = [];
    const w = new DockerEngine({ docker: gone, appsDir, arch: 'amd64', logger: silentLogger }).watchEvents(() => {}, (x) => s.push(x), {
      initialBackoffMs: 20,
      maxBackoffMs: 50,
    });
    await waitFor('down', () => s[0]?.state === 'down');
    await new Promise((r) => setTimeout(r, 300));
    w.close();
    assert.equal(s.length, 1);
    assert.match(s[0]?.state === 'down' ? s[0].reason : '', /ENOENT|connect/);
  });
});
