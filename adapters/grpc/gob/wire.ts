// Gob's number encodings, shared by the reader and the writer. Every integer
// on the wire is an unsigned varint of gob's own kind: one byte below 128,
// otherwise a byte holding the negated byte count followed by that many
// big-endian bytes. Signed ints fold the sign into the low bit; floats are
// sent as their IEEE bits with the bytes reversed so that small exponents,
// which live in the high bytes, become the cheap low bytes.

export const MAX_UINT64 = (1n << 64n) - 1n;
export const MIN_INT64 = -(1n << 63n);
export const MAX_INT64 = (1n << 63n) - 1n;

const scratch = new DataView(new ArrayBuffer(8));

/** IEEE bits of a float64, byte-reversed, as gob transmits them. */
export function floatToWireUint(x: number): bigint {
  scratch.setFloat64(0, x, false);
  return scratch.getBigUint64(0, true);
}

export function wireUintToFloat(u: bigint): number {
  scratch.setBigUint64(0, u, true);
  return scratch.getFloat64(0, false);
}

/** Zig-zag as gob does it: the low bit is the sign, the rest is x or its complement. */
export function intToWireUint(x: bigint): bigint {
  return x < 0n ? ((~x) << 1n) | 1n : x << 1n;
}

export function wireUintToInt(u: bigint): bigint {
  return (u & 1n) === 1n ? ~(u >> 1n) : u >> 1n;
}

/** Numbers that JS can hold exactly stay numbers; the rest become bigint. */
export function narrow(x: bigint): number | bigint {
  return x >= -BigInt(Number.MAX_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
}

const utf8 = new TextEncoder();

/** A growable byte buffer with gob's primitive writers. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  get length(): number {
    return this.len;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  uint(x: number | bigint): void {
    if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) {
      this.smallUint(x);
      return;
    }
    const v = BigInt(x);
    if (v < 0n || v > MAX_UINT64) throw new RangeError(`uint out of range: ${v}`);
    const digits: number[] = [];
    for (let r = v; r > 0n; r >>= 8n) digits.unshift(Number(r & 0xffn));
    this.byte(256 - digits.length);
    for (const d of digits) this.byte(d);
  }

  /** The common case without BigInt: lengths, counts, deltas and type ids. */
  private smallUint(x: number): void {
    if (x < 128) {
      this.byte(x);
      return;
    }
    let n = 0;
    for (let r = x; r > 0; r = Math.floor(r / 256)) n++;
    this.reserve(n + 1);
    this.buf[this.len] = 256 - n;
    for (let i = n, r = x; i > 0; i--, r = Math.floor(r / 256)) this.buf[this.len + i] = r % 256;
    this.len += n + 1;
  }

  int(x: number | bigint): void {
    if (typeof x === 'number' && Number.isSafeInteger(x) && Math.abs(x) <= 2 ** 51) {
      this.smallUint(x < 0 ? -2 * x - 1 : 2 * x);
      return;
    }
    const v = BigInt(x);
    if (v < MIN_INT64 || v > MAX_INT64) throw new RangeError(`int out of range: ${v}`);
    this.uint(intToWireUint(v));
  }

  float(x: number): void {
    this.uint(floatToWireUint(x));
  }

  /** Length-prefixed bytes: gob's encoding of both []byte and string. */
  byteString(bytes: Uint8Array): void {
    this.uint(bytes.length);
    this.raw(bytes);
  }

  string(s: string): void {
    // Most wire strings are ASCII; TextEncoder costs more than the copy for them.
    const n = s.length;
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 0x7f) {
        this.byteString(utf8.encode(s));
        return;
      }
    }
    this.smallUint(n);
    this.reserve(n);
    for (let i = 0; i < n; i++) this.buf[this.len + i] = s.charCodeAt(i);
    this.len += n;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
