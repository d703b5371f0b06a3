// Reading a decoded gob struct as hoop's AgentConnectionParams with Go's
// rules: wire field types must fit (checked on the types, as Go's decoder
// does, not only on the values present), unknown fields are ignored and
// missing ones take their zero value.

import type { GobType } from './types.js';
import { describeValue, isGobObject, type GobObject, type GobValue } from './values.js';
import { AI_FIELDS, PARAMS_FIELDS, type AISessionAnalyzerParams, type EnvVarValue, type FieldKind } from './params-schema.js';

type StructType = Extract<GobType, { kind: 'struct' }>;
type TypeOf = (id: number) => GobType | undefined;

const EXPECTED: Record<FieldKind, string> = {
  string: 'string',
  strings: '[]string',
  raw: '[]byte (json.RawMessage)',
  envVars: 'map[string]interface {}',
  ai: 'struct',
};

/**
 * Go's decoder checks wire types, not values: a field whose type does not
 * fit fails the whole decode even when this value leaves it out, and a
 * struct none of whose fields match is refused. Returns problems by field.
 */
export function checkFieldTypes(type: StructType, typeOf: TypeOf): Map<string, string[]> {
  const wrong = new Map<string, string[]>();
  const expected = new Map<string, FieldKind>(PARAMS_FIELDS);
  let matched = 0;
  for (const field of type.fields) {
    const kind = expected.get(field.name);
    if (!kind) continue;
    matched++;
    const wire = typeOf(field.id);
    if (!fits(kind, wire, typeOf)) {
      wrong.set(field.name, [`${field.name}: expected ${EXPECTED[kind]}, got gob ${describeWire(wire, typeOf)}`]);
    } else if (wire?.kind === 'struct') {
      const inner = wire.fields
        .filter((f) => (AI_FIELDS as readonly string[]).includes(f.name) && typeOf(f.id)?.kind !== 'string')
        .map((f) => `${field.name}.${f.name}: expected string, got gob ${describeWire(typeOf(f.id), typeOf)}`);
      if (inner.length > 0) wrong.set(field.name, inner);
    }
  }
  if (matched === 0 && type.fields.length > 0) wrong.set('', [`no field of gob struct ${type.name} matches`]);
  return wrong;
}

function fits(kind: FieldKind, wire: GobType | undefined, typeOf: TypeOf): boolean {
  switch (kind) {
    case 'string':
      return wire?.kind === 'string';
    case 'raw':
      return wire?.kind === 'bytes';
    case 'strings':
      return wire?.kind === 'slice' && typeOf(wire.elem)?.kind === 'string';
    case 'envVars':
      return wire?.kind === 'map' && typeOf(wire.key)?.kind === 'string' && typeOf(wire.elem)?.kind === 'interface';
    case 'ai':
      return wire?.kind === 'struct';
  }
}

function describeWire(wire: GobType | undefined, typeOf: TypeOf): string {
  const short = (id: number) => typeOf(id)?.kind ?? `type ${id}`;
  if (!wire) return 'undefined type';
  switch (wire.kind) {
    case 'slice':
      return `[]${short(wire.elem)}`;
    case 'array':
      return `[${wire.len}]${short(wire.elem)}`;
    case 'map':
      return `map[${short(wire.key)}]${short(wire.elem)}`;
    case 'struct':
    case 'opaque':
      return `${wire.kind} ${wire.name}`;
    default:
      return wire.kind;
  }
}

/**
 * Builds the typed value, one field per call, defaulting absent fields. Once
 * wire types are checked, the only values that can still be wrong are those
 * inside EnvVars' interfaces; the other checks narrow types for TypeScript.
 */
export class FieldReader {
  constructor(
    private readonly from: GobObject,
    private readonly problems: string[],
    /** Fields already reported for their wire type: read as absent, so they are reported once. */
    private readonly skip: ReadonlySet<string> = new Set(),
    private readonly prefix = '',
  ) {}

  private get(name: string): GobValue | undefined {
    return Object.hasOwn(this.from, name) && !this.skip.has(name) ? this.from[name] : undefined;
  }

  private wrong(path: string, expected: string, got: GobValue | undefined): void {
    this.problems.push(`${this.prefix}${path}: expected ${expected}, got ${describeValue(got)}`);
  }

  string(name: string): string {
    const v = this.get(name);
    if (v === undefined || typeof v === 'string') return v ?? '';
    this.wrong(name, 'string', v);
    return '';
  }

  strings(name: string): string[] {
    const v = this.get(name);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.wrong(name, 'a list of strings', v);
      return [];
    }
    const out: string[] = [];
    v.forEach((item, i) => {
      if (typeof item === 'string') out.push(item);
      else this.wrong(`${name}[${i}]`, 'string', item);
    });
    return out;
  }

  /** An empty RawMessage and a nil one are the same to Go's encoder: both omitted. */
  raw(name: string): Uint8Array | null {
    const v = this.get(name);
    if (v === undefined || v === null) return null;
    if (v instanceof Uint8Array) return v.length === 0 ? null : v;
    this.wrong(name, 'bytes (json.RawMessage)', v);
    return null;
  }

  envVars(name: string): Record<string, EnvVarValue> | null {
    const v = this.get(name);
    if (v === undefined || v === null) return null;
    if (!isGobObject(v)) {
      this.wrong(name, 'a map with string keys', v);
      return null;
    }
    const out: Record<string, EnvVarValue> = {};
    for (const [key, item] of Object.entries(v)) {
      if (isEnvVarValue(item)) {
        Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
      } else {
        this.wrong(`${name}[${JSON.stringify(key)}]`, 'a string, number, boolean or nil', item);
      }
    }
    return out;
  }

  ai(name: string): AISessionAnalyzerParams | null {
    const v = this.get(name);
    if (v === undefined || v === null) return null;
    if (!isGobObject(v)) {
      this.wrong(name, 'a struct', v);
      return null;
    }
    const r = new FieldReader(v, this.problems, new Set(), `${this.prefix}${name}.`);
    return {
      Provider: r.string('Provider'),
      Model: r.string('Model'),
      APIKey: r.string('APIKey'),
      APIURL: r.string('APIURL'),
      RuleName: r.string('RuleName'),
      CustomPrompt: r.string('CustomPrompt'),
      LowRiskAction: r.string('LowRiskAction'),
      MediumRiskAction: r.string('MediumRiskAction'),
      HighRiskAction: r.string('HighRiskAction'),
    };
  }
}

function isEnvVarValue(v: GobValue): v is EnvVarValue {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean';
}
