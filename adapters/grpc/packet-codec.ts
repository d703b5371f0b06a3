// Protobuf encoding of hoop's transport messages, written by hand for the
// four small messages of proto/transport.proto. Why not proto-loader at run
// time: the .proto file would have to ship next to the compiled code (and be
// found from dist/ and from a single executable), and the relay's hot path
// wants payloads as zero-copy slices of the received frame. A spec test holds
// these bytes against proto-loader's reading of proto/transport.proto.
//
// Decoding never throws on hostile input: it returns an error naming what was
// wrong, which grpc-js turns into an INTERNAL status for that message.

/** One `protobuf.Packet`. Spec keys map to raw bytes, as on the wire. */
export interface Packet {
  type: string;
  spec: Map<string, Buffer>;
  payload: Buffer;
  /** Field 1, unused by hoop; kept so a relay can pass it through. */
  component?: string;
}

export interface PreConnectRequest {
  name: string;
  type: string;
  subtype: string;
  command: string[];
  envs: Map<string, string>;
  reviewers: string[];
  redactTypes: string[];
}

export interface PreConnectResponse {
  status: string;
  message: string;
}

export interface HealthCheckResponse {
  status: string;
}

export class ProtoDecodeError extends Error {
  override readonly name = 'ProtoDecodeError';
}

const EMPTY: Buffer = Buffer.alloc(0);

export function packet(type: string, spec: Iterable<[string, Buffer]> = [], payload: Buffer = EMPTY): Packet {
  return { type, spec: new Map(spec), payload };
}

// ---------------------------------------------------------------- encoding

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

class Writer {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.offset++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.offset++] = n;
  }

  bytes(tag: number, data: Buffer): void {
    this.buf[this.offset++] = tag;
    this.varint(data.length);
    data.copy(this.buf, this.offset);
    this.offset += data.length;
  }

  string(tag: number, text: string, byteLength: number): void {
    this.buf[this.offset++] = tag;
    this.varint(byteLength);
    this.offset += this.buf.write(text, this.offset, byteLength, 'utf8');
  }
}

/** Size of a length-delimited field with a one-byte tag. */
function fieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

export function encodePacket(p: Packet): Buffer {
  const component = p.component ?? '';
  const componentLen = Buffer.byteLength(component);
  const typeLen = Buffer.byteLength(p.type);
  let size = (componentLen ? fieldSize(componentLen) : 0) + (typeLen ? fieldSize(typeLen) : 0) + (p.payload.length ? fieldSize(p.payload.length) : 0);
  const entries: Array<[string, number, Buffer, number]> = [];
  for (const [key, value] of p.spec) {
    const keyLen = Buffer.byteLength(key);
    // Map entries always carry key and value, as protobuf encoders write them.
    const entryLen = fieldSize(keyLen) + fieldSize(value.length);
    entries.push([key, keyLen, value, entryLen]);
    size += fieldSize(entryLen);
  }
  const w = new Writer(Buffer.allocUnsafe(size));
  if (componentLen) w.string(0x0a, component, componentLen);
  if (typeLen) w.string(0x12, p.type, typeLen);
  for (const [key, keyLen, value, entryLen] of entries) {
    w.buf[w.offset++] = 0x1a;
    w.varint(entryLen);
    w.string(0x0a, key, keyLen);
    w.bytes(0x12, value);
  }
  if (p.payload.length) w.bytes(0x22, p.payload);
  return w.buf;
}

function encodeStrings(fields: Array<[number, string]>): Buffer {
  const parts = fields.filter(([, s]) => s !== '').map(([n, s]) => [n, s, Buffer.byteLength(s)] as const);
  const w = new Writer(Buffer.allocUnsafe(parts.reduce((sum, [, , len]) => sum + fieldSize(len), 0)));
  for (const [n, s, len] of parts) w.string((n << 3) | 2, s, len);
  return w.buf;
}

export function encodeHealthCheckResponse(m: HealthCheckResponse): Buffer {
  return encodeStrings([[1, m.status]]);
}

export function encodePreConnectResponse(m: PreConnectResponse): Buffer {
  return encodeStrings([
    [1, m.status],
    [2, m.message],
  ]);
}

export function encodePreConnectRequest(m: PreConnectRequest): Buffer {
  const chunks: Buffer[] = [encodeStrings([[1, m.name], [2, m.type], [3, m.subtype]])];
  for (const c of m.command) chunks.push(encodeRepeated(4, c));
  for (const [k, v] of m.envs) {
    const entry = Buffer.concat([encodeRepeated(1, k), encodeRepeated(2, v)]);
    const w = new Writer(Buffer.allocUnsafe(fieldSize(entry.length)));
    w.bytes((5 << 3) | 2, entry);
    chunks.push(w.buf);
  }
  for (const r of m.reviewers) chunks.push(encodeRepeated(6, r));
  for (const r of m.redactTypes) chunks.push(encodeRepeated(7, r));
  return Buffer.concat(chunks);
}

/** A string field written even when empty (repeated elements and map entries). */
function encodeRepeated(n: number, s: string): Buffer {
  const len = Buffer.byteLength(s);
  const w = new Writer(Buffer.allocUnsafe(fieldSize(len)));
  w.string((n << 3) | 2, s, len);
  return w.buf;
}

// ---------------------------------------------------------------- decoding

