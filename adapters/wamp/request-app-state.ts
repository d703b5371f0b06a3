// Reads a `request_app_state` payload (kwargs) or one entry of
// `get_requested_app_states` into an AppStateRequest. Field names and fallbacks
// are the Reagent's (src/api/request_app_state.go): `target_state` falls back
// to `manually_requested_state`, `current_state` to `state`,
// `requestor_account_key` to `account_id` (requestor-account.ts, shared with the
// privilege check); `release_key` may be a string.
import type { Json } from '../../actors/types.js';
import { isAppState, transientToActualState, type AppState } from '../../machines/app-states.js';
import { NamingError, validateAppName, type AppName } from '../docker/naming.js';
import type { AppStateRequest, DockerCredential } from '../../apps/service.js';
import { invalidArgument } from './errors.js';
import { readRequestorAccount } from './requestor-account.js';
import {
  fail,
  isObj,
  jsonClone,
  optionalArray,
  optionalBool,
  optionalObject,
  optionalString,
  optionalUint,
  requireUint,
  toUint,
  type Obj,
} from './validate.js';

const STATE_LIST = 'a state such as RUNNING, PRESENT, REMOVED, UNINSTALLED, BUILT or PUBLISHED';

function stateField(o: Obj, keys: readonly string[], path: string, required: boolean): AppState | null {
  for (const key of keys) {
    const v = o[key];
    if (v === undefined || v === null || v === '') continue;
    if (!isAppState(v)) throw fail(`${path}${key}`, STATE_LIST, v);
    return v;
  }
  if (required) throw fail(`${path}${keys[0]}`, STATE_LIST, o[keys[0] ?? '']);
  return null;
}

/** A key that is a non-negative integer or a non-empty string (legacy `release_key`, `instance_key`). */
function keyField(o: Obj, keys: readonly string[], path: string): number | string | null {
  for (const key of keys) {
    const v = o[key];
    if (v === undefined || v === null || v === '') continue;
    const n = toUint(v);
    if (n !== undefined) return n;
    if (typeof v === 'string' && v.length <= 128) return v;
    throw fail(`${path}${key}`, 'a non-negative integer or a short string', v);
  }
  return null;
}

function jsonObject(o: Obj, key: string, path: string): { [k: string]: Json } | null {
  const v = optionalObject(o, key, path);
  return v === undefined ? null : (jsonClone(v, `${path}${key}`) as { [k: string]: Json });
}

function credentials(o: Obj, path: string): Record<string, DockerCredential> | null {
  const v = optionalObject(o, 'docker_credentials', path);
  if (v === undefined) return null;
  const out: Record<string, DockerCredential> = {};
  for (const [host, entry] of Object.entries(v)) {
    const p = `${path}docker_credentials.${host}`;
    if (!isObj(entry)) throw fail(p, 'an object {username, password}', entry);
    // Never echo a password back, not even its type's excerpt.
    if (typeof entry.username !== 'string') throw fail(`${p}.username`, 'a string', entry.username);
    if (typeof entry.password !== 'string') {
      throw invalidArgument(`field "${p}.password": expected a string, got ${entry.password === null ? 'null' : typeof entry.password}`, `${p}.password`, 'a string');
    }
    out[host] = { username: entry.username, password: entry.password };
  }
  return out;
}

export function parseAppStateRequest(payload: unknown, path = ''): AppStateRequest {
  if (!isObj(payload)) throw fail(path === '' ? 'kwargs' : path.replace(/\.$/, ''), 'an object', payload);
  const o = payload;
  const appKey = requireUint(o, 'app_key', path);
  let appName: AppName;
  try {
    appName = validateAppName(o.app_name);
  } catch (err) {
    if (err instanceof NamingError) throw fail(`${path}app_name`, err.expected, o.app_name);
    throw err;
  }
  const stageRaw = o.stage;
  if (stageRaw !== 'DEV' && stageRaw !== 'PROD') throw fail(`${path}stage`, '"DEV" or "PROD"', stageRaw);
  const target = stateField(o, ['target_state', 'manually_requested_state'], path, true) as AppState;
  const ports = optionalArray(o, 'ports', path, 1000);
  return {
    appKey,
    appName,
    stage: stageRaw,
    targetState: transientToActualState(target),
    currentState: stateField(o, ['current_state', 'state'], path, false),
    releaseKey: keyField(o, ['release_key'], path),
    newReleaseKey: optionalUint(o, 'new_release_key', path) ?? null,
    requestorAccountKey: readRequestorAccount(o, path),
    deviceOwnerAccountKey: optionalUint(o, 'device_owner_account_key', path) ?? null,
    deviceToAppKey: optionalUint(o, 'device_to_app_key', path) ?? null,
    version: optionalString(o, 'version', path, 128) ?? null,
    presentVersion: optionalString(o, 'present_version', path, 128) ?? null,
    newestVersion: optionalString(o, 'newest_version', path, 128) ?? null,
    requestUpdate: optionalBool(o, 'request_update', path) ?? false,
    cancelTransition: optionalBool(o, 'cancel_transition', path) ?? false,
    environment: jsonObject(o, 'environment', path),
    environmentTemplate: jsonObject(o, 'environment_template', path),
    ports: ports === undefined ? null : (jsonClone(ports, `${path}ports`) as Json[]),
    dockerCompose: jsonObject(o, 'docker_compose', path),
    newDockerCompose: jsonObject(o, 'new_docker_compose', path),
    dockerCredentials: credentials(o, path),
    instanceKey: keyField(o, ['instance_key'], path),
    appCredEpoch: optionalUint(o, 'app_cred_epoch', path) ?? null,
  };
}
