// Lists the entry names of a (gzipped) tar archive without unpacking it.
//
// The build step only needs to know whether `Dockerfile.<arch>` exists, and the
// archive is passed to Docker as it is, so a full tar library is not needed: this
// reads 512-byte headers (ustar, GNU long names, pax `path`) and skips the data.

import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { pipeline, type Readable } from 'node:stream';

const BLOCK = 512;

function cstring(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul === -1 ? slice.length : nul).toString('utf8');
}

function octal(buf: Buffer, start: number, len: number): number {
  const first = buf[start] ?? 0;
  if (first & 0x80) {
    // GNU base-256 for sizes ≥ 8 GiB
    let n = 0;
    for (let i = 1; i < len; i++) n = n * 256 + (buf[start + i] ?? 0);
    return n;
  }
  const s = cstring(buf, start, len).trim();
  const n = s === '' ? 0 : parseInt(s, 8);
  if (!Number.isFinite(n) || n < 0) throw new Error(`bad tar number ${JSON.stringify(s)}`);
  return n;
}

function paxPath(data: Buffer): string | undefined {
  // records: "<len> <key>=<value>\n"
  let at = 0;
  let found: string | undefined;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    if (sp === -1) break;
    const len = parseInt(data.subarray(at, sp).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = data.subarray(sp + 1, at + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0 && rec.slice(0, eq) === 'path') found = rec.slice(eq + 1);
    at += len;
  }
  return found;
}

/** "./a/b" and "a/b" name the same entry; Docker resolves the Dockerfile by the latter. */
export function normalizeEntryName(name: string): string {
  let n = name.replace(/\\/g, '/');
  while (n.startsWith('./')) n = n.slice(2);
  return n.replace(/\/+$/, '');
}

export interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
}

/** Reads entries from a stream of tar bytes. Throws on a truncated or malformed archive. */
export async function readTarEntries(tar: AsyncIterable<Buffer>): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let skip = 0; // data bytes (padded) still to drop
  let collect = 0; // data bytes to keep for a long-name / pax record
  let collected: Buffer[] = [];
  let collectKind: 'L' | 'x' | undefined;
  let nextName: string | undefined;
  let ended = false;
  let zeroBlocks = 0;
  const finishCollect = (): void => {
    if (!collectKind) return;
    const data = Buffer.concat(collected);
    nextName = collectKind === 'L' ? cstring(data, 0, data.length) : (paxPath(data) ?? nextName);
    collectKind = undefined;
    collected = [];
  };

  for await (const chunk of tar) {
    if (ended) continue;
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let at = 0;
    while (!ended) {
      if (skip > 0) {
        const n = Math.min(skip, pending.length - at);
        if (collect > 0) {
          const k = Math.min(collect, n);
          collected.push(pending.subarray(at, at + k));
          collect -= k;
        }
        skip -= n;
        at += n;
        if (skip > 0) break;
        finishCollect();
        continue;
      }
      if (pending.length - at < BLOCK) break;
      const h = pending.subarray(at, at + BLOCK);
      at += BLOCK;
      if (h.every((b) => b === 0)) {
        if (++zeroBlocks === 2) ended = true;
        continue;
      }
      zeroBlocks = 0;
      const size = octal(h, 124, 12);
      const type = String.fromCharCode(h[156] ?? 0);
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (type === 'L' || type === 'x') {
        collectKind = type;
        collect = size;
        skip = padded;
        if (skip === 0) finishCollect();
        continue;
      }
      if (type === 'g' || type === 'K') {
        skip = padded;
        continue;
      }
      const ustar = cstring(h, 257, 6) === 'ustar';
      const prefix = ustar ? cstring(h, 345, 155) : '';
      const base = cstring(h, 0, 100);
      const name = nextName ?? (prefix ? `${prefix}/${base}` : base);
      nextName = undefined;
      entries.push({
        name: normalizeEntryName(name),
        type: type === '0' || type === '\0' || type === '7' ? 'file' : type === '5' ? 'dir' : type === '2' ? 'symlink' : 'other',
        size,
      });
      skip = type === '5' || type === '2' || type === '1' ? 0 : padded;
    }
    pending = pending.subarray(at);
  }
  if (!ended && (skip > 0 || pending.length > 0)) throw new Error('truncated tar archive');
  return entries;
}

/** Entries of a .tar or .tar.gz file (gzip is detected by its magic bytes). */
export async function listArchiveEntries(file: string): Promise<TarEntry[]> {
  const head = await new Promise<Buffer>((resolve, reject) => {
    const s = createReadStream(file, { start: 0, end: 1 });
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer | string) => parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  // pipeline, not pipe: a read error must reach the consumer instead of hanging it
  const source: Readable = gz ? pipeline(createReadStream(file), createGunzip(), () => {}) : createReadStream(file);
  return readTarEntries(source);
}
