// `reagent [flags] bugreport [-o FILE] [--force] [--since DURATION | --from SEQ]`:
// one redacted, replayable file for a bug report. It takes the daemon's own
// flags to find the agent dir, database, log and configuration, and works while
// the daemon runs (read-only, no instance lock). The file is created new (0600,
// see store/new-file.ts); an existing one is replaced only with --force. Exit 0
// written, 1 failed, 2 usage.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Flags } from './flags.js';
import type { MachineRegistry } from '../machines/registry.js';
import { loadFlockConfig } from '../config/flock.js';
import { HOOP_ENV_DOC, readHoopEnv } from '../config/hoop-env.js';
import { Redactor, REDACTED } from '../adapters/log/redactor.js';
import { isSecretName } from '../adapters/log/secret-names.js';
import { parseDuration, writeBugreport } from '../adapters/store/bugreport.js';
import { FileExistsError } from '../adapters/store/new-file.js';

export interface BugreportArgs {
  out?: string;
  /** `--no-gzip`: plain NDJSON (also when `-o` names a `.ndjson` file). */
  noGzip?: boolean;
  /** Replace an existing output file. */
  force?: boolean;
  sinceMs?: number;
  fromSeq?: number;
}

export type BugreportArgsResult = { ok: true; args: BugreportArgs } | { ok: false; error: string };

const USAGE = 'usage: reagent [flags] bugreport [flags] [-o FILE] [--force] [--no-gzip] [--since DURATION | --from SEQ]';

const OWN_WITH_VALUE = new Set(['o', 'out', 'since', 'from']);
const OWN_BOOL = new Set(['force', 'no-gzip']);

/**
 * Users type the daemon's flags after the command too (`reagent bugreport
 * -agentDir D -o r`): splits them from the command's own, so the daemon's go
 * through the daemon's parser (and its errors) as if typed before it.
 * `takesValue` answers for a daemon flag (flags.ts's flagTakesValue).
 */
export function splitBugreportArgv(argv: readonly string[], takesValue: (name: string) => boolean | undefined): { own: string[]; daemon: string[] } {
  const own: string[] = [];
  const daemon: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    if (!raw.startsWith('-') || raw === '-' || raw === '--') {
      own.push(raw);
      continue;
    }
    const eq = raw.indexOf('=');
    const name = (eq > 0 ? raw.slice(0, eq) : raw).replace(/^--?/, '');
    if (OWN_BOOL.has(name) || OWN_WITH_VALUE.has(name)) {
      own.push(raw);
      if (OWN_WITH_VALUE.has(name) && eq < 0 && i + 1 < argv.length) own.push(argv[++i]!);
      continue;
    }
    daemon.push(raw);
    if (eq < 0 && takesValue(name) === true && i + 1 < argv.length) daemon.push(argv[++i]!);
  }
  return { own, daemon };
}

export function parseBugreportArgs(argv: readonly string[]): BugreportArgsResult {
  const args: BugreportArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    if (!raw.startsWith('-')) return { ok: false, error: `bugreport: unexpected argument "${raw}"; ${USAGE}` };
    const eq = raw.indexOf('=');
    const name = (eq > 0 ? raw.slice(0, eq) : raw).replace(/^--?/, '');
    if (name === 'force' || name === 'no-gzip') {
      if (eq > 0) return { ok: false, error: `bugreport: flag --${name} takes no value; ${USAGE}` };
      if (name === 'force') args.force = true;
      else args.noGzip = true;
      continue;
    }
    const v = eq > 0 ? raw.slice(eq + 1) : argv[++i];
    if (name === 'o' || name === 'out') {
      if (!v) return { ok: false, error: `bugreport: flag -o: expected a file name` };
      args.out = v;
    } else if (name === 'since') {
      const ms = v === undefined ? null : parseDuration(v);
      if (ms === null) return { ok: false, error: `bugreport: flag --since: expected a duration like 30m, 2h or 1d, got ${JSON.stringify(v ?? '')}` };
      args.sinceMs = ms;
    } else if (name === 'from') {
      if (v === undefined || !/^\d+$/.test(v)) return { ok: false, error: `bugreport: flag --from: expected a sequence number, got ${JSON.stringify(v ?? '')}` };
      args.fromSeq = Number(v);
    } else {
      return { ok: false, error: `bugreport: flag provided but not defined: ${raw}; ${USAGE}` };
    }
  }
  if (args.sinceMs !== undefined && args.fromSeq !== undefined) return { ok: false, error: `bugreport: give --since or --from, not both; ${USAGE}` };
  return { ok: true, args };
}

export interface BugreportContext {
  flags: Flags;
  env: NodeJS.ProcessEnv;
  registry: MachineRegistry;
  agentVersion: string;
  now: number;
  out(line: string): void;
  err(line: string): void;
}

