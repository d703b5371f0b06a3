// DEV image builds from an uploaded archive, against the real engine.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { skipLoudly, makeTgz, startDockerPeer, uniqueAppKey, type DockerPeer } from '../helpers/docker-peer.js';
import { DockerEngine, EngineError } from '../../adapters/docker/engine.js';
import { dockerArch } from '../../adapters/docker/arch.js';
import { silentLogger } from '../../adapters/docker/types.js';
import { END_OF_ARCHIVE, file, gz, gzippedZeros } from './helpers/tar-craft.js';

const peerOrSkip = await startDockerPeer();
const skip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (skip) skipLoudly('docker build', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

describe('docker: build from an uploaded archive', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  const arch = dockerArch();
  const key = uniqueAppKey();
  let engine: DockerEngine;
  let work: string;
  const built: string[] = [];

  const dockerfile = (which: string, extra = ''): string => `FROM ${peer.image}\nLABEL io.reagent.test.which=${which}\nRUN echo ${which} > /which\n${extra}`;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'rdp-build-'));
    engine = new DockerEngine({ docker: peer.docker(), appsDir: work, arch, logger: silentLogger });
  });
  after(async () => {
    for (const tag of built) await engine.removeImage(tag, { force: true }).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });

  async function whichOf(tag: string): Promise<string | undefined> {
    const info = await peer.docker().getImage(tag).inspect();
    return info.Config.Labels?.['io.reagent.test.which'];
  }

  it(`uses Dockerfile.<arch> (${arch}) when the archive has both`, async (t) => {
    const tgz = await makeTgz(work, {
      Dockerfile: dockerfile('generic'),
      [`Dockerfile.${arch}`]: dockerfile('arch-specific'),
      'app/main.sh': 'echo hi\n',
    });
    const tag = engine.imageName({ stage: 'DEV', appKey: key, appName: 'web' });
    built.push(tag);
    const lines: string[] = [];
    const t0 = Date.now();
    const res = await engine.buildFromTgz(tgz, tag, (p) => lines.push(p.line));
    t.diagnostic(`build: ${Date.now() - t0} ms, ${lines.length} lines`);
    assert.equal(res.dockerfile, `Dockerfile.${arch}`);
    assert.match(res.imageId ?? '', /^sha256:/);
    assert.equal(await whichOf(tag), 'arch-specific');
    assert.ok(lines.includes(`using Dockerfile.${arch}`));
    assert.ok(lines.some((l) => /^Step 1\/\d+ : FROM/.test(l)), lines.join('\n'));
  });

  it('falls back to Dockerfile when there is none for this arch', async () => {
    const other = new DockerEngine({ docker: peer.docker(), appsDir: work, arch: 'riscv64', logger: silentLogger });
    const tgz = await makeTgz(work, { Dockerfile: dockerfile('generic'), [`Dockerfile.${arch}`]: dockerfile('arch-specific') });
    const tag = other.imageName({ stage: 'DEV', appKey: key, appName: 'fallback' });
    built.push(tag);
    const res = await other.buildFromTgz(tgz, tag, () => {});
    assert.equal(res.dockerfile, 'Dockerfile');
    assert.equal(await whichOf(tag), 'generic');
  });

  it('a failing RUN fails the build with the step error', async () => {
    const tgz = await makeTgz(work, { Dockerfile: `FROM ${peer.image}\nRUN echo about to fail && exit 3\n` });
    const lines: string[] = [];
    await assert.rejects(
      engine.buildFromTgz(tgz, `local/fail-${key}:dev`, (p) => lines.push(p.line)),
      (e: unknown) => e instanceof EngineError && e.code === 'stream-error' && /non-zero code: 3/.test(e.message),
    );
    assert.ok(lines.includes('about to fail'), lines.join('\n'));
  });

  it('a missing base image fails the build', async () => {
    const tgz = await makeTgz(work, { Dockerfile: 'FROM local/does-not-exist:1\n' });
    await assert.rejects(engine.buildFromTgz(tgz, `local/nobase-${key}:dev`, () => {}), (e: unknown) => e instanceof EngineError);
  });

  it('an archive without a Dockerfile, or not an archive, is refused before building', async () => {
    const none = await makeTgz(work, { 'sub/Dockerfile': dockerfile('nested') });
    await assert.rejects(engine.buildFromTgz(none, `local/none-${key}:dev`, () => {}), (e: unknown) => e instanceof EngineError && e.code === 'invalid-archive');
    const junk = path.join(work, 'junk.tgz');
    await writeFile(junk, Buffer.from([0x1f, 0x8b, 1, 2, 3, 4]));
    await assert.rejects(engine.buildFromTgz(junk, `local/junk-${key}:dev`, () => {}), (e: unknown) => e instanceof EngineError && e.code === 'invalid-archive');
  });

  it('a progress handler that throws loses its line only: the build completes, the failure is logged', async () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') };
    const watched = new DockerEngine({ docker: peer.docker(), appsDir: work, arch, logger });
    const tag = `local/throwy-${key}:dev`;
    built.push(tag);
    const res = await watched.buildFromTgz(await makeTgz(work, { Dockerfile: dockerfile('throwy') }), tag, (p) => {
      if (p.line.startsWith('Step')) throw new RangeError('progress bug');
    });
    assert.match(res.imageId ?? '', /^sha256:/);
    assert.equal(await whichOf(tag), 'throwy');
    assert.ok(warnings.some((w) => w.includes('an item from the engine was dropped, its handler failed (RangeError: progress bug)')), warnings.join('\n'));
  });

  it('a crafted archive (2 GiB of zeros after the end-of-archive marker) is refused before Docker sees it', async () => {
    const bomb = path.join(work, 'bomb.tgz');
    const archive = Buffer.concat([file('Dockerfile', dockerfile('bomb')), END_OF_ARCHIVE]);
    await writeFile(bomb, Buffer.concat([gz(archive), gzippedZeros(2 * 1024 ** 3)]));
    const tag = `local/bomb-${key}:dev`;
    await assert.rejects(
      engine.buildFromTgz(bomb, tag, () => {}),
      (e: unknown) => e instanceof EngineError && e.code === 'invalid-archive' && /data after the end-of-archive marker at byte \d+: more than 1 MiB follows it/.test(e.message),
    );
    assert.equal(await engine.imageExists(tag), false);
  });

  it('rebuilding a tag leaves a dangling image that pruneImages removes', async () => {
    const tag = `local/prune-${key}:dev`;
    built.push(tag);
    const first = await engine.buildFromTgz(await makeTgz(work, { Dockerfile: dockerfile('one') }), tag, () => {}, undefined, { noCache: true });
    await engine.buildFromTgz(await makeTgz(work, { Dockerfile: dockerfile('two') }), tag, () => {}, undefined, { noCache: true });
    const res = await engine.pruneImages();
    assert.ok(first.imageId && res.deleted.includes(first.imageId), JSON.stringify(res));
    assert.ok(await engine.imageExists(tag));
    assert.ok(await engine.imageExists(peer.image), 'prune without all must keep tagged images');
  });
});
