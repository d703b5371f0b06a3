// The three gob payloads hoop's gateway puts in packet specs:
// `agent.connection_params` (AgentConnectionParams), `terminal.args`
// ([]string) and `terminal.envvars` (map[string]string). Decoding follows Go's
// rules for decoding into a struct: fields are matched by name, unknown wire
// fields are ignored (newer gateways add fields) and missing ones are zero.
// Encoding produces what hoop's gateway sends, for our development gateway.

import { tryDecodeGob } from './decoder.js';
import { encodeGob, type GobInput } from './encoder.js';
import { checkFieldTypes, FieldReader } from './params-reader.js';
import { PARAMS_SCHEMA, STRING, type AgentConnectionParams } from './params-schema.js';
import { TypeId } from './types.js';
import { isGobObject } from './values.js';

export { emptyConnectionParams } from './params-schema.js';
export type { AgentConnectionParams, AISessionAnalyzerParams, EnvVarValue } from './params-schema.js';

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

export function decodeConnectionParams(bytes: Uint8Array): Decoded<AgentConnectionParams> {
  const decoded = tryDecodeGob(bytes);
  if (!decoded.ok) return { ok: false, error: decoded.error.message };
  const { value, type, typeOf } = decoded.value;
  if (type.kind !== 'struct' || !isGobObject(value)) {
    return { ok: false, error: `AgentConnectionParams: expected a gob struct, got a ${type.kind}` };
  }
  const wrongTypes = checkFieldTypes(type, typeOf);
  const problems = [...wrongTypes.values()].flat();
  const r = new FieldReader(value, problems, new Set(wrongTypes.keys()));
  const params: AgentConnectionParams = {
    ConnectionName: r.string('ConnectionName'),
    ConnectionType: r.string('ConnectionType'),
    ConnectionSubType: r.string('ConnectionSubType'),
    UserID: r.string('UserID'),
    UserEmail: r.string('UserEmail'),
    EnvVars: r.envVars('EnvVars'),
    CmdList: r.strings('CmdList'),
    ClientArgs: r.strings('ClientArgs'),
    ClientVerb: r.string('ClientVerb'),
    ClientOrigin: r.string('ClientOrigin'),
    DlpProvider: r.string('DlpProvider'),
    DlpMode: r.string('DlpMode'),
    DLPInfoTypes: r.strings('DLPInfoTypes'),
    DlpGcpRawCredentialsJSON: r.string('DlpGcpRawCredentialsJSON'),
    DlpPresidioAnalyzerURL: r.string('DlpPresidioAnalyzerURL'),
    DlpPresidioAnonymizerURL: r.string('DlpPresidioAnonymizerURL'),
    DataMaskingEntityTypesData: r.raw('DataMaskingEntityTypesData'),
    GuardRailRules: r.raw('GuardRailRules'),
    AnalyzerMetricsRules: r.raw('AnalyzerMetricsRules'),
    AISessionAnalyzer: r.ai('AISessionAnalyzer'),
  };
  if (problems.length > 0) return { ok: false, error: `AgentConnectionParams: ${problems.join('; ')}` };
  return { ok: true, value: params };
}

export function encodeConnectionParams(value: Partial<AgentConnectionParams>): Uint8Array {
  const { AISessionAnalyzer, ...rest } = value;
  const input: Record<string, GobInput> = { ...rest, AISessionAnalyzer: AISessionAnalyzer ? { ...AISessionAnalyzer } : null };
  return encodeGob(PARAMS_SCHEMA, input);
}

/** `terminal.args`. */
export function decodeStringSlice(bytes: Uint8Array): Decoded<string[]> {
  const decoded = tryDecodeGob(bytes);
  if (!decoded.ok) return { ok: false, error: decoded.error.message };
  const { value, type } = decoded.value;
  if (type.kind !== 'slice' || type.elem !== TypeId.string) {
    return { ok: false, error: `[]string: expected a gob slice of strings, got ${describeType(type)}` };
  }
  return { ok: true, value: value as string[] };
}

/** `terminal.envvars`. */
export function decodeStringMap(bytes: Uint8Array): Decoded<Record<string, string>> {
  const decoded = tryDecodeGob(bytes);
  if (!decoded.ok) return { ok: false, error: decoded.error.message };
  const { value, type } = decoded.value;
  if (type.kind !== 'map' || type.key !== TypeId.string || type.elem !== TypeId.string) {
    return { ok: false, error: `map[string]string: expected a gob map of strings to strings, got ${describeType(type)}` };
  }
  return { ok: true, value: value as Record<string, string> };
}

export function encodeStringSlice(values: readonly string[]): Uint8Array {
  return encodeGob({ kind: 'slice', name: '', elem: STRING }, values);
}

export function encodeStringMap(values: Readonly<Record<string, string>>): Uint8Array {
  return encodeGob({ kind: 'map', name: '', key: STRING, elem: STRING }, { ...values });
}

function describeType(type: { kind: string; name: string }): string {
  return type.name ? `${type.kind} ${type.name}` : type.kind;
}

