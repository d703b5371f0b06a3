// The REQUEST event of the app statechart, declared once: the fields the
// machine decides on (RequestIntent) and the app domain's fields that ride
// along on the journaled event and build the `app_requests` projection
// (RequestDomainFields). The JSON shape is the journal's: keys never change.
//
// `readRequestPayload` is the boundary for payloads read back from storage
// (projection rows at boot and resync): it checks every field it types and
// names the first bad one. Inside the process the typed value flows on.
import type { Json } from '../actors/types.js';
import { isAppState, type AppState } from './app-states.js';

type JsonObject = { [key: string]: Json };

/** What the machine reads of a REQUEST. */
export type RequestIntent = {
  /** A resting state (transient wire names are mapped where the request enters). */
  target: AppState;
  version?: string;
  newestVersion?: string;
  requestUpdate?: boolean;
  /** Abort a cancelable operation in flight first (the Reagent's `cancel_transition`). */
  cancel?: boolean;
  requestId?: string;
  /** A re-statement of the stored request (boot projection, reconnect sync), not a user action. */
  resync?: boolean;
};

/** The runtime spec as journaled: environment variable names and the fingerprint of their values, never the values. */
export type RequestSpecPayload = {
  registry: string;
  repository: string;
  /** Absent only in payloads stored before values left the journal (they carry `env`; apps' legacyEnv rewrites them). */
  envNames?: string[];
  /** `sha256:…` of the sorted NAME=value lines with the device's salt; absent for an empty environment. */
  envFingerprint?: string;
  ports: JsonObject[];
  /** A compose app's file; not a secret (its `${VAR}`s come from the environment). */
  compose?: JsonObject;
};

/** Keys `update_app_on_device` echoes back to the studio. */
export type RequestReportKeys = { device_to_app_key: Json; requestor_account_key: Json; release_key: Json };

/** The app domain's fields; the machine reads none. */
export type RequestDomainFields = {
  appName: string;
  spec: RequestSpecPayload;
  /** Absent in payloads stored before reports echoed keys. */
  report?: RequestReportKeys;
  /** Registry hosts that in-memory `docker_credentials` were given for; never the credentials. */
  registryLogins?: string[];
  /** `app_cred_epoch` (§1.3): the epoch in APP_AUTH_ID/SECRET; 0 or absent is read as 1. */
  appCredEpoch?: number;
  /** `device_owner_account_key`: a PROD app's registry token is asked for on its behalf (§2). */
  deviceOwnerAccountKey?: number;
  /** Removed because a successful `get_requested_app_states` no longer listed it (§3 OnConnect). */
  unlisted?: boolean;
  /** Removed because its upload failed. */
  transferFailed?: boolean;
};

/** The REQUEST payload the app domain journals. */
export type AppRequestPayload = RequestIntent & RequestDomainFields;

/** What a REQUEST may carry: machine specs send the intent alone; the app domain sends all of it. */
export type RequestEventFields = RequestIntent & Partial<RequestDomainFields>;

export class RequestPayloadError extends Error {
  constructor(
    readonly field: string,
    expected: string,
    got: unknown,
  ) {
    super(`field "${field}": expected ${expected}, got ${describeValue(got)}`);
  }
}

/** A value as a field error quotes it: its kind, and short strings and numbers themselves. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v)}`;
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return `${typeof v} ${String(v)}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optional(o: Record<string, unknown>, key: string, path: string, ok: (v: unknown) => boolean, expected: string): void {
  const v = o[key];
  if (v !== undefined && !ok(v)) throw new RequestPayloadError(`${path}${key}`, expected, v);
}

const isString = (v: unknown): boolean => typeof v === 'string';
const isBool = (v: unknown): boolean => typeof v === 'boolean';
const isSafeInt = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v);
const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every(isString);

/**
 * A REQUEST payload read back from storage, checked field by field: the
 * target always, every other field it types when present (a stored payload
 * is whatever a REQUEST carried; old and test-made ones lack the domain's).
 * Throws a RequestPayloadError naming the first bad field; keys it does not
 * type (a legacy `spec.env`) are kept for the app domain's migration.
 */
export function readRequestPayload(raw: unknown): RequestEventFields {
  if (!isObject(raw)) throw new RequestPayloadError('payload', 'an object', raw);
  if (!isAppState(raw.target)) throw new RequestPayloadError('target', 'an app state', raw.target);
  optional(raw, 'appName', '', (v) => typeof v === 'string' && v !== '', 'a non-empty string');
  for (const key of ['version', 'newestVersion', 'requestId'] as const) optional(raw, key, '', isString, 'a string');
  for (const key of ['requestUpdate', 'cancel', 'resync', 'unlisted', 'transferFailed'] as const) optional(raw, key, '', isBool, 'true or false');
  for (const key of ['appCredEpoch', 'deviceOwnerAccountKey'] as const) optional(raw, key, '', isSafeInt, 'an integer');
  optional(raw, 'registryLogins', '', isStrings, 'an array of strings');
  optional(raw, 'report', '', isObject, 'an object');
  const spec = raw.spec;
  if (spec !== undefined) {
    if (!isObject(spec)) throw new RequestPayloadError('spec', 'an object', spec);
    if (typeof spec.registry !== 'string') throw new RequestPayloadError('spec.registry', 'a string', spec.registry);
    if (typeof spec.repository !== 'string') throw new RequestPayloadError('spec.repository', 'a string', spec.repository);
    if (!Array.isArray(spec.ports) || !spec.ports.every(isObject)) throw new RequestPayloadError('spec.ports', 'an array of objects', spec.ports);
    optional(spec, 'envNames', 'spec.', isStrings, 'an array of strings');
    optional(spec, 'envFingerprint', 'spec.', isString, 'a string');
    optional(spec, 'compose', 'spec.', isObject, 'an object');
  }
  // Checked above, key by key: the object is the typed value.
  return raw as RequestEventFields;
}
