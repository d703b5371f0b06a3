// Lists the entry names of a (gzipped) tar archive without unpacking it.
//
// The build step only needs to know whether `Dockerfile.<arch>` exists, and the
// archive is passed to Docker as it is, so a full tar library is not needed: this
// reads 512-byte headers (ustar, GNU long names, pax `path`) and skips the data.
//
// The archive is a peer's upload (write_data), so every dimension is bounded
// (ARCHIVE_LIMITS): GNU long-name/long-link and pax header payloads as Go's
// archive/tar bounds them (1 MiB; a 510 KB archive declaring a huge long name
// drove the daemon to 1 GiB), the bytes it unpacks to and the compression
// ratio (a few MiB of gzip can inflate to any size), and what may follow the
// end-of-archive marker (Docker unpacks the same file: it must hold nothing
// beyond what was checked here). Reading stops at the first limit crossed, and
// at the end of the archive: the inflater is destroyed, not drained.

import { createReadStream, type ReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { pipeline, type Readable } from 'node:stream';

const BLOCK = 512;
const MiB = 1024 * 1024;

export interface ArchiveLimits {
  /** Largest GNU long name/link (`L`/`K`) or pax header (`x`/`g`) payload: Go's archive/tar allows 1 MiB. */
  maxHeaderBytes: number;
  /** Tar bytes (after decompression) read at most. */
  maxTarBytes: number;
  /** Decompressed bytes per compressed byte, checked once `ratioFloorBytes` were unpacked. */
  maxRatio: number;
  /** Small archives may compress well (a tree of empty files): the ratio is judged beyond this. */
  ratioFloorBytes: number;
  /** Bytes allowed after the end-of-archive marker (tar pads to its record size, 10 KiB by default). */
  maxTrailingBytes: number;
  /** Entries kept in the result (those the caller's `keep` accepts). */
  maxEntries: number;
}

/** The defaults (README, "DEV build archives"). */
export const ARCHIVE_LIMITS: ArchiveLimits = {
  maxHeaderBytes: 1 * MiB,
  maxTarBytes: 2 * 1024 * MiB,
  maxRatio: 100,
  ratioFloorBytes: 64 * MiB,
  maxTrailingBytes: 1 * MiB,
  maxEntries: 100_000,
};

/** The archive is malformed or crosses a limit; the message says which and where. */
export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
}

function cstring(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul === -1 ? slice.length : nul).toString('utf8');
}

function octal(buf: Buffer, start: number, len: number, what: string, offset: number): number {
  const first = buf[start] ?? 0;
  if (first & 0x80) {
    // GNU base-256 for sizes ≥ 8 GiB
    let n = 0;
    for (let i = 1; i < len; i++) n = n * 256 + (buf[start + i] ?? 0);
    return n;
  }
  const s = cstring(buf, start, len).trim();
  const n = s === '' ? 0 : /^[0-7]+$/.test(s) ? parseInt(s, 8) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new ArchiveError(`not a tar archive: bad ${what} ${JSON.stringify(s.slice(0, 12))} in the header at byte ${offset}`);
  return n;
}

/**
 * The header checksum: the sum of its bytes with the checksum field read as
 * spaces (POSIX ustar); old tars summed signed bytes, which Go accepts too.
 */
