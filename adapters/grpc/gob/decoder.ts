// A generic decoder for Go's encoding/gob streams: it needs no Go types,
// because a gob stream defines every type it uses before using it. The
// behaviour follows Go's own decoder (encoding/gob decoder.go/decode.go) where
// the spec is silent: structs may end at the end of their message without a
// terminator, type definitions met inside an interface value may split the
// enclosing value across messages, and a value's unread tail is discarded.
//
// Totality: every read is bounded by the input, every loop consumes at least
// one byte per turn, nesting is capped for the JS stack, and the zero values
// filled in for absent struct fields are budgeted, so hostile input costs at
// most linear time and memory and fails with a GobDecodeError.

import { GobDecodeError } from './errors.js';
import { GobReader } from './reader.js';
import { BASIC_TYPES, BOOTSTRAP_TYPES, FIRST_USER_TYPE_ID, TypeId, wireTypeToGobType, type GobType } from './types.js';
import { GobComplex, setOwn, type GobObject, type GobValue } from './values.js';

export interface GobDecodeOptions {
  /** Deepest nesting of composite values. Go has no such limit; the JS stack does. */
  maxDepth?: number;
  /**
   * How many absent struct fields may be filled with zero values, on top of one
   * per input byte. A 1-byte empty struct of a 10 000-field type would otherwise
   * turn a small input into millions of properties.
   */
  maxZeroFills?: number;
}

export interface GobDecoded {
  readonly value: GobValue;
  /** The wire type of the top-level value, e.g. to check that it is a struct. */
  readonly type: GobType;
  /** The types the stream defined (and the basic ones), to check field types as Go's decoder does. */
  readonly typeOf: (id: number) => GobType | undefined;
}

const DEFAULT_MAX_DEPTH = 500;
const DEFAULT_MAX_ZERO_FILLS = 100_000;
const MAX_TYPE_ID = 2 ** 31 - 1;
const MAX_INTERFACE_NAME = 1024; // Go's limit

/** Decodes the first value of a gob stream. Like Go's Decoder.Decode, anything after it is ignored. */
export function decodeGob(bytes: Uint8Array, options: GobDecodeOptions = {}): GobValue {
  return decodeGobTyped(bytes, options).value;
}

export function decodeGobTyped(bytes: Uint8Array, options: GobDecodeOptions = {}): GobDecoded {
  const decoder = new StreamDecoder(bytes, options);
  return guarded(decoder, () => decoder.next() ?? decoder.fail('a gob value', 'empty input'));
}

/** Decodes every value of a stream, sharing type definitions between them as Go does. */
export function decodeGobStream(bytes: Uint8Array, options: GobDecodeOptions = {}): GobValue[] {
  const decoder = new StreamDecoder(bytes, options);
  return guarded(decoder, () => {
    const out: GobValue[] = [];
    for (let item = decoder.next(); item; item = decoder.next()) out.push(item.value);
    return out;
  });
}

export type GobResult<T> = { ok: true; value: T } | { ok: false; error: GobDecodeError };

export function tryDecodeGob(bytes: Uint8Array, options: GobDecodeOptions = {}): GobResult<GobDecoded> {
  try {
    return { ok: true, value: decodeGobTyped(bytes, options) };
  } catch (error) {
    if (error instanceof GobDecodeError) return { ok: false, error };
    throw error; // unreachable: guarded() converts everything
  }
}

/** The promise of totality: nothing but a GobDecodeError leaves the decoder. */
function guarded<T>(decoder: StreamDecoder, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof GobDecodeError) throw error;
    // A stack overflow or allocation failure despite the guards, or a bug: still the caller's bad input.
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new GobDecodeError(decoder.offset, 'input the decoder can handle', detail, 'internal');
  }
}

class StreamDecoder {
  private readonly reader: GobReader;
  private readonly types = new Map<number, GobType>();
  private readonly maxDepth: number;
  private zeroFillsLeft: number;
  /** True while decoding a type definition, the only time ids 16-24 are legal. */
  private bootstrapping = false;

  constructor(bytes: Uint8Array, options: GobDecodeOptions) {
    this.reader = new GobReader(bytes);
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.zeroFillsLeft = (options.maxZeroFills ?? DEFAULT_MAX_ZERO_FILLS) + bytes.length;
  }

  get offset(): number {
    return this.reader.offset;
  }

