// hoop's AgentConnectionParams (common/proto/types.go) as TypeScript types and
// as the gob schema our encoder sends. The field table is the single list
// both the encoder and the field checks work from.

import type { GobSchema, GobStructSchema } from './encoder.js';

/** hoop's AISessionAnalyzerParams as its agent reads it; other wire fields are ignored. */
export interface AISessionAnalyzerParams {
  readonly Provider: string;
  readonly Model: string;
  readonly APIKey: string;
  readonly APIURL: string;
  readonly RuleName: string;
  readonly CustomPrompt: string;
  readonly LowRiskAction: string;
  readonly MediumRiskAction: string;
  readonly HighRiskAction: string;
}

/** EnvVars is map[string]any in Go; the gateway puts strings (base64) in it. null is a nil interface. */
export type EnvVarValue = string | number | bigint | boolean | null;

export interface AgentConnectionParams {
  readonly ConnectionName: string;
  readonly ConnectionType: string;
  readonly ConnectionSubType: string;
  readonly UserID: string;
  readonly UserEmail: string;
  /** Keys `envvar:NAME` / `filesystem:NAME`. null is a nil map; {} an empty one (Go tells them apart on the wire). */
  readonly EnvVars: Readonly<Record<string, EnvVarValue>> | null;
  readonly CmdList: readonly string[];
  readonly ClientArgs: readonly string[];
  readonly ClientVerb: string;
  readonly ClientOrigin: string;
  readonly DlpProvider: string;
  readonly DlpMode: string;
  readonly DLPInfoTypes: readonly string[];
  readonly DlpGcpRawCredentialsJSON: string;
  readonly DlpPresidioAnalyzerURL: string;
  readonly DlpPresidioAnonymizerURL: string;
  /** json.RawMessage: the JSON text's bytes, null when nil or empty. */
  readonly DataMaskingEntityTypesData: Uint8Array | null;
  readonly GuardRailRules: Uint8Array | null;
  readonly AnalyzerMetricsRules: Uint8Array | null;
  readonly AISessionAnalyzer: AISessionAnalyzerParams | null;
}

export const STRING = { kind: 'string' } as const;
const STRINGS: GobSchema = { kind: 'slice', name: '[]string', elem: STRING };
const RAW_MESSAGE: GobSchema = { kind: 'bytes' };
const ENV_VARS: GobSchema = { kind: 'map', name: 'map[string]interface {}', key: STRING, elem: { kind: 'interface' } };

export const AI_FIELDS = [
  'Provider',
  'Model',
  'APIKey',
  'APIURL',
  'RuleName',
  'CustomPrompt',
  'LowRiskAction',
  'MediumRiskAction',
  'HighRiskAction',
] as const satisfies readonly (keyof AISessionAnalyzerParams)[];

const AI_SCHEMA: GobStructSchema = {
  kind: 'struct',
  name: 'AISessionAnalyzerParams',
  fields: AI_FIELDS.map((name) => ({ name, type: STRING })),
};

export type FieldKind = 'string' | 'strings' | 'envVars' | 'raw' | 'ai';

/** In hoop's declaration order, which is the wire's field order. */
export const PARAMS_FIELDS: readonly [keyof AgentConnectionParams, FieldKind][] = [
  ['ConnectionName', 'string'],
  ['ConnectionType', 'string'],
  ['ConnectionSubType', 'string'],
  ['UserID', 'string'],
  ['UserEmail', 'string'],
  ['EnvVars', 'envVars'],
  ['CmdList', 'strings'],
  ['ClientArgs', 'strings'],
  ['ClientVerb', 'string'],
  ['ClientOrigin', 'string'],
  ['DlpProvider', 'string'],
  ['DlpMode', 'string'],
  ['DLPInfoTypes', 'strings'],
  ['DlpGcpRawCredentialsJSON', 'string'],
  ['DlpPresidioAnalyzerURL', 'string'],
  ['DlpPresidioAnonymizerURL', 'string'],
  ['DataMaskingEntityTypesData', 'raw'],
  ['GuardRailRules', 'raw'],
  ['AnalyzerMetricsRules', 'raw'],
  ['AISessionAnalyzer', 'ai'],
];

const SCHEMA_OF: Record<FieldKind, GobSchema> = { string: STRING, strings: STRINGS, envVars: ENV_VARS, raw: RAW_MESSAGE, ai: AI_SCHEMA };

export const PARAMS_SCHEMA: GobStructSchema = {
  kind: 'struct',
  name: 'AgentConnectionParams',
  fields: PARAMS_FIELDS.map(([name, kind]) => ({ name, type: SCHEMA_OF[kind] })),
};

export function emptyConnectionParams(): AgentConnectionParams {
  return {
    ConnectionName: '',
    ConnectionType: '',
    ConnectionSubType: '',
    UserID: '',
    UserEmail: '',
    EnvVars: null,
    CmdList: [],
    ClientArgs: [],
    ClientVerb: '',
    ClientOrigin: '',
    DlpProvider: '',
    DlpMode: '',
    DLPInfoTypes: [],
    DlpGcpRawCredentialsJSON: '',
    DlpPresidioAnalyzerURL: '',
    DlpPresidioAnonymizerURL: '',
    DataMaskingEntityTypesData: null,
    GuardRailRules: null,
    AnalyzerMetricsRules: null,
    AISessionAnalyzer: null,
  };
}

