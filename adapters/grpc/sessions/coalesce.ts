// Gathers what a socket delivers in one turn of the event loop into one
// packet payload. A bulk transfer reads many 64 KiB chunks per turn (libuv
// reads until the kernel buffer is empty); each chunk as its own gRPC message
// costs a message's worth of framing, events and allocations on every hop
// (measured: README "Benchmarks"). Interactive traffic is not delayed: the
// batch goes out at the end of the same turn (setImmediate), and at once when
// it reaches `maxBytes`.
//
// Only for byte streams (`tcp`): hoop's gateway reads the database protocols
// (postgres, mysql, mssql, mongodb) one packet per protocol message.

export class ReadCoalescer {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private scheduled: NodeJS.Immediate | null = null;

  constructor(
    private readonly emit: (payload: Buffer) => void,
    private readonly maxBytes: number,
  ) {
    if (!(maxBytes > 0)) throw new RangeError(`ReadCoalescer: maxBytes must be positive, got ${maxBytes}`);
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= this.maxBytes) this.flush();
    else this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Emits what is pending now (before a close packet, so no byte is overtaken). */
  flush(): void {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    if (this.bytes === 0) return;
    const payload = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
    this.chunks = [];
    this.bytes = 0;
    this.emit(payload);
  }

  /** Drops what is pending (the connection is gone). */
  discard(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    this.chunks = [];
    this.bytes = 0;
  }
}