  fail(expected: string, detail = '', at = this.reader.offset): never {
    return this.reader.fail(expected, detail, at);
  }

  private limit(expected: string, detail: string): never {
    throw new GobDecodeError(this.reader.offset, expected, detail, 'limit');
  }

  /** One top-level value, or undefined at a clean end of input (Go's io.EOF). */
  next(): GobDecoded | undefined {
    this.reader.dropRestOfMessage();
    if (this.reader.atEndOfInput) return undefined;
    const id = this.typeSequence(false);
    const type = this.resolve(id, this.reader.offset);
    const typeOf = (t: number): GobType | undefined => this.types.get(t) ?? BASIC_TYPES.get(t);
    return { value: this.value(id, type, 0), type, typeOf };
  }

  /**
   * Reads type definitions until a value's type id. Inside an interface, Go's
   * encoder flushes the enclosing message after each new definition, so the
   * next message header (or, when nested, an inline length) follows it.
   */
  private typeSequence(inInterface: boolean): number {
    for (;;) {
      if (this.reader.messageRemaining === 0) this.reader.nextMessage();
      const at = this.reader.offset;
      const id = this.reader.int('type id');
      if (typeof id === 'bigint' || Math.abs(id) > MAX_TYPE_ID) this.fail('a type id (int32)', `got ${id}`, at);
      if (id >= 0) return id;
      this.defineType(-id, at);
      if (this.reader.messageRemaining > 0) {
        if (!inInterface) this.fail('end of message after a type definition', 'extra data in message');
        this.reader.count('length of the value after a type definition');
      }
    }
  }

  private defineType(id: number, at: number): void {
    if (id < FIRST_USER_TYPE_ID) this.fail(`a type id >= ${FIRST_USER_TYPE_ID} to define`, `definition of reserved id ${id}`, at);
    if (this.types.has(id)) this.fail('a new type id', `duplicate definition of type ${id}`, at);
    this.bootstrapping = true;
    let wire: GobValue;
    try {
      wire = this.value(TypeId.wireType, this.resolve(TypeId.wireType, at), 0);
    } finally {
      this.bootstrapping = false;
    }
    this.types.set(id, wireTypeToGobType(wire, at));
  }

  private resolve(id: number, at: number): GobType {
    const type = this.types.get(id) ?? BASIC_TYPES.get(id) ?? (this.bootstrapping ? BOOTSTRAP_TYPES.get(id) : undefined);
    return type ?? this.fail('a defined type id', `type ${id} is not defined`, at);
  }

  /** A value as Encode sends it, or as an interface carries it: structs bare, anything else after a 0 delta. */
  private value(id: number, type: GobType, depth: number): GobValue {
    if (type.kind === 'struct') return this.struct(type, depth);
    const at = this.reader.offset;
    const delta = this.reader.count('singleton field delta');
    if (delta !== 0) this.fail('singleton field delta 0', `got ${delta} for type ${id}`, at);
    return this.typed(type, depth);
  }

  private typed(type: GobType, depth: number): GobValue {
    const r = this.reader;
    switch (type.kind) {
      case 'bool':
        return r.uint('bool') !== 0; // Go treats any non-zero as true
      case 'int':
        return r.int('int');
      case 'uint':
        return r.uint('uint');
      case 'float':
        return r.float('float');
      case 'complex':
        return new GobComplex(r.float('complex real part'), r.float('complex imaginary part'));
      case 'bytes':
        return r.byteString('[]byte');
      case 'string':
        return r.string('string');
      case 'opaque':
        return r.byteString(`${type.via} payload of ${type.name}`);
      case 'interface':
        return this.interface(this.deeper(depth));
      case 'array': {
        const at = r.offset;
        const n = r.count('array length');
        if (n !== type.len) this.fail(`array length ${type.len}`, `got ${n}`, at);
        return this.elements(n, type.elem, this.deeper(depth));
      }
      case 'slice':
        return this.elements(this.boundedCount('slice length'), type.elem, this.deeper(depth));
      case 'map':
        return this.map(type.key, type.elem, this.deeper(depth));
      case 'struct':
        return this.struct(type, this.deeper(depth));
    }
  }

  private deeper(depth: number): number {
    if (depth >= this.maxDepth) this.limit(`nesting at most ${this.maxDepth} deep`, 'value nested deeper');
    return depth + 1;
  }

