// The `docker.*` commands of the app statechart, checked at the adapter's
// boundary. The machine is ours, but what reaches a Docker call or a path is
// validated here anyway: a journal replayed by another version, or a bug,
// must produce a clear refusal, never a container named "../x".

import type { Command } from '../../actors/types.js';
import type { DockerOp } from '../../machines/app-planner.js';
import { NamingError, parseStage, validateAppKey, validateAppName, validateImageTag, type AppIdentity } from '../../adapters/docker/naming.js';

export const DOCKER_OPS: readonly DockerOp[] = ['pull', 'build', 'publish', 'run', 'stop', 'remove', 'uninstall'];

export type AppDockerCommand =
  | { kind: 'op'; app: AppIdentity; op: DockerOp; opId: number; version: string | null }
  | { kind: 'cancel'; app: AppIdentity; op: DockerOp; opId: number }
  | { kind: 'prune-old-image'; app: AppIdentity; version: string; keep: string | null };

export type ParsedCommand = { ok: true; command: AppDockerCommand } | { ok: false; error: string; op?: DockerOp; opId?: number };

function isOp(v: unknown): v is DockerOp {
  return typeof v === 'string' && (DOCKER_OPS as readonly string[]).includes(v);
}

function opIdOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

export function parseDockerCommand(c: Command): ParsedCommand {
  const verb = c.type.startsWith('docker.') ? c.type.slice('docker.'.length) : c.type;
  const op = isOp(verb) ? verb : isOp(c['op']) ? c['op'] : undefined;
  const opId = opIdOf(c['opId']);
  const fail = (error: string): ParsedCommand => ({ ok: false, error, ...(op ? { op } : {}), ...(opId !== undefined ? { opId } : {}) });
  let app: AppIdentity;
  try {
    app = { appKey: validateAppKey(c['appKey']), stage: parseStage(c['stage']), appName: validateAppName(c['appName']) };
  } catch (err) {
    return fail(`${c.type}: ${(err as Error).message}`);
  }
  const version = (field: string, v: unknown): string | null => {
    if (v === null || v === undefined || v === '') return null;
    return validateImageTag(v, field);
  };
  try {
    if (verb === 'cancel') {
      if (!isOp(c['op'])) return fail(`docker.cancel: field "op": expected one of ${DOCKER_OPS.join(', ')}, got ${JSON.stringify(c['op'])}`);
      if (opId === undefined) return fail(`docker.cancel: field "opId": expected a non-negative integer, got ${JSON.stringify(c['opId'])}`);
      return { ok: true, command: { kind: 'cancel', app, op: c['op'], opId } };
    }
    if (verb === 'prune-old-image') {
      const v = version('version', c['version']);
      if (v === null) return fail('docker.prune-old-image: field "version": expected an image tag');
      return { ok: true, command: { kind: 'prune-old-image', app, version: v, keep: version('keep', c['keep']) } };
    }
    if (!isOp(verb)) return fail(`unknown Docker command ${JSON.stringify(c.type)}`);
    if (opId === undefined) return fail(`${c.type}: field "opId": expected a non-negative integer, got ${JSON.stringify(c['opId'])}`);
    return { ok: true, command: { kind: 'op', app, op: verb, opId, version: version('version', c['version']) } };
  } catch (err) {
    if (err instanceof NamingError) return fail(`${c.type}: ${err.message}`);
    throw err;
  }
}
