// A schema-driven gob encoder. JS values carry no Go types, so the caller
// describes them; the output is what Go's Encoder would send for the Go type
// the schema describes: type ids assigned in Go's order (structs before their
// fields, slices and maps after their elements), one message per type
// definition in Go's order, zero-valued struct fields omitted, nil maps
// omitted but empty ones sent. Interface values are limited to basic types,
// which need no type definition inside the value.

import { GobEncodeError } from './errors.js';
import { FIRST_USER_TYPE_ID, TypeId } from './types.js';
import { ByteWriter, MAX_INT64, MAX_UINT64, MIN_INT64 } from './wire.js';

export type GobBasicSchema = { readonly kind: 'bool' | 'int' | 'uint' | 'float' | 'string' | 'bytes' | 'interface' };

/** `name` is the CommonType name Go would send: the Go type name, or its type string for unnamed field types, or "" at top level. */
export type GobSchema =
  | GobBasicSchema
  | { readonly kind: 'slice'; readonly name: string; readonly elem: GobSchema }
  | { readonly kind: 'map'; readonly name: string; readonly key: GobSchema; readonly elem: GobSchema }
  | GobStructSchema;

export interface GobStructSchema {
  readonly kind: 'struct';
  readonly name: string;
  readonly fields: readonly { readonly name: string; readonly type: GobSchema }[];
}

/** Values the encoder accepts; null/undefined mean Go's zero value (nil for maps, pointers and interfaces). */
export type GobInput =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | readonly GobInput[]
  | ReadonlyMap<GobInput, GobInput>
  | { readonly [field: string]: GobInput };

type Composite = Exclude<GobSchema, GobBasicSchema>;

const BASIC_IDS: Record<GobBasicSchema['kind'], number> = {
  bool: TypeId.bool,
  int: TypeId.int,
  uint: TypeId.uint,
  float: TypeId.float,
  string: TypeId.string,
  bytes: TypeId.bytes,
  interface: TypeId.interface,
};

/** Encodes one value as a complete stream: its type definitions, then the value message. */
export function encodeGob(schema: GobSchema, value: GobInput): Uint8Array {
  if (schema.kind === 'struct' && (value === null || value === undefined)) {
    throw new GobEncodeError('', 'cannot encode a nil struct pointer'); // as Go's EncodeValue refuses
  }
  const ids = new TypeIds();
  const topId = ids.of(schema);
  const out = new ByteWriter();
  const sent = new Set<number>();
  sendType(schema, ids, sent, out);

  const body = new ByteWriter();
  body.int(topId);
  if (schema.kind === 'struct') {
    writeStruct(body, schema, value, ids);
  } else {
    body.byte(0); // singleton: no enclosing struct, so a 0 delta frames it
    writeValue(body, schema, value, ids);
  }
  frame(out, body);
  return out.finish();
}

/** Structural keys, so the three []string fields of a struct share one id as they do in Go. */
function keyOf(schema: GobSchema): string {
  switch (schema.kind) {
    case 'slice':
      return `[]${keyOf(schema.elem)}`;
    case 'map':
      return `map[${keyOf(schema.key)}]${keyOf(schema.elem)}`;
    case 'struct':
      return `struct ${schema.name}`;
    default:
      return schema.kind;
  }
}

class TypeIds {
  private readonly ids = new Map<string, number>();
  private next = FIRST_USER_TYPE_ID + 1; // Go's first user type gets 65

  of(schema: GobSchema): number {
    if (schema.kind !== 'slice' && schema.kind !== 'map' && schema.kind !== 'struct') return BASIC_IDS[schema.kind];
    const key = keyOf(schema);
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    if (schema.kind === 'struct') {
      // Go numbers a struct before its fields, which also lets a struct refer to itself.
      this.ids.set(key, this.next++);
      for (const f of schema.fields) this.of(f.type);
    } else {
      if (schema.kind === 'map') this.of(schema.key);
      this.of(schema.elem);
      this.ids.set(key, this.next++);
    }
    return this.ids.get(key) as number;
  }
}

function frame(out: ByteWriter, body: ByteWriter): void {
  out.uint(body.length);
  out.raw(body.finish());
}