/** Environment variables that are credentials whatever their name says. */
const SECRET_ENV = new Set(['HOOP_TOKEN', 'TOKEN', 'HOOP_KEY', 'HOOP_DSN']);
/** Variables a report shows: the documented ones, their aliases and our own. */
const SHOWN_ENV = /^(HOOP_|TLS_|LOG_|REAGENT_)|^(TOKEN|AUTO_REGISTER)$/;

export function runBugreport(args: BugreportArgs, ctx: BugreportContext): number {
  const { flags } = ctx;
  const redactor = new Redactor();
  const notes: string[] = [];
  const config: { [key: string]: unknown } = { flags: { ...flags } };

  // Secrets are registered before anything is collected, so they are hidden wherever they turn up.
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(ctx.env)) {
    if (value === undefined || !(SHOWN_ENV.test(name) || HOOP_ENV_DOC.some((d) => d.name === name))) continue;
    const secret = SECRET_ENV.has(name) || isSecretName(name);
    if (secret) redactor.addSecret(value);
    env[name] = secret && value !== '' ? REDACTED : value;
  }
  // Not `env`: that name holds an app's environment, whose values the redactor hides.
  config.variables = env;

  const hoop = readHoopEnv(ctx.env);
  if (hoop.ok) {
    redactor.addSecret(hoop.value.token);
    redactor.addSecret(hoop.value.key?.secret);
    redactor.addSecret(hoop.value.key?.raw);
    redactor.addSecret(hoop.value.gatewayAdminToken);
    config.hoop = hoop.value;
  } else {
    notes.push(`hoop environment: ${hoop.error}`);
  }

  if (flags.config) {
    registerFileSecrets(flags.config, redactor);
    const loaded = loadFlockConfig(flags.config, (p) => readFileSync(p, 'utf8'));
    if (loaded.ok) {
      redactor.addSecret(loaded.config.secret);
      redactor.addSecret(loaded.config.authentication?.key);
      config.flock = { file: flags.config, ...loaded.config, ...(loaded.config.authentication?.key ? { authentication: { ...loaded.config.authentication, key: REDACTED } } : {}) };
      notes.push(...loaded.notes.map((n) => `config: ${n}`));
    } else {
      config.flock = { file: flags.config, error: loaded.error };
      notes.push(`config: ${loaded.error}`);
    }
  }

  const dbFile = flags.dbFileName;
  if (!existsSync(dbFile)) {
    ctx.err(`bugreport: no journal at ${dbFile}; give the daemon's -agentDir (and -dbFileName if it has one)`);
    return 1;
  }
  // Gzip unless asked not to, or unless the name given says plain NDJSON.
  const gzip = !args.noGzip && !(args.out !== undefined && /\.ndjson$/i.test(args.out));
  const out = resolve(args.out ?? `reagent-bugreport-${new Date(ctx.now).toISOString().replace(/[-:]|\.\d+/g, '')}.ndjson${gzip ? '.gz' : ''}`);
  try {
    const r = writeBugreport({
      dbFile,
      out,
      force: args.force ?? false,
      gzip,
      agentVersion: ctx.agentVersion,
      registry: ctx.registry,
      config,
      redactor,
      now: ctx.now,
      sinceMs: args.sinceMs,
      fromSeq: args.fromSeq,
      logFile: flags.logFile || undefined,
      notes,
    });
    const range = r.fromSeq === null ? 'no events' : `seq ${r.fromSeq}..${r.toSeq}`;
    ctx.out(
      `bugreport: wrote ${r.file} (${r.events} events, ${range}, ${r.runs} run(s), ${(r.bytes / 1024).toFixed(0)} KiB${gzip ? ' gzip' : ''}` +
        `${r.redactedEvents ? `, secrets redacted in ${r.redactedEvents} event(s)` : ''}); replay it with: reagent replay ${r.file}`,
    );
    for (const n of r.notes) ctx.err(`note: ${n}`);
    return 0;
  } catch (err) {
    if (err instanceof FileExistsError) {
      ctx.err(`bugreport: ${err.message} (nothing was written)`);
      return 1;
    }
    const message = redactor.scrubString((err as Error).message);
    ctx.err(`bugreport: ${message}`);
    if (/locked|SQLITE_BUSY/i.test(message)) {
      ctx.err(
        `bugreport: ${dbFile} stayed locked: a writer is inside a long transaction, or one was killed inside one and left ${dbFile}.lock; ` +
          'starting the daemon once recovers it, or remove that directory if no reagent runs',
      );
    }
    return 1;
  }
}

/**
 * The .flock may hold more credentials than the agent uses (the studio also
 * writes `password`, `config_passphrase`): every string under a secret-looking
 * key, and the private key, is registered even when the file fails validation.
 */
function registerFileSecrets(path: string, redactor: Redactor): void {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return;
  }
  const walk = (value: unknown, key: string) => {
    if (typeof value === 'string') {
      if (isSecretName(key) || key === 'key' || key === 'secret') redactor.addSecret(value);
    } else if (Array.isArray(value)) {
      for (const v of value) walk(v, key);
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, isSecretName(key) ? key : k);
    }
  };
  walk(raw, '');
}
