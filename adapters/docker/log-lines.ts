// Byte-level framing for Docker log and progress streams.
//
// Chunks from a socket split frames and lines anywhere, including inside a UTF-8
// sequence. Lines are therefore cut on bytes (0x0A never occurs inside a multi-byte
// UTF-8 sequence) and decoded only once complete.

export type LogStream = 'stdout' | 'stderr';

export interface LogLine {
  stream: LogStream;
  text: string;
}

/** The agent's per-line cap (1 MiB): a line longer than that is cut into pieces. */
export const MAX_LINE_BYTES = 1 << 20;

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxLineBytes = MAX_LINE_BYTES) {
    if (!(maxLineBytes >= 4)) throw new RangeError('maxLineBytes must be at least 4');
  }

  push(chunk: Buffer): string[] {
    const out: string[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      this.append(chunk.subarray(start, end), out);
      if (nl === -1) break;
      out.push(this.take(this.size));
      start = nl + 1;
    }
    return out;
  }

  /** The unterminated rest, if any, as a last line. */
  flush(): string[] {
    return this.size > 0 ? [this.take(this.size)] : [];
  }

  private append(piece: Buffer, out: string[]): void {
    if (piece.length === 0) return;
    this.parts.push(piece);
    this.size += piece.length;
    while (this.size > this.maxLineBytes) {
      out.push(this.take(utf8Boundary(this.joined(), this.maxLineBytes), false));
    }
  }

  private joined(): Buffer {
    if (this.parts.length !== 1) this.parts = [Buffer.concat(this.parts, this.size)];
    return this.parts[0] ?? Buffer.alloc(0);
  }

  /** Removes the first `n` buffered bytes and returns them as a line. */
  private take(n: number, stripCr = true): string {
    const all = this.joined();
    let line = all.subarray(0, n);
    const rest = all.subarray(n);
    this.parts = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    if (stripCr && line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    return line.toString('utf8');
  }
}

/** The largest cut ≤ limit that does not split a UTF-8 sequence (`buf` extends past limit). */
function utf8Boundary(buf: Buffer, limit: number): number {
  // buf[cut] is the first byte after the cut; a continuation byte (10xxxxxx) there
  // means the cut is inside a sequence, so step back (at most 3 bytes) to its start.
  let cut = limit;
  for (let i = 0; i < 4; i++) {
    if (((buf[cut] ?? 0) & 0xc0) !== 0x80) return cut;
    cut--;
  }
  return limit; // not UTF-8 anyway
}

export interface DemuxPiece {
  stream: LogStream;
  payload: Buffer;
}

/**
 * Docker's multiplexed stream format for non-TTY containers: frames of an 8-byte
 * header `[stream, 0, 0, 0, size(uint32 BE)]` and `size` payload bytes. Payload is
 * passed on as it arrives rather than per whole frame, so large frames need no
 * buffering (the line splitter joins the pieces).
 */
export class DockerDemuxer {
  private header = Buffer.alloc(0);
  private remaining = 0;
  private current: LogStream = 'stdout';
  private raw = false;

  push(chunk: Buffer): DemuxPiece[] {
    const out: DemuxPiece[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.raw) {
        out.push({ stream: 'stdout', payload: chunk.subarray(at) });
        break;
      }
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - at);
        out.push({ stream: this.current, payload: chunk.subarray(at, at + n) });
        this.remaining -= n;
        at += n;
        continue;
      }
      const need = 8 - this.header.length;
      this.header = Buffer.concat([this.header, chunk.subarray(at, at + need)]);
      at += Math.min(need, chunk.length - at);
      if (this.header.length < 8) break;
      const kind = this.header[0];
      if ((kind !== 0 && kind !== 1 && kind !== 2) || this.header[1] !== 0 || this.header[2] !== 0 || this.header[3] !== 0) {
        // Not a frame header: the stream was not multiplexed after all (a TTY
        // container). Pass everything through, header bytes included, as stdout.
        this.raw = true;
        out.push({ stream: 'stdout', payload: this.header });
        this.header = Buffer.alloc(0);
        continue;
      }
      this.current = kind === 2 ? 'stderr' : 'stdout';
      this.remaining = this.header.readUInt32BE(4);
      this.header = Buffer.alloc(0);
    }
    return out.filter((p) => p.payload.length > 0);
  }
}
