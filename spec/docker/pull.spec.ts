// Pulls against the real engine from a password-protected registry on loopback.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { skipLoudly, pushTestImage, startDockerPeer, uniqueAppKey, type DockerPeer } from '../helpers/docker-peer.js';
import { DockerEngine, EngineError, type PullProgress } from '../../adapters/docker/engine.js';
import { dockerArch } from '../../adapters/docker/arch.js';
import { silentLogger } from '../../adapters/docker/types.js';

const peerOrSkip = await startDockerPeer();
const skip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (skip) skipLoudly('docker pull', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

describe('docker: pull from a password-protected registry', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  let engine: DockerEngine;
  let appsDir: string;
  let ref: string;
  let creds: { username: string; password: string; serveraddress: string };

  before(async () => {
    appsDir = await mkdtemp(path.join(os.tmpdir(), 'rdp-apps-'));
    engine = new DockerEngine({ docker: peer.docker(), appsDir, arch: dockerArch(), logger: silentLogger });
    const t0 = Date.now();
    ref = await pushTestImage(peer, `reagent-test/pull-${uniqueAppKey()}`, '1.0.0', 4 << 20);
    process.stderr.write(`docker peer: started in ${peer.startupMs} ms (${peer.storageDriver}); test image pushed in ${Date.now() - t0} ms\n`);
    creds = { username: peer.registry.username, password: peer.registry.password, serveraddress: peer.registry.host };
  });
  after(async () => {
    if (ref) await engine.removeImage(ref, { force: true });
    await rm(appsDir, { recursive: true, force: true });
  });

  it('without credentials the registry refuses, as unauthorized', async () => {
    await assert.rejects(engine.pull(ref, undefined, () => {}), (e: unknown) => e instanceof EngineError && e.code === 'unauthorized');
  });

  it('with a wrong password the pull fails clearly, as unauthorized', async () => {
    await assert.rejects(
      engine.pull(ref, { ...creds, password: 'wrong' }, () => {}),
      (e: unknown) => e instanceof EngineError && e.code === 'unauthorized' && e.message.includes(ref),
    );
    assert.equal(await engine.imageExists(ref), false);
  });

  it('an aborted pull rejects as aborted', async () => {
    const ac = new AbortController();
    await assert.rejects(
      engine.pull(ref, creds, () => ac.abort(), ac.signal),
      (e: unknown) => e instanceof EngineError && e.code === 'aborted',
    );
    await assert.rejects(engine.pull(ref, creds, () => {}, AbortSignal.abort()), (e: unknown) => e instanceof EngineError && e.code === 'aborted');
  });

  it('pulls with per-layer progress and reports the digest', async (t) => {
    await engine.removeImage(ref); // the aborted pull may have finished in the daemon
    const progress: PullProgress[] = [];
    const t0 = Date.now();
    const res = await engine.pull(ref, creds, (p) => progress.push(p));
    t.diagnostic(`pull of a 4 MiB layer: ${Date.now() - t0} ms, ${progress.length} progress items`);
    assert.equal(res.image, ref);
    assert.match(res.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    const downloading = progress.filter((p) => p.status === 'Downloading' && p.layer !== '');
    assert.ok(downloading.length > 0, `no Downloading items in ${JSON.stringify(progress.slice(0, 20))}`);
    const layer = downloading[downloading.length - 1];
    assert.ok(layer?.total !== undefined && layer.current !== undefined && layer.current <= layer.total);
    assert.ok(progress.some((p) => p.status === 'Pull complete' && p.layer === layer.layer));
    assert.ok(await engine.imageExists(ref));
  });

  it('an unknown tag fails with the registry message', async () => {
    const missing = ref.replace(/:1\.0\.0$/, ':9.9.9');
    await assert.rejects(
      engine.pull(missing, creds, () => {}),
      (e: unknown) => e instanceof EngineError && /not found|unknown/i.test(e.message),
    );
  });

  it('refuses malformed references before calling the engine', async () => {
    await assert.rejects(engine.pull('Bad Ref', creds, () => {}), /invalid image/);
  });
});