  /** Every element costs at least one byte, so a count beyond the input is a lie we can reject up front. */
  private boundedCount(what: string): number {
    const at = this.reader.offset;
    const n = this.reader.count(what);
    if (n > this.reader.inputRemaining) this.fail(what, `${n} elements but ${this.reader.inputRemaining} bytes left`, at);
    return n;
  }

  private elements(n: number, elemId: number, depth: number): GobValue[] {
    const elem = this.resolve(elemId, this.reader.offset);
    const out: GobValue[] = [];
    for (let i = 0; i < n; i++) {
      if (this.reader.messageRemaining === 0) this.fail(`element ${i} of ${n}`, 'end of message');
      out.push(this.typed(elem, depth));
    }
    return out;
  }

  private map(keyId: number, elemId: number, depth: number): GobValue {
    const n = this.boundedCount('map length');
    const key = this.resolve(keyId, this.reader.offset);
    const elem = this.resolve(elemId, this.reader.offset);
    // Go also leaves the loop bound to the input only implicitly; an empty-struct key would spin without this check.
    const next = (i: number): [GobValue, GobValue] => {
      if (this.reader.messageRemaining === 0) this.fail(`map entry ${i} of ${n}`, 'end of message');
      return [this.typed(key, depth), this.typed(elem, depth)];
    };
    if (key.kind === 'string') {
      const out: GobObject = {};
      for (let i = 0; i < n; i++) {
        const [k, v] = next(i);
        setOwn(out, k as string, v);
      }
      return out;
    }
    const out = new Map<GobValue, GobValue>();
    for (let i = 0; i < n; i++) out.set(...next(i));
    return out;
  }

  private struct(type: Extract<GobType, { kind: 'struct' }>, depth: number): GobObject {
    const r = this.reader;
    const { fields } = type;
    const present: [number, GobValue][] = [];
    let fieldnum = -1;
    // Go's decodeStruct stops at the end of the message as well as at a 0 delta.
    while (r.messageRemaining > 0) {
      const at = r.offset;
      const delta = r.count('struct field delta');
      if (delta === 0) break;
      if (delta >= fields.length - fieldnum) {
        this.fail(`a field of ${type.name || 'struct'} (${fields.length} fields)`, `field number ${fieldnum + delta}`, at);
      }
      fieldnum += delta;
      const field = fields[fieldnum] as (typeof fields)[number];
      present.push([fieldnum, this.typed(this.resolve(field.id, at), depth)]);
    }
    const absent = fields.length - present.length;
    if (absent > this.zeroFillsLeft) this.limit('fewer absent struct fields', `${type.name} would need zero values beyond the budget`);
    this.zeroFillsLeft -= absent;
    const out: GobObject = {};
    let p = 0;
    fields.forEach((field, i) => {
      const hit = present[p];
      if (hit && hit[0] === i) {
        p++;
        setOwn(out, field.name, hit[1]);
      } else {
        setOwn(out, field.name, this.zero(field.id));
      }
    });
    return out;
  }

  /**
   * What an absent field means. Go omits zero scalars, empty slices, nil maps
   * and nil pointers, but always sends non-pointer structs, non-nil maps and
   * non-empty arrays, so absent structs and maps were nil.
   */
  private zero(id: number): GobValue {
    const type = this.resolve(id, this.reader.offset);
    switch (type.kind) {
      case 'bool':
        return false;
      case 'int':
      case 'uint':
      case 'float':
        return 0;
      case 'complex':
        return new GobComplex(0, 0);
      case 'bytes':
        return new Uint8Array(0);
      case 'string':
        return '';
      case 'slice':
        return [];
      case 'array':
        return type.len === 0 ? [] : null;
      case 'interface':
      case 'map':
      case 'struct':
      case 'opaque':
        return null;
    }
  }

  private interface(depth: number): GobValue {
    const r = this.reader;
    const at = r.offset;
    const nameLength = r.count('interface type name length');
    if (nameLength > r.messageRemaining) this.fail('interface type name', `length ${nameLength} exceeds the message`, at);
    if (nameLength === 0) return null; // nil interface
    if (nameLength > MAX_INTERFACE_NAME) this.fail('interface type name', `name of ${nameLength} bytes is too long`, at);
    r.skip(nameLength, 'interface type name');
    const id = this.typeSequence(true);
    const type = this.resolve(id, r.offset);
    r.count('interface value length'); // only there for decoders that skip the value; Go ignores it too
    return this.value(id, type, depth);
  }
}
