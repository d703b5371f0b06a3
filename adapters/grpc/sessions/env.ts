// hoop's conventions for a session's environment (agent/terminal/envvar.go,
// agent/controller/agent.go): `AgentConnectionParams.EnvVars` keys are
// `envvar:NAME` or `filesystem:NAME` with base64 values; a `filesystem:`
// value is written to a 0600 file whose path becomes the variable. hoop
// writes /tmp/<uuid>.envfs; we write <uuid>.envfs into a 0700 directory of
// this agent's own under the temp dir, so leftovers of a killed run can be
// removed at start without touching anyone else's files.
// Parsing is pure (and property-tested); writing the files is separate.
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EnvVarValue } from '../gob/connection-params.js';

export type EnvKind = 'envvar' | 'filesystem';

export interface EnvEntry {
  kind: EnvKind;
  name: string;
  /** Decoded bytes (a file's content for `filesystem:`). */
  value: Buffer;
}

export interface ParsedEnv {
  entries: EnvEntry[];
  /** One line per rejected key; never the value. */
  problems: string[];
}

/** Environment variable names as POSIX shells accept them. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Go's base64.StdEncoding: padded, standard alphabet, no whitespace.
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** A value naming a secret store, `_aws:id:key`: hoop's agent resolves these; we do not. */
const SECRET_REFERENCE = /^_(aws|envjson|vaultkv1|vaultkv2):/;
/** hoop's SystemAgentEnvs: "take this variable from the agent's own environment". */
export const SYSTEM_AGENT_ENVS = 'system.agent.envs';

export function decodeStdBase64(text: string): Buffer | null {
  return STD_BASE64.test(text) ? Buffer.from(text, 'base64') : null;
}

export function parseEnvVars(vars: Readonly<Record<string, EnvVarValue>> | null): ParsedEnv {
  const entries: EnvEntry[] = [];
  const problems: string[] = [];
  if (!vars) return { entries, problems };
  for (const key of Object.keys(vars).sort()) {
    const colon = key.indexOf(':');
    const prefix = colon < 0 ? '' : key.slice(0, colon);
    const name = key.slice(colon + 1);
    const shown = JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key);
    if (prefix !== 'envvar' && prefix !== 'filesystem') {
      problems.push(`env ${shown}: expected a key "envvar:NAME" or "filesystem:NAME"`);
      continue;
    }
    if (!ENV_NAME.test(name)) {
      problems.push(`env ${shown}: expected NAME to be letters, digits and underscores, not starting with a digit`);
      continue;
    }
    const raw = vars[key];
    if (typeof raw !== 'string') {
      problems.push(`env ${shown}: expected a base64 string, got ${raw === null ? 'nil' : typeof raw}`);
      continue;
    }
    const value = decodeStdBase64(raw);
    if (value === null) {
      problems.push(`env ${shown}: expected standard padded base64`);
      continue;
    }
    entries.push({ kind: prefix, name, value });
  }
  return { entries, problems };
}

/** Variables of the agent that a session may never read through `system.agent.envs`. */
const AGENT_SECRETS = new Set(['HOOP_KEY', 'HOOP_DSN', 'HOOP_TOKEN', 'TOKEN']);

export interface MaterializeOptions {
  /** Where `filesystem:` files go (see envFileDir); null refuses them. */
  dir: string | null;
  /** The agent's own environment, for `system.agent.envs` values. */
  agentEnv: NodeJS.ProcessEnv;
}

export interface SessionEnv {
  vars: Record<string, string>;
  /** Temp files written for `filesystem:` entries; removed when the session ends. */
  files: string[];
  problems: string[];
}

/** Turns parsed entries into variables, writing `filesystem:` contents to 0600 temp files. */
export function materializeEnv(parsed: ParsedEnv, opts: MaterializeOptions): SessionEnv {
  const vars: Record<string, string> = {};
  const files: string[] = [];
  const problems = [...parsed.problems];
  for (const entry of parsed.entries) {
    const text = entry.value.toString('utf8');
    if (entry.kind === 'envvar') {
      if (SECRET_REFERENCE.test(text)) {
        problems.push(`env "envvar:${entry.name}": secret store references (${text.slice(0, text.indexOf(':'))}) are not supported by this agent`);
        continue;
      }
      if (text === SYSTEM_AGENT_ENVS) {
        const own = opts.agentEnv[entry.name];
        if (AGENT_SECRETS.has(entry.name)) problems.push(`env "envvar:${entry.name}": the agent does not hand out its own credentials`);
        else if (own === undefined) problems.push(`env "envvar:${entry.name}": not set in the agent's environment`);
        else vars[entry.name] = own;
        continue;
      }
      if (text.includes('\0')) {
        problems.push(`env "envvar:${entry.name}": the value contains a NUL byte`);
        continue;
      }
      vars[entry.name] = text;
    } else {
      if (opts.dir === null) {
        problems.push(`env "filesystem:${entry.name}": this agent has no private directory for session files (see its log)`);
        continue;
      }
      const file = join(opts.dir, `${randomUUID()}.envfs`);
      writeFileSync(file, entry.value, { mode: 0o600, flag: 'wx' });
      files.push(file);
      vars[entry.name] = file;
    }
  }
  // hoop mirrors PASS for the database clients that read their own variable.
  if (vars['PASS'] !== undefined) {
    for (const alias of ['PGPASSWORD', 'MYSQL_PWD', 'SQLCMDPASSWORD']) vars[alias] ??= vars['PASS'];
  }
  return { vars, files, problems };
}

export function removeEnvFiles(files: readonly string[]): void {
  for (const f of files) rmSync(f, { force: true });
}

const ENV_FILE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.envfs$/;

/** This agent's directory for session files: one per agent dir, as the instance lock is. */
export function envFileDir(base: string, agentDir: string): string {
  const id = createHash('sha256').update(resolve(agentDir)).digest('hex').slice(0, 12);
  return join(base, `reagent-envfs-${id}`);
}

/**
 * Makes the directory (0700), or checks that an existing one is a real
 * directory of this user, and removes the `<uuid>.envfs` files an earlier
 * run left in it (killed before its sessions ended). Returns how many.
 */
export function prepareEnvFileDir(dir: string): number {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir}: not a directory (a link?)`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  if (uid >= 0 && st.uid !== uid) throw new Error(`${dir}: belongs to uid ${st.uid}, not this agent's uid ${uid}`);
  if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  let removed = 0;
  for (const name of readdirSync(dir)) {
    if (!ENV_FILE.test(name)) continue;
    unlinkSync(join(dir, name));
    removed++;
  }
  return removed;
}
