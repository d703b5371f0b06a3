// The JS shape of decoded gob values. Kept to plain data so results can be
// compared, logged and journaled without a gob-aware walker.

/** Go's complex64/complex128. A class, so it cannot be mistaken for a struct with the same fields. */
export class GobComplex {
  constructor(
    readonly real: number,
    readonly imag: number,
  ) {}
}

/**
 * structs and string-keyed maps → GobObject; other maps → Map; slices and arrays
 * → arrays; []byte and GobEncoder/BinaryMarshaler/TextMarshaler payloads →
 * Uint8Array; ints beyond 2^53 → bigint; interfaces → their inner value (nil → null).
 */
export type GobValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | GobComplex
  | GobValue[]
  | GobMap
  | GobObject;

export type GobMap = Map<GobValue, GobValue>;

export interface GobObject {
  [field: string]: GobValue;
}

/** Own property even for "__proto__", so wire field names and map keys cannot touch prototypes. */
export function setOwn(target: GobObject, key: string, value: GobValue): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function isGobObject(v: GobValue | undefined): v is GobObject {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof Map) &&
    !(v instanceof GobComplex)
  );
}

export function describeValue(v: GobValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof Map) return 'map';
  if (v instanceof GobComplex) return 'complex';
  return typeof v;
}
