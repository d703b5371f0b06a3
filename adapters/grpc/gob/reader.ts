// A cursor over a gob stream. A stream is a run of length-prefixed messages;
// values are read inside the current message and may not run past its end,
// except where the decoder explicitly moves to the next message (between
// type definitions, as Go's decodeTypeSequence does). Every read is bounded by
// the input, so no length on the wire can make us allocate or loop beyond it.

import { GobDecodeError } from './errors.js';
import { narrow, wireUintToFloat, wireUintToInt } from './wire.js';

// ignoreBOM: a string that starts with U+FEFF keeps it, as Go's does (TextDecoder drops it by default).
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export class GobReader {
  private pos = 0;
  private end = 0;

  constructor(private readonly input: Uint8Array) {}

  get offset(): number {
    return this.pos;
  }

  get messageRemaining(): number {
    return this.end - this.pos;
  }

  /** Bytes left in the whole input: the cap for any count, since every element costs at least one byte. */
  get inputRemaining(): number {
    return this.input.length - this.pos;
  }

  get atEndOfInput(): boolean {
    return this.pos === this.end && this.end === this.input.length;
  }

  fail(expected: string, detail = '', at = this.pos): never {
    throw new GobDecodeError(at, expected, detail);
  }

  /** Opens the message that follows the current one. Only legal once the current one is used up. */
  nextMessage(): void {
    const at = this.end;
    if (at >= this.input.length) this.fail('message length', 'end of input', at);
    const [length, body] = this.parseUint(at, this.input.length, 'message length');
    const available = this.input.length - body;
    if (typeof length === 'bigint' || length > available) {
      this.fail('message length', `${length} bytes announced, ${available} left in input`, at);
    }
    this.pos = body;
    this.end = body + length;
  }

  /** Go's Decoder discards whatever a value left unread in its message. */
  dropRestOfMessage(): void {
    this.pos = this.end;
  }

  uint(what: string): number | bigint {
    const [value, next] = this.parseUint(this.pos, this.end, what);
    this.pos = next;
    return value;
  }

  /** A uint used as a length, count or delta: anything past 2^53 is already past the input. */
  count(what: string): number {
    const at = this.pos;
    const value = this.uint(what);
    if (typeof value === 'bigint') this.fail(what, `${value} is larger than any input`, at);
    return value;
  }

  int(what: string): number | bigint {
    const value = this.uint(what);
    if (typeof value === 'number') return value % 2 === 1 ? -(value - 1) / 2 - 1 : value / 2;
    return narrow(wireUintToInt(value));
  }

  float(what: string): number {
    return wireUintToFloat(BigInt(this.uint(what)));
  }

  /** Length-prefixed bytes, copied so the result does not pin the input. */
  byteString(what: string): Uint8Array {
    const at = this.pos;
    const n = this.count(`${what} length`);
    if (n > this.messageRemaining) this.fail(what, `length ${n} exceeds the ${this.messageRemaining} bytes left in the message`, at);
    const out = this.input.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Go strings are arbitrary bytes; invalid UTF-8 becomes U+FFFD, as Go's JSON encoder would do. */
  string(what: string): string {
    const at = this.pos;
    const n = this.count(`${what} length`);
    if (n > this.messageRemaining) this.fail(what, `length ${n} exceeds the ${this.messageRemaining} bytes left in the message`, at);
    const out = utf8.decode(this.input.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  skip(n: number, what: string): void {
    if (n > this.messageRemaining) this.fail(what, `${n} bytes needed, ${this.messageRemaining} left in the message`);
    this.pos += n;
  }

  private parseUint(at: number, limit: number, what: string): [number | bigint, number] {
    if (at >= limit) this.fail(what, 'end of message', at);
    const first = this.input[at] as number;
    if (first < 0x80) return [first, at + 1];
    const n = 256 - first;
    if (n > 8) this.fail(what, `invalid uint length byte 0x${first.toString(16)}`, at);
    if (at + 1 + n > limit) this.fail(what, `uint needs ${n} bytes, ${limit - at - 1} left`, at);
    if (n <= 6) {
      let v = 0;
      for (let i = 1; i <= n; i++) v = v * 256 + (this.input[at + i] as number);
      return [v, at + 1 + n];
    }
    let big = 0n;
    for (let i = 1; i <= n; i++) big = (big << 8n) | BigInt(this.input[at + i] as number);
    return [narrow(big), at + 1 + n];
  }
}
