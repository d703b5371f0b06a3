// $HOME/.hoop/agent.toml, hoop's legacy credential file:
//   token = "x-agt-…"
//   grpc_url = "host:port"      # or scheme://host:port
// Read as the third credential source, written after a web registration's
// first accepted connect. The directory is 0700 and the file 0600, written
// atomically (temp file + rename) so a crash never leaves half a token.
// Messages name the file and the field and never quote the token.
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse, stringify, TomlError } from 'smol-toml';
import { parseGrpcAddress, type GrpcAddress } from '../../config/hoop-env.js';

export interface AgentToml {
  token: string;
  grpcUrl: GrpcAddress;
}

export type AgentTomlParse = { ok: true; value: AgentToml | null } | { ok: false; error: string };

export function agentTomlPath(home: string): string {
  return join(home, '.hoop', 'agent.toml');
}

// A bearer token travels in an HTTP/2 header: printable ASCII, no spaces.
const TOKEN_SHAPE = /^[\x21-\x7e]{1,4096}$/;

/** Parses the file's text. Empty (or whitespace-only) means "not configured": `value: null`. */
export function parseAgentToml(text: string, file: string): AgentTomlParse {
  if (text.trim() === '') return { ok: true, value: null };
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    // TomlError's message ends with a code frame of the offending line, which may hold the token.
    if (err instanceof TomlError) {
      const what = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document:\s*/, '');
      return { ok: false, error: `${file}: invalid TOML at line ${err.line}, column ${err.column}: ${what}` };
    }
    return { ok: false, error: `${file}: invalid TOML` };
  }
  const token = doc['token'];
  const url = doc['grpc_url'];
  if (token === undefined) return { ok: false, error: `${file}: field "token" is missing (both "token" and "grpc_url" are required)` };
  if (typeof token !== 'string') return { ok: false, error: `${file}: field "token": expected a string, got ${tomlType(token)}` };
  if (!TOKEN_SHAPE.test(token)) return { ok: false, error: `${file}: field "token": expected printable characters without spaces` };
  if (url === undefined) return { ok: false, error: `${file}: field "grpc_url" is missing (both "token" and "grpc_url" are required)` };
  if (typeof url !== 'string') return { ok: false, error: `${file}: field "grpc_url": expected a string, got ${tomlType(url)}` };
  const grpcUrl = parseGrpcAddress(url.trim());
  if (!grpcUrl) return { ok: false, error: `${file}: field "grpc_url": expected host:port or scheme://host:port with scheme grpc, grpcs, http or https` };
  return { ok: true, value: { token, grpcUrl } };
}

export function formatAgentToml(value: { token: string; grpcUrl: string }): string {
  const text = stringify({ token: value.token, grpc_url: value.grpcUrl });
  return text.endsWith('\n') ? text : `${text}\n`;
}

function tomlType(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a date';
  if (v !== null && typeof v === 'object') return 'a table';
  return `a ${typeof v}`;
}

export type AgentTomlRead =
  | { kind: 'absent' }
  | { kind: 'found'; value: AgentToml; /** group/other can read it: worth a warning */ exposed: boolean }
  | { kind: 'invalid'; error: string };

export function readAgentToml(path: string): AgentTomlRead {
  let text: string;
  let mode: number;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
    return { kind: 'invalid', error: `${path}: cannot read: ${code ?? (err as Error).message}` };
  }
  const parsed = parseAgentToml(text, path);
  if (!parsed.ok) return { kind: 'invalid', error: parsed.error };
  if (parsed.value === null) return { kind: 'absent' };
  return { kind: 'found', value: parsed.value, exposed: (mode & 0o077) !== 0 };
}

/** Writes the file 0600 in a 0700 directory, replacing any previous one atomically. */
export function writeAgentToml(path: string, value: { token: string; grpcUrl: string }): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask, and an existing directory keeps its own.
  chmodSync(dir, 0o700);
  const tmp = join(dir, `.agent.toml.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, formatAgentToml(value));
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