/** Go's sendType: a definition, then the definitions of its parts, depth first. */
function sendType(schema: GobSchema, ids: TypeIds, sent: Set<number>, out: ByteWriter): void {
  if (schema.kind !== 'slice' && schema.kind !== 'map' && schema.kind !== 'struct') return;
  const id = ids.of(schema);
  if (sent.has(id)) return;
  sent.add(id);
  const body = new ByteWriter();
  body.int(-id);
  writeWireType(body, schema, id, ids);
  frame(out, body);
  const parts = schema.kind === 'struct' ? schema.fields.map((f) => f.type) : schema.kind === 'map' ? [schema.key, schema.elem] : [schema.elem];
  for (const part of parts) sendType(part, ids, sent, out);
}

type FieldWriter = ((w: ByteWriter) => void) | null;

/** A struct with gob's field deltas; null entries are zero fields and are skipped. */
function fields(w: ByteWriter, list: readonly FieldWriter[]): void {
  let last = -1;
  list.forEach((write, i) => {
    if (!write) return;
    w.uint(i - last);
    write(w);
    last = i;
  });
  w.byte(0);
}

function writeWireType(w: ByteWriter, schema: Composite, id: number, ids: TypeIds): void {
  const commonType: FieldWriter = (c) => fields(c, [schema.name ? (n) => n.string(schema.name) : null, (n) => n.int(id)]);
  const typeId = (s: GobSchema): FieldWriter => (x) => x.int(ids.of(s));
  // wireType's fields: ArrayT, SliceT, StructT, MapT, GobEncoderT, BinaryMarshalerT, TextMarshalerT.
  switch (schema.kind) {
    case 'slice':
      fields(w, [null, (s) => fields(s, [commonType, typeId(schema.elem)])]);
      return;
    case 'map':
      fields(w, [null, null, null, (m) => fields(m, [commonType, typeId(schema.key), typeId(schema.elem)])]);
      return;
    case 'struct': {
      const fieldList: FieldWriter =
        schema.fields.length === 0
          ? null
          : (l) => {
              l.uint(schema.fields.length);
              for (const f of schema.fields) fields(l, [f.name ? (n) => n.string(f.name) : null, typeId(f.type)]);
            };
      fields(w, [null, null, (s) => fields(s, [commonType, fieldList])]);
      return;
    }
  }
}

function writeStruct(w: ByteWriter, schema: GobStructSchema, value: GobInput, ids: TypeIds): void {
  if (!isRecord(value)) throw new GobEncodeError('', `expected an object for struct ${schema.name}`);
  fields(
    w,
    schema.fields.map(({ name, type }): FieldWriter => {
      const v = Object.hasOwn(value, name) ? value[name] : undefined;
      return isZero(type, v) ? null : (x) => within(`.${name}`, () => writeValue(x, type, v, ids));
    }),
  );
}

function within(step: string, write: () => void): void {
  try {
    write();
  } catch (e) {
    throw e instanceof GobEncodeError ? e.under(step) : e;
  }
}

/** Go's encoder skips these inside a struct; elsewhere they are sent. */
function isZero(schema: GobSchema, v: GobInput): boolean {
  if (v === null || v === undefined) return true;
  switch (schema.kind) {
    case 'bool':
      return v === false;
    case 'int':
    case 'uint':
    case 'float':
      return v === 0 || v === 0n; // -0 too, as in Go
    case 'string':
      return v === '';
    case 'bytes':
    case 'slice':
      return (v instanceof Uint8Array || Array.isArray(v)) && v.length === 0;
    default:
      return false; // non-nil maps, structs and interfaces are sent even when empty
  }
}

function bad(what: string, v: GobInput): never {
  throw new GobEncodeError('', `expected ${what}, got ${describe(v)}`);
}

