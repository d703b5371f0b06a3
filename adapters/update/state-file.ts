// `<agentDir>/update-state.json`: the update's phase, read first thing at
// every start (guard.ts). Written through a temporary file and a rename, so
// a power cut leaves the old or the new state, never half of one. A file
// that does not parse is reported and treated as "no update pending".
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { isSemver, UPDATE_PHASES, type UpdatePhase, type UpdateState } from '../../machines/update-rules.js';

const MAX_BYTES = 64 * 1024;

export type ReadState = { ok: true; state: UpdateState | null } | { ok: false; error: string };

export function readUpdateState(path: string): ReadState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, state: null };
    return { ok: false, error: `${path}: ${(err as Error).message}` };
  }
  if (text.length > MAX_BYTES) return { ok: false, error: `${path}: larger than ${MAX_BYTES} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: `${path}: not JSON` };
  }
  const parsed = parseUpdateState(raw);
  return parsed.ok ? { ok: true, state: parsed.state } : { ok: false, error: `${path}: ${parsed.error}` };
}

export function parseUpdateState(raw: unknown): { ok: true; state: UpdateState } | { ok: false; error: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: 'expected an object' };
  const o = raw as Record<string, unknown>;
  const fail = (field: string, expected: string) => ({ ok: false as const, error: `field "${field}": expected ${expected}` });
  if (!UPDATE_PHASES.includes(o.phase as UpdatePhase)) return fail('phase', UPDATE_PHASES.join(', '));
  for (const f of ['from', 'to'] as const) if (typeof o[f] !== 'string' || !isSemver(o[f])) return fail(f, 'a version x.y.z');
  if (typeof o.at !== 'string' || o.at.length > 64) return fail('at', 'a time');
  if (!Number.isSafeInteger(o.attempts) || (o.attempts as number) < 0) return fail('attempts', 'a count');
  if (o.lastInvocation !== null && (typeof o.lastInvocation !== 'string' || o.lastInvocation.length > 128)) return fail('lastInvocation', 'null or an id');
  if (!Number.isSafeInteger(o.probationMs) || (o.probationMs as number) <= 0) return fail('probationMs', 'milliseconds');
  const strings = (v: unknown, max: number) => Array.isArray(v) && v.length <= max && v.every((x) => typeof x === 'string' && x.length <= 64);
  if (!strings(o.links, 8)) return fail('links', 'a list of link names');
  if (o.linksMode !== 'all' && o.linksMode !== 'any') return fail('linksMode', '"all" or "any"');
  if (!strings(o.blacklist, 256) || !(o.blacklist as string[]).every(isSemver)) return fail('blacklist', 'a list of versions');
  if (o.reason !== null && (typeof o.reason !== 'string' || o.reason.length > 2048)) return fail('reason', 'null or a text');
  return {
    ok: true,
    state: {
      phase: o.phase as UpdatePhase,
      from: o.from as string,
      to: o.to as string,
      at: o.at,
      attempts: o.attempts as number,
      lastInvocation: o.lastInvocation as string | null,
      probationMs: o.probationMs as number,
      links: [...(o.links as string[])],
      linksMode: o.linksMode,
      blacklist: [...(o.blacklist as string[])],
      reason: o.reason as string | null,
    },
  };
}

export function writeUpdateState(path: string, state: UpdateState): void {
  const tmp = `${path}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, `${JSON.stringify(state, null, 1)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
