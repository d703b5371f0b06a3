// Reading untrusted WAMP payloads. Every reader names the field (with its path,
// e.g. `args[0].containerName`) and what it expected, and describes what it got
// by type and a short excerpt, so a caller can fix the request without reading
// our code. Numbers are coerced the way the Reagent's `common.ToUint64` does,
// because JSON, MessagePack and CBOR callers encode the same key differently.
import { invalidArgument, type DeviceApiError } from './errors.js';

export type Obj = Record<string, unknown>;

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

export function fail(field: string, expected: string, got: unknown): DeviceApiError {
  return invalidArgument(`field "${field}": expected ${expected}, got ${describeValue(got)}`, field, expected);
}

export function isObj(value: unknown): value is Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The first positional argument as an object; a missing one reads as `{}` when `optional`. */
export function firstArgObject(args: unknown[], optional = false): Obj {
  const first = args[0];
  if (first === undefined && optional) return {};
  if (!isObj(first)) throw fail('args[0]', 'an object', first);
  return first;
}

export function requireString(o: Obj, key: string, path: string, opts: { nonEmpty?: boolean; max?: number } = {}): string {
  const v = o[key];
  const max = opts.max ?? 4096;
  const expected = `${opts.nonEmpty === false ? 'a' : 'a non-empty'} string of at most ${max} characters`;
  if (typeof v !== 'string' || (opts.nonEmpty !== false && v === '') || v.length > max) throw fail(`${path}${key}`, expected, v);
  return v;
}

export function optionalString(o: Obj, key: string, path: string, max = 4096): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw fail(`${path}${key}`, `a string of at most ${max} characters`, v);
  return v;
}

export function optionalBool(o: Obj, key: string, path: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw fail(`${path}${key}`, 'true or false', v);
  return v;
}

/** A non-negative integer; decimal digit strings are accepted, as the Reagent's ToUint64 does. */
export function toUint(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return undefined;
}

export function requireUint(o: Obj, key: string, path: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = toUint(o[key]);
  if (n === undefined || n > max) throw fail(`${path}${key}`, `a non-negative integer${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}`, o[key]);
  return n;
}

export function optionalUint(o: Obj, key: string, path: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  return requireUint(o, key, path, max);
}

export function optionalObject(o: Obj, key: string, path: string): Obj | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw fail(`${path}${key}`, 'an object', v);
  return v;
}

export function optionalArray(o: Obj, key: string, path: string, max = 10_000): unknown[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > max) throw fail(`${path}${key}`, `an array of at most ${max} items`, v);
  return v;
}

export function oneOf<T extends string>(o: Obj, key: string, path: string, choices: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) throw fail(`${path}${key}`, `one of ${choices.join(', ')}`, v);
  return v as T;
}

/** Nesting accepted in a caller's free-form JSON (docker_compose, environment, ports). */
export const MAX_JSON_DEPTH = 32;

/** Levels of nesting of `value`, counted without recursion, stopping once past `limit`. */
export function jsonDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * Keeps JSON-safe values only: what goes to the journal or back on the wire
 * must be plain JSON. Nesting beyond MAX_JSON_DEPTH is refused with the field
 * named (serializing it would overflow the stack).
 */
export function jsonClone<T>(value: T, field: string): T {
  if (jsonDepth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw fail(field, `JSON nested at most ${MAX_JSON_DEPTH} levels deep`, value);
  return JSON.parse(JSON.stringify(value)) as T;
}
