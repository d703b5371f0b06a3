// Gob's type model. A stream defines its own types (ids >= 64) by sending a
// `wireType` value; ids 1-8 are the basic types every decoder knows, and
// 16-24 are the types of the type definitions themselves, which we decode
// with the same value decoder instead of a second hand-written parser.

import { GobDecodeError } from './errors.js';
import { describeValue, isGobObject, type GobValue } from './values.js';

export const TypeId = {
  bool: 1,
  int: 2,
  uint: 3,
  float: 4,
  bytes: 5,
  string: 6,
  complex: 7,
  interface: 8,
  wireType: 16,
  arrayType: 17,
  commonType: 18,
  sliceType: 19,
  structType: 20,
  fieldType: 21,
  fieldTypeSlice: 22,
  mapType: 23,
  /** Go never sends a value of this type, so its id is ours to pick. */
  gobEncoderType: 24,
} as const;

export const FIRST_USER_TYPE_ID = 64;
const MAX_TYPE_ID = 2 ** 31 - 1; // Go's typeId is an int32

export type BasicKind = 'bool' | 'int' | 'uint' | 'float' | 'bytes' | 'string' | 'complex' | 'interface';

export interface GobField {
  readonly name: string;
  readonly id: number;
}

export type GobType =
  | { readonly kind: BasicKind; readonly name: string }
  | { readonly kind: 'array'; readonly name: string; readonly elem: number; readonly len: number }
  | { readonly kind: 'slice'; readonly name: string; readonly elem: number }
  | { readonly kind: 'map'; readonly name: string; readonly key: number; readonly elem: number }
  | { readonly kind: 'struct'; readonly name: string; readonly fields: readonly GobField[] }
  | { readonly kind: 'opaque'; readonly name: string; readonly via: 'GobEncoder' | 'BinaryMarshaler' | 'TextMarshaler' };

export const BASIC_TYPES: ReadonlyMap<number, GobType> = new Map<number, GobType>([
  [TypeId.bool, { kind: 'bool', name: 'bool' }],
  [TypeId.int, { kind: 'int', name: 'int' }],
  [TypeId.uint, { kind: 'uint', name: 'uint' }],
  [TypeId.float, { kind: 'float', name: 'float' }],
  [TypeId.bytes, { kind: 'bytes', name: 'bytes' }],
  [TypeId.string, { kind: 'string', name: 'string' }],
  [TypeId.complex, { kind: 'complex', name: 'complex' }],
  [TypeId.interface, { kind: 'interface', name: 'interface' }],
]);

const common = { name: 'CommonType', id: TypeId.commonType };
const struct = (name: string, fields: [string, number][]): GobType => ({
  kind: 'struct',
  name,
  fields: fields.map(([n, id]) => ({ name: n, id })),
});

/** Field order is the wire's field numbering: it must match Go's type.go exactly. */
export const BOOTSTRAP_TYPES: ReadonlyMap<number, GobType> = new Map<number, GobType>([
  [
    TypeId.wireType,
    struct('wireType', [
      ['ArrayT', TypeId.arrayType],
      ['SliceT', TypeId.sliceType],
      ['StructT', TypeId.structType],
      ['MapT', TypeId.mapType],
      ['GobEncoderT', TypeId.gobEncoderType],
      ['BinaryMarshalerT', TypeId.gobEncoderType],
      ['TextMarshalerT', TypeId.gobEncoderType],
    ]),
  ],
  [TypeId.arrayType, struct('arrayType', [[common.name, common.id], ['Elem', TypeId.int], ['Len', TypeId.int]])],
  [TypeId.commonType, struct('CommonType', [['Name', TypeId.string], ['Id', TypeId.int]])],
  [TypeId.sliceType, struct('sliceType', [[common.name, common.id], ['Elem', TypeId.int]])],
  [TypeId.structType, struct('structType', [[common.name, common.id], ['Field', TypeId.fieldTypeSlice]])],
  [TypeId.fieldType, struct('fieldType', [['Name', TypeId.string], ['Id', TypeId.int]])],
  [TypeId.fieldTypeSlice, { kind: 'slice', name: '[]*fieldType', elem: TypeId.fieldType }],
  [TypeId.mapType, struct('mapType', [[common.name, common.id], ['Key', TypeId.int], ['Elem', TypeId.int]])],
  [TypeId.gobEncoderType, struct('gobEncoderType', [[common.name, common.id]])],
]);

/**
 * Turns a decoded `wireType` value into a GobType. Only shape is checked here;
 * whether referenced ids exist is checked when a value needs them, because Go
 * sends a struct's definition before the definitions of its fields' types.
 */
export function wireTypeToGobType(wire: GobValue, at: number): GobType {
  const bad = (detail: string): never => {
    throw new GobDecodeError(at, 'a valid type definition', detail);
  };
  if (!isGobObject(wire)) return bad('not a struct');
  const set = Object.entries(wire).filter(([, v]) => v !== null);
  if (set.length !== 1) return bad(`defines ${set.length} types, want exactly 1`);
  const [which, def] = set[0] as [string, GobValue];
  if (!isGobObject(def)) return bad(`${which} is ${describeValue(def)}`);
  const name = commonName(def, bad);
  switch (which) {
    case 'ArrayT': {
      const len = def['Len'];
      if (typeof len !== 'number' || len < 0) return bad(`array length ${String(len)}`);
      return { kind: 'array', name, elem: typeRef(def['Elem'], 'array element', bad), len };
    }
    case 'SliceT':
      return { kind: 'slice', name, elem: typeRef(def['Elem'], 'slice element', bad) };
    case 'MapT':
      return { kind: 'map', name, key: typeRef(def['Key'], 'map key', bad), elem: typeRef(def['Elem'], 'map element', bad) };
    case 'StructT': {
      const list = def['Field'];
      if (!Array.isArray(list)) return bad('struct fields are not a list');
      const fields = list.map((f, i): GobField => {
        if (!isGobObject(f) || typeof f['Name'] !== 'string') return bad(`struct field ${i} has no name`);
        return { name: f['Name'], id: typeRef(f['Id'], `struct field ${f['Name']}`, bad) };
      });
      return { kind: 'struct', name, fields };
    }
    case 'GobEncoderT':
    case 'BinaryMarshalerT':
    case 'TextMarshalerT':
      return { kind: 'opaque', name, via: which.slice(0, -1) as 'GobEncoder' | 'BinaryMarshaler' | 'TextMarshaler' };
    default:
      return bad(`unknown definition ${which}`);
  }
}

function commonName(def: Record<string, GobValue>, bad: (d: string) => never): string {
  const c = def['CommonType'];
  if (c === null || c === undefined) return ''; // Go accepts a definition without one
  if (!isGobObject(c)) return bad('CommonType is not a struct');
  const name = c['Name'];
  return typeof name === 'string' ? name : bad('CommonType.Name is not a string');
}

function typeRef(v: GobValue | undefined, what: string, bad: (d: string) => never): number {
  if (typeof v !== 'number' || v <= 0 || v > MAX_TYPE_ID) return bad(`${what} type id ${String(v)}`);
  return v;
}