function checksumOk(h: Buffer, offset: number): boolean {
  const stored = octal(h, 148, 8, 'checksum', offset);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function paxPath(data: Buffer): string | undefined {
  // records: "<len> <key>=<value>\n"
  let at = 0;
  let found: string | undefined;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    if (sp === -1 || sp - at > 20) break;
    const len = parseInt(data.subarray(at, sp).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= sp - at + 1) break;
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

export interface ReadOptions {
  limits?: Partial<ArchiveLimits>;
  /** Which entries to return (others are read past); all by default, up to `maxEntries`. */
  keep?: (entry: TarEntry) => boolean;
}

export interface TarListing {
  entries: TarEntry[];
  /** Tar bytes read, trailing padding included: reading stopped there. */
  tarBytes: number;
}

const SPECIAL: Record<string, string> = { L: 'GNU long name', K: 'GNU long link name', x: 'pax header', g: 'pax global header' };

/** Reads entries from a stream of tar bytes. Throws ArchiveError on a truncated, malformed or oversized archive. */
export async function readTarListing(tar: AsyncIterable<Buffer>, opts: ReadOptions = {}): Promise<TarListing> {
  const limits = { ...ARCHIVE_LIMITS, ...opts.limits };
  const entries: TarEntry[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let offset = 0; // tar bytes consumed before `pending`
  let skip = 0; // data bytes (padded) still to drop
  let collect = 0; // data bytes to keep for a long-name / pax record
  let collected: Buffer[] = [];
  let collectKind: string | undefined;
  let nextName: string | undefined;
  let ended = false;
  let zeroBlocks = 0;
  let tarBytes = 0;
  let trailing = 0;
  const finishCollect = (): void => {
    if (!collectKind) return;
    const data = Buffer.concat(collected);
    if (collectKind === 'L') nextName = cstring(data, 0, data.length);
    else if (collectKind === 'x') nextName = paxPath(data) ?? nextName;
    collectKind = undefined;
    collected = [];
  };

  for await (const chunk of tar) {
    tarBytes += chunk.length;
    if (ended) {
      trailing += chunk.length;
    } else {
      if (tarBytes > limits.maxTarBytes) throw new ArchiveError(`the archive unpacks to more than ${formatLimit(limits.maxTarBytes)} (the limit for build archives)`);
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
        const headerAt = offset + at;
        at += BLOCK;
        if (h.every((b) => b === 0)) {
          if (++zeroBlocks === 2) ended = true;
          continue;
        }
        // As Go's archive/tar (and so Docker) reads it: one zero block must be followed by another.
        if (zeroBlocks === 1) throw new ArchiveError(`not a tar archive: a lone zero block before the header at byte ${headerAt}`);
        if (!checksumOk(h, headerAt)) throw new ArchiveError(`not a tar archive: header checksum mismatch at byte ${headerAt}`);
        const size = octal(h, 124, 12, 'size', headerAt);
        const type = String.fromCharCode(h[156] ?? 0);
        const padded = Math.ceil(size / BLOCK) * BLOCK;
        const special = SPECIAL[type];
        if (special) {
          if (size > limits.maxHeaderBytes) {
            throw new ArchiveError(`${special} of ${size} bytes at byte ${headerAt} exceeds the ${formatLimit(limits.maxHeaderBytes)} limit`);
          }
          skip = padded;
          if (type === 'L' || type === 'x') {
            collectKind = type;
            collect = size;
            if (skip === 0) finishCollect();
          }
          continue;
        }
        const ustar = cstring(h, 257, 6) === 'ustar';
        const prefix = ustar ? cstring(h, 345, 155) : '';
        const base = cstring(h, 0, 100);
        const name = nextName ?? (prefix ? `${prefix}/${base}` : base);
        nextName = undefined;
        const entry: TarEntry = {
          name: normalizeEntryName(name),
          type: type === '0' || type === '\0' || type === '7' ? 'file' : type === '5' ? 'dir' : type === '2' ? 'symlink' : 'other',
          size,
        };
        if (!opts.keep || opts.keep(entry)) {
          if (entries.length >= limits.maxEntries) throw new ArchiveError(`the archive has more than ${limits.maxEntries} entries`);
          entries.push(entry);
        }
        skip = type === '5' || type === '2' || type === '1' ? 0 : padded;
      }
      if (ended) trailing += pending.length - at;
      offset += at;
      pending = ended ? Buffer.alloc(0) : pending.subarray(at);
    }
    if (trailing > limits.maxTrailingBytes) {
      throw new ArchiveError(`data after the end-of-archive marker at byte ${tarBytes - trailing}: more than ${formatLimit(limits.maxTrailingBytes)} follows it`);
    }
  }
  if (!ended && (skip > 0 || pending.length > 0)) throw new ArchiveError('truncated tar archive');
  return { entries, tarBytes };
}

/** Entries of a stream of tar bytes (see readTarListing). */
export async function readTarEntries(tar: AsyncIterable<Buffer>, opts: ReadOptions = {}): Promise<TarEntry[]> {
  return (await readTarListing(tar, opts)).entries;
}

export interface ArchiveListing extends TarListing {
  /** Bytes of the file read; for gzip, less than its size when reading stopped early. */
  fileBytes: number;
  gzip: boolean;
}

/** Entries of a .tar or .tar.gz file (gzip is detected by its magic bytes), within ARCHIVE_LIMITS. */
export async function listArchive(file: string, opts: ReadOptions = {}): Promise<ArchiveListing> {
  const limits = { ...ARCHIVE_LIMITS, ...opts.limits };
  const head = await new Promise<Buffer>((resolve, reject) => {
    const s = createReadStream(file, { start: 0, end: 1 });
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer | string) => parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const raw: ReadStream = createReadStream(file);
  // pipeline, not pipe: a read error must reach the consumer instead of hanging it
  const source: Readable = gzip ? pipeline(raw, createGunzip(), () => {}) : raw;
  const ratioChecked = async function* (): AsyncGenerator<Buffer> {
    let inflated = 0;
    try {
      for await (const chunk of source) {
        const buf = chunk as Buffer;
        inflated += buf.length;
        if (gzip && inflated > limits.ratioFloorBytes && inflated > limits.maxRatio * raw.bytesRead) {
          throw new ArchiveError(
            `the archive inflates more than ${limits.maxRatio}:1 (${formatLimit(inflated)} from ${formatLimit(raw.bytesRead)} of gzip so far): refused as a decompression bomb`,
          );
        }
        yield buf;
      }
    } finally {
      // Stopping early (end of archive, a limit): drop the inflater instead of draining it.
      source.destroy();
      raw.destroy();
    }
  };
  const listing = await readTarListing(ratioChecked(), opts);
  return { ...listing, fileBytes: raw.bytesRead, gzip };
}

/** Entries of a .tar or .tar.gz file, within ARCHIVE_LIMITS. */
export async function listArchiveEntries(file: string, opts: ReadOptions = {}): Promise<TarEntry[]> {
  return (await listArchive(file, opts)).entries;
}

function formatLimit(n: number): string {
  if (n >= 1024 * MiB && n % (1024 * MiB) === 0) return `${n / (1024 * MiB)} GiB`;
  if (n >= MiB) return `${Math.round((n / MiB) * 10) / 10} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} bytes`;
}