function writeValue(w: ByteWriter, schema: GobSchema, v: GobInput, ids: TypeIds): void {
  switch (schema.kind) {
    case 'bool':
      return typeof v === 'boolean' ? w.uint(v ? 1 : 0) : bad('a boolean', v);
    case 'int':
      return w.int(integer(v, MIN_INT64, MAX_INT64) ?? bad('an int64', v));
    case 'uint':
      return w.uint(integer(v, 0n, MAX_UINT64) ?? bad('a uint64', v));
    case 'float':
      return typeof v === 'number' ? w.float(v) : bad('a number', v);
    case 'string':
      return typeof v === 'string' ? w.string(v) : bad('a string', v);
    case 'bytes':
      return v instanceof Uint8Array ? w.byteString(v) : bad('a Uint8Array', v);
    case 'interface':
      return writeInterface(w, v);
    case 'slice': {
      if (!Array.isArray(v)) return bad('an array', v);
      const list = v as readonly GobInput[];
      w.uint(list.length);
      for (let i = 0; i < list.length; i++) {
        const item = list[i];
        try {
          if (schema.elem.kind === 'struct' && (item === null || item === undefined)) {
            throw new GobEncodeError('', 'nil struct element'); // Go refuses too
          }
          writeValue(w, schema.elem, item, ids);
        } catch (e) {
          throw e instanceof GobEncodeError ? e.under(`[${i}]`) : e;
        }
      }
      return;
    }
    case 'map': {
      const entries = mapEntries(v, schema.key.kind === 'string') ?? bad('an object or Map', v);
      w.uint(entries.length);
      for (const [k, item] of entries) {
        try {
          writeValue(w, schema.key, k, ids);
          writeValue(w, schema.elem, item, ids);
        } catch (e) {
          throw e instanceof GobEncodeError ? e.under(`[${JSON.stringify(typeof k === 'bigint' ? String(k) : k)}]`) : e;
        }
      }
      return;
    }
    case 'struct':
      return writeStruct(w, schema, v, ids);
  }
}

/** A nil map inside a slice or map is sent as an empty one, as Go does. */
function mapEntries(v: GobInput, stringKeys: boolean): [GobInput, GobInput][] | undefined {
  if (v === null || v === undefined) return [];
  if (v instanceof Map) return [...(v as ReadonlyMap<GobInput, GobInput>).entries()];
  if (stringKeys && isRecord(v)) return Object.entries(v);
  return undefined;
}

/**
 * Basic values only; their concrete types are pre-registered in every Go
 * process under these names, and need no type definition in the stream.
 */
function writeInterface(w: ByteWriter, v: GobInput): void {
  const concrete = interfaceType(v);
  if (!concrete) throw new GobEncodeError('', `unsupported interface value ${describe(v)}`);
  if (concrete === 'nil') {
    w.uint(0);
    return;
  }
  const [name, id, write] = concrete;
  w.string(name);
  w.int(id);
  const value = new ByteWriter();
  value.byte(0); // an interface carries its value as a singleton
  write(value);
  w.uint(value.length);
  w.raw(value.finish());
}

function interfaceType(v: GobInput): 'nil' | [string, number, (w: ByteWriter) => void] | undefined {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return ['string', TypeId.string, (w) => w.string(v)];
  if (typeof v === 'boolean') return ['bool', TypeId.bool, (w) => w.uint(v ? 1 : 0)];
  if (v instanceof Uint8Array) return ['[]uint8', TypeId.bytes, (w) => w.byteString(v)];
  if (typeof v === 'number') {
    return Number.isSafeInteger(v) ? ['int', TypeId.int, (w) => w.int(v)] : ['float64', TypeId.float, (w) => w.float(v)];
  }
  if (typeof v === 'bigint') {
    if (v >= MIN_INT64 && v <= MAX_INT64) return ['int64', TypeId.int, (w) => w.int(v)];
    if (v >= 0n && v <= MAX_UINT64) return ['uint64', TypeId.uint, (w) => w.uint(v)];
  }
  return undefined;
}

function integer(v: GobInput, min: bigint, max: bigint): bigint | undefined {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) return undefined;
  if (typeof v !== 'number' && typeof v !== 'bigint') return undefined;
  const b = BigInt(v);
  return b >= min && b <= max ? b : undefined;
}

function isRecord(v: GobInput): v is { readonly [field: string]: GobInput } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Map);
}

function describe(v: GobInput): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'array';
  if (v instanceof Uint8Array) return 'Uint8Array';
  if (v instanceof Map) return 'Map';
  return typeof v;
}
