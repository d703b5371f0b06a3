// DEV build archives are a peer's upload: crafted archives must be refused
// with a clear error while memory stays flat (adapters/docker/tgz-entries.ts).
// The bombs are a few MiB on disk and gigabytes unpacked (see helpers/tar-craft.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { ArchiveError, listArchive, readTarListing } from '../../adapters/docker/tgz-entries.js';
import { END_OF_ARCHIVE, file, gz, gzippedZeros, padded, tarHeader } from './helpers/tar-craft.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Peak resident memory growth while `fn` runs, sampled every few milliseconds. */
async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{ growth: number; outcome: PromiseSettledResult<T> }> {
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
  const [outcome] = await Promise.allSettled([fn()]);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { growth: peak - base, outcome };
}

function rejection(outcome: PromiseSettledResult<unknown>): Error {
  assert.equal(outcome.status, 'rejected', 'the archive was accepted');
  return (outcome as PromiseRejectedResult).reason as Error;
}

describe('crafted build archives', () => {
  let dir: string;
  const write = async (name: string, data: Buffer) => {
    const p = path.join(dir, name);
    await writeFile(p, data);
    return p;
  };
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reagent-bombs-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('long-name bomb: a GNU long name declaring 1 GiB is refused at its header', async () => {
    const bomb = await write('longname.tgz', Buffer.concat([gz(tarHeader({ name: '././@LongLink', size: GiB, type: 'L' })), gzippedZeros(GiB)]));
    const { growth, outcome } = await peakRssGrowth(() => listArchive(bomb));
    const err = rejection(outcome);
    assert.ok(err instanceof ArchiveError);
    assert.match(err.message, /GNU long name of 1073741824 bytes at byte 0 exceeds the 1 MiB limit/);
    assert.ok(growth < 64 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  });

  it('pax bomb: pax headers (x and g) over 1 MiB are refused, at or under it they are read', async () => {
    for (const type of ['x', 'g']) {
      const bomb = await write(`pax-${type}.tgz`, Buffer.concat([gz(tarHeader({ name: 'PaxHeaders/x', size: 512 * MiB, type })), gzippedZeros(512 * MiB)]));
      const { growth, outcome } = await peakRssGrowth(() => listArchive(bomb));
      assert.match(rejection(outcome).message, new RegExp(`pax ${type === 'g' ? 'global ' : ''}header of 536870912 bytes at byte 0 exceeds the 1 MiB limit`));
      assert.ok(growth < 64 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    }
    // A real pax path record, and a GNU long name, within the limit.
    const record = (k: string, v: string) => {
      const body = ` ${k}=${v}\n`;
      let len = body.length + 1;
      while (`${len}${body}`.length !== len) len++;
      return `${len}${body}`;
    };
    const longName = `${'d/'.repeat(200)}Dockerfile`;
    const pax = Buffer.from(record('path', longName));
    const tar = Buffer.concat([
      tarHeader({ name: 'PaxHeaders/p', size: pax.length, type: 'x' }), padded(pax), file('short', 'x'),
      tarHeader({ name: '././@LongLink', size: longName.length + 1, type: 'L' }), padded(Buffer.from(`${longName}\0`)), file('short', 'y'),
      END_OF_ARCHIVE,
    ]);
    const ok = await listArchive(await write('pax-ok.tgz', gz(tar)));
    assert.deepEqual(ok.entries.map((e) => e.name), [longName, longName]);
  });

  it('data after the end-of-archive marker: refused after at most 1 MiB of it, the rest never inflated', async () => {
    const archive = Buffer.concat([file('Dockerfile', 'FROM scratch\n'), END_OF_ARCHIVE]);
    const bomb = await write('trailing.tgz', Buffer.concat([gz(archive), gzippedZeros(2 * GiB)]));
    const { growth, outcome } = await peakRssGrowth(() => listArchive(bomb));
    assert.match(rejection(outcome).message, /data after the end-of-archive marker at byte 2048: more than 1 MiB follows it/);
    assert.ok(growth < 64 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    // Proof that reading stopped: the same archive with a broken gzip tail far
    // behind is refused for its trailing data, not for the broken tail.
    const member = gzippedZeros(64 * MiB);
    const broken = await write('trailing-broken.tgz', Buffer.concat([gz(archive), gzippedZeros(256 * MiB), member.subarray(0, member.length >> 1)]));
    await assert.rejects(listArchive(broken), /data after the end-of-archive marker/);
    // Ordinary record padding after the marker is fine.
    const ok = await listArchive(await write('padding.tgz', gz(Buffer.concat([archive, Buffer.alloc(8 * 1024)]))));
    assert.deepEqual(ok.entries.map((e) => e.name), ['Dockerfile']);
  });

  it('ratio bomb: 1 GiB of zeros in one file is refused once it inflates past 100:1, memory flat', async () => {
    const bomb = await write('ratio.tgz', Buffer.concat([gz(tarHeader({ name: 'zeros', size: GiB })), gzippedZeros(GiB)]));
    const { growth, outcome } = await peakRssGrowth(() => listArchive(bomb));
    const err = rejection(outcome);
    assert.match(err.message, /the archive inflates more than 100:1 \(\d+(\.\d)? MiB from \d+(\.\d)? (KiB|MiB) of gzip so far\): refused as a decompression bomb/);
    assert.ok(growth < 64 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  });

  it('size cap: an archive unpacking past the limit is refused (incompressible data, small limit)', async () => {
    const big = await write('big.tgz', gz(Buffer.concat([file('blob', randomBytes(3 * MiB)), END_OF_ARCHIVE])));
    await assert.rejects(listArchive(big, { limits: { maxTarBytes: 2 * MiB } }), /the archive unpacks to more than 2 MiB \(the limit for build archives\)/);
    assert.equal((await listArchive(big)).entries.length, 1, 'within the default limits it is read');
  });

  it('not a tar archive: a clear error, whatever the bytes', async () => {
    await assert.rejects(listArchive(await write('junk.tgz', gz(Buffer.alloc(4096, 0x41)))), /not a tar archive: (header checksum mismatch|bad (size|checksum))/);
    const lone = Buffer.concat([file('a', 'x'), Buffer.alloc(512), file('b', 'y'), END_OF_ARCHIVE]);
    await assert.rejects(listArchive(await write('lone.tgz', gz(lone))), /a lone zero block before the header at byte 1536/);
  });

  it('property: random bytes after a valid header never throw anything but ArchiveError, and never hang', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.nat(12), async (noise, cut) => {
        const tar = Buffer.concat([file('Dockerfile', 'FROM x'), Buffer.from(noise)]);
        const chunks = [tar.subarray(0, cut * 100), tar.subarray(cut * 100)];
        try {
          await readTarListing((async function* () { yield* chunks; })());
        } catch (err) {
          assert.ok(err instanceof ArchiveError, String(err));
        }
      }),
      { numRuns: 500 },
    );
  });
});