class Reader {
  offset: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.offset = start;
  }

  get done(): boolean {
    return this.offset >= this.end;
  }

  varint(what: string): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw new ProtoDecodeError(`${what}: truncated varint`);
      const b = this.buf[this.offset++]!;
      // Lengths and tags beyond 2^53 cannot address a Buffer anyway; keep the arithmetic exact below that.
      if (scale <= 2 ** 49) result += (b & 0x7f) * scale;
      else if ((b & 0x7f) !== 0) throw new ProtoDecodeError(`${what}: varint too large`);
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new ProtoDecodeError(`${what}: varint longer than 10 bytes`);
  }

  /** Start and end of a length-delimited field's content. */
  span(what: string): [number, number] {
    const len = this.varint(what);
    const start = this.offset;
    if (len > this.end - start) throw new ProtoDecodeError(`${what}: length ${len} runs past the end of the message`);
    this.offset = start + len;
    return [start, start + len];
  }

  skip(wireType: number, field: number): void {
    const what = `field ${field}`;
    switch (wireType) {
      case 0:
        // Negative int64 values take ten bytes: consume them without arithmetic.
        for (let i = 0; ; i++) {
          if (i === 10) throw new ProtoDecodeError(`${what}: varint longer than 10 bytes`);
          if (this.offset >= this.end) throw new ProtoDecodeError(`${what}: truncated varint`);
          if ((this.buf[this.offset++]! & 0x80) === 0) return;
        }
      case 1:
        this.advance(8, what);
        return;
      case 2:
        this.span(what);
        return;
      case 5:
        this.advance(4, what);
        return;
      default:
        throw new ProtoDecodeError(`${what}: unsupported wire type ${wireType}`);
    }
  }

  private advance(n: number, what: string): void {
    if (this.end - this.offset < n) throw new ProtoDecodeError(`${what}: truncated`);
    this.offset += n;
  }
}

/** Walks the fields of a message: `visit` returns false for fields it did not consume. */
function readFields(r: Reader, visit: (field: number, wireType: number) => boolean): void {
  while (!r.done) {
    const tag = r.varint('tag');
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 0) throw new ProtoDecodeError('field number 0 is invalid');
    // A known field with an unexpected wire type is skipped like an unknown one, as Go does.
    if (!visit(field, wireType)) r.skip(wireType, field);
  }
}

export function decodePacket(buf: Buffer): Packet {
  const r = new Reader(buf);
  const p: Packet = { type: '', spec: new Map(), payload: EMPTY };
  readFields(r, (field, wt) => {
    if (wt !== 2) return false;
    if (field === 1) {
      const [s, e] = r.span('component');
      p.component = buf.toString('utf8', s, e);
    } else if (field === 2) {
      const [s, e] = r.span('type');
      p.type = buf.toString('utf8', s, e);
    } else if (field === 3) {
      const [s, e] = r.span('spec entry');
      const entry = new Reader(buf, s, e);
      let key = '';
      let value = EMPTY;
      readFields(entry, (f, w) => {
        if (w !== 2 || (f !== 1 && f !== 2)) return false;
        const [vs, ve] = entry.span(f === 1 ? 'spec key' : 'spec value');
        if (f === 1) key = buf.toString('utf8', vs, ve);
        else value = buf.subarray(vs, ve);
        return true;
      });
      p.spec.set(key, value);
    } else if (field === 4) {
      const [s, e] = r.span('payload');
      p.payload = buf.subarray(s, e);
    } else return false;
    return true;
  });
  return p;
}

function decodeStringFields<T extends Record<string, string>>(buf: Buffer, names: Record<number, keyof T>, init: T): T {
  const r = new Reader(buf);
  readFields(r, (field, wt) => {
    const name = names[field];
    if (wt !== 2 || name === undefined) return false;
    const [s, e] = r.span(String(name));
    (init as Record<keyof T, string>)[name] = buf.toString('utf8', s, e);
    return true;
  });
  return init;
}

export function decodeHealthCheckResponse(buf: Buffer): HealthCheckResponse {
  return decodeStringFields(buf, { 1: 'status' }, { status: '' });
}

export function decodePreConnectResponse(buf: Buffer): PreConnectResponse {
  return decodeStringFields(buf, { 1: 'status', 2: 'message' }, { status: '', message: '' });
}

export function decodePreConnectRequest(buf: Buffer): PreConnectRequest {
  const r = new Reader(buf);
  const m: PreConnectRequest = { name: '', type: '', subtype: '', command: [], envs: new Map(), reviewers: [], redactTypes: [] };
  const str = (what: string) => {
    const [s, e] = r.span(what);
    return buf.toString('utf8', s, e);
  };
  readFields(r, (field, wt) => {
    if (wt !== 2) return false;
    switch (field) {
      case 1:
        m.name = str('name');
        return true;
      case 2:
        m.type = str('type');
        return true;
      case 3:
        m.subtype = str('subtype');
        return true;
      case 4:
        m.command.push(str('command'));
        return true;
      case 5: {
        const [s, e] = r.span('envs entry');
        const entry = new Reader(buf, s, e);
        let key = '';
        let value = '';
        readFields(entry, (f, w) => {
          if (w !== 2 || (f !== 1 && f !== 2)) return false;
          const [vs, ve] = entry.span('envs entry');
          if (f === 1) key = buf.toString('utf8', vs, ve);
          else value = buf.toString('utf8', vs, ve);
          return true;
        });
        m.envs.set(key, value);
        return true;
      }
      case 6:
        m.reviewers.push(str('reviewers'));
        return true;
      case 7:
        m.redactTypes.push(str('redact_types'));
        return true;
      default:
        return false;
    }
  });
  return m;
}

/** HealthCheckRequest has no fields; any bytes are unknown fields, which protobuf ignores. */
export function decodeEmpty(buf: Buffer): Record<string, never> {
  readFields(new Reader(buf), () => false);
  return {};
}

export function encodeEmpty(): Buffer {
  return EMPTY;
}
