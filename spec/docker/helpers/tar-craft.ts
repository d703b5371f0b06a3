// Hand-made tar archives for the archive-bound tests: headers with any size
// and type (including sizes no real tool would write), and gzip files that
// inflate to gigabytes while staying a few MiB on disk, built from repeated
// gzip members (gunzip reads concatenated members as one stream).
import { gzipSync } from 'node:zlib';

const BLOCK = 512;

export interface HeaderSpec {
  name: string;
  size: number;
  /** '0' file, '5' dir, 'L' GNU long name, 'x' pax header, ... */
  type?: string;
}

/** One ustar header block with a valid checksum. */
export function tarHeader(h: HeaderSpec): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name.slice(0, 100), 0, 'utf8');
  b.write('0000644\0', 100, 'ascii');
  b.write('0000000\0', 108, 'ascii');
  b.write('0000000\0', 116, 'ascii');
  b.write(`${h.size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  b.write('00000000000\0', 136, 'ascii');
  b.write(h.type ?? '0', 156, 'ascii');
  b.write('ustar\0', 257, 'ascii');
  b.write('00', 263, 'ascii');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return b;
}

/** Data padded to whole blocks. */
export function padded(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

export function file(name: string, content: string | Buffer): Buffer {
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return Buffer.concat([tarHeader({ name, size: data.length }), padded(data)]);
}

/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

const MEMBER_BYTES = 64 * 1024 * 1024;
let zeroMember: Buffer | null = null;

/** Gzip members inflating to `bytes` zero bytes (a multiple of 64 MiB), ~1/1000 of that on disk. */
export function gzippedZeros(bytes: number): Buffer {
  zeroMember ??= gzipSync(Buffer.alloc(MEMBER_BYTES), { level: 9 });
  const n = Math.ceil(bytes / MEMBER_BYTES);
  return Buffer.concat(Array.from({ length: n }, () => zeroMember!));
}

export function gz(data: Buffer): Buffer {
  return gzipSync(data);
}
