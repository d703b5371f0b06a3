// Terminal output as the studio's frontend receives it: text chunks of at
// most 32 KiB (the Reagent's read buffer), never ending inside a UTF-8
// sequence: the bytes of a character split across two reads are held back
// until the rest arrives (the Reagent's device pty does the same). Text,
// not bytes: the studio's autobahn JSON serializer has no binary type.
// Invalid bytes become U+FFFD, as a terminal would show them.

/** The Reagent's chunk size for terminal output. */
export const TERMINAL_CHUNK_BYTES = 32 * 1024;

export class Utf8Chunker {
  private held: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes: number = TERMINAL_CHUNK_BYTES) {
    if (!(maxBytes >= 4)) throw new RangeError(`Utf8Chunker: maxBytes must be at least 4, got ${maxBytes}`);
  }

  /** The chunks that are complete now; an incomplete character at the end waits for the next push. */
  push(data: Buffer): string[] {
    const all = this.held.length === 0 ? data : Buffer.concat([this.held, data]);
    const keep = incompleteTail(all);
    this.held = Buffer.from(all.subarray(all.length - keep));
    return split(all.subarray(0, all.length - keep), this.maxBytes);
  }

  /** The end of the stream: what was held back goes out as it is. */
  end(): string[] {
    const rest = this.held;
    this.held = Buffer.alloc(0);
    return split(rest, this.maxBytes);
  }
}

/** Splits at character boundaries into pieces of at most `max` bytes. */
function split(buf: Buffer, max: number): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < buf.length) {
    let end = Math.min(start + max, buf.length);
    // Back off continuation bytes so a character is never cut (at most 3 steps for valid UTF-8).
    if (end < buf.length) {
      let back = end;
      while (back > start && back > end - 4 && isContinuation(buf[back]!)) back--;
      if (back > start && back > end - 4) end = back;
    }
    out.push(buf.toString('utf8', start, end));
    start = end;
  }
  return out;
}

function isContinuation(b: number): boolean {
  return (b & 0xc0) === 0x80;
}

/** How many bytes at the end of `buf` start a character whose remaining bytes have not arrived. */
export function incompleteTail(buf: Buffer): number {
  const n = buf.length;
  for (let i = 1; i <= Math.min(3, n); i++) {
    const b = buf[n - i]!;
    if (isContinuation(b)) continue;
    const need = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 1;
    return need > i ? i : 0;
  }
  return 0;
}
