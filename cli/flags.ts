// The command line: one table of flags that the parser, the help text and the
// `Flags` type are all derived from, so a flag cannot exist in one and not the
// others. Spellings follow the Reagent (Go's flag package: `-config x`,
// `-config=x`, `-update=false`) and also accept `--double-dash`.
import { isIP } from 'node:net';
import path from 'node:path';
import { parseLogGrpc, parseLogLevel } from '../config/hoop-env.js';

export type FlagType = 'string' | 'bool' | 'uint';

/** Where defaults come from; injected so tests can ask "what on macOS?". */
export interface HostInfo {
  platform: NodeJS.Platform;
  home: string;
}

/** Defaults that depend on the agent dir see the one actually in effect. */
export interface DefaultContext extends HostInfo {
  agentDir: string;
}

export interface FlagSpec {
  /** As typed after the dash. */
  readonly name: string;
  readonly type: FlagType;
  /** `null`: off unless given. A function: computed for this host and agent dir. */
  readonly default: string | boolean | number | null | ((ctx: DefaultContext) => string);
  readonly meaning: string;
  /** Where and why we deliberately differ from the Reagent. */
  readonly reagent?: string;
  /** uint flags: what the number counts, for error messages. */
  readonly unit?: string;
  readonly max?: number;
  readonly choices?: readonly string[];
  readonly aliases?: readonly string[];
  /** Value taken when the flag is given without `=VALUE` (`-inspect`). */
  readonly bareValue?: string;
  /** A comma-separated list of host names or IP addresses (`-inspectHosts`). */
  readonly hostList?: true;
}

const INSPECT_DEFAULT = '127.0.0.1:9230';
const METRICS_DEFAULT = '127.0.0.1:9464';

export const FLAGS = [
  {
    name: 'agentDir',
    type: 'string',
    // Resolved before the others, which follow it.
    default: (ctx: DefaultContext) => defaultAgentDir(ctx),
    meaning: 'agent home: apps, downloads, database and log live here ("/opt/reagent" on Linux, "$HOME/reagent" elsewhere)',
  },
  {
    name: 'appsDir',
    type: 'string',
    default: (ctx: DefaultContext) => pathFor(ctx.platform).join(ctx.agentDir, 'apps'),
    meaning: 'apps and their data (build, compose, shared, per-stage data); defaults to <agentDir>/apps',
    reagent: 'The Reagent computes this default from the default agent dir even when -agentDir is given; here it follows -agentDir.',
  },
  { name: 'arch', type: 'bool', default: false, meaning: 'print the architecture this agent runs on and exit' },
  { name: 'compressedBuildExtension', type: 'string', default: 'tgz', meaning: 'extension of the compressed app build archives' },
  {
    name: 'config',
    type: 'string',
    default: '',
    meaning: "the device's .flock (or .reswarm) file: identity and WAMP-CRA secret; required to connect to IronFlock",
    reagent: 'The Reagent re-saves this file on every start; we only read it and apply legacy rewrites in memory.',
  },
  { name: 'connTimeout', type: 'uint', default: 1250, unit: 'milliseconds', meaning: 'timeout of each WAMP websocket connection attempt in milliseconds (0 means no timeout)' },
  {
    name: 'dbFileName',
    type: 'string',
    default: 'reagent.db',
    meaning: 'SQLite database file; a relative name is placed inside -agentDir, an absolute path is kept',
    reagent: 'The Reagent computes this from the default agent dir even when -agentDir is given, and mishandles relative names.',
  },
  {
    name: 'debug',
    type: 'bool',
    default: false,
    meaning: 'log at debug level (LOG_LEVEL=DEBUG or TRACE does the same)',
    reagent: 'The Reagent defaults to true; we default to false because continuous debug logging wears out SD cards.',
  },
  { name: 'debug-grpc', type: 'bool', default: false, meaning: "log the gateway link's gRPC internals (LOG_GRPC=1 or 2 does the same)" },
  { name: 'debugMessaging', type: 'bool', default: false, meaning: 'log the WAMP messaging layer in detail' },
  {
    name: 'env',
    type: 'string',
    default: 'production',
    choices: ['production', 'test', 'local'],
    meaning: 'IronFlock environment: production, test or local; the update channel when the .flock has no "environment"',
    reagent: 'The Reagent parses this flag but never uses it.',
  },
  { name: 'help', type: 'bool', default: false, aliases: ['h'], meaning: 'print this help and exit (also -h)' },
  {
    name: 'inspect',
    type: 'string',
    default: null,
    bareValue: INSPECT_DEFAULT,
    meaning: `serve the live statechart inspector on HOST:PORT, given as -inspect=HOST:PORT; -inspect alone uses ${INSPECT_DEFAULT}`,
  },
  {
    name: 'inspectHosts',
    type: 'string',
    default: '',
    hostList: true,
    meaning:
      'comma-separated host names (or addresses) the inspector also answers to, e.g. device.local,10.0.0.5; ' +
      'besides loopback and the -inspect address (and, on 0.0.0.0 or ::, this machine\'s own addresses) any other Host header is refused (DNS rebinding)',
  },
  {
    name: 'journalMaxMB',
    type: 'uint',
    default: 64,
    unit: 'MiB',
    meaning: 'size budget of the event journal in -dbFileName: older history is compacted into a snapshot beyond it',
  },
  {
    name: 'logFile',
    type: 'string',
    default: (ctx: DefaultContext) => pathFor(ctx.platform).join(ctx.agentDir, 'reagent.log'),
    meaning: 'JSON log file, rotated at 100 MiB keeping 2 backups; defaults to <agentDir>/reagent.log',
    reagent: 'The Reagent writes /var/log/reagent.log on Linux.',
  },
  {
    name: 'metrics',
    type: 'string',
    default: null,
    bareValue: METRICS_DEFAULT,
    meaning: `serve /healthz and /metrics (Prometheus text) on HOST:PORT, given as -metrics=HOST:PORT; -metrics alone uses ${METRICS_DEFAULT}. Read-only, no token: bind it to loopback unless every host that can reach it may read link states and counts`,
  },
  {
    name: 'nmw',
    type: 'bool',
    default: true,
    meaning: 'manage Wi-Fi and Ethernet through NetworkManager on the system D-Bus (Linux; DBUS_SYSTEM_BUS_ADDRESS or /var/run/dbus/system_bus_socket); false: the network procedures answer "network management unavailable on this device"',
    reagent: 'The Reagent exits at start when it cannot reach the system D-Bus; here the daemon runs and the network procedures answer "unavailable".',
  },
  {
    name: 'offline',
    type: 'bool',
    default: false,
    meaning: 'run with local state only: no connection attempts, apps keep converging to their last requested states',
    reagent: 'The Reagent hangs at start-up with -offline; here the daemon runs normally without links.',
  },
  {
    name: 'ppTimeout',
    type: 'uint',
    default: 5000,
    unit: 'milliseconds',
    meaning: 'websocket keep-alive ping interval in milliseconds (0 means no pings)',
    reagent: "The Reagent's README gives no default; its code uses 5000, as we do.",
  },
  { name: 'prettyLogging', type: 'bool', default: false, meaning: "colourised multi-line console logs for a developer's terminal" },
  {
    name: 'profiling',
    type: 'bool',
    default: false,
    meaning:
      'serve CPU profiles (/debug/pprof/profile?seconds=N) and heap snapshots (/debug/pprof/heap) on http://127.0.0.1:-profilingPort; ' +
      'every request needs the token printed once on stderr',
    reagent:
      "The Reagent serves Go's pprof on all interfaces without authentication. Node has no pprof and V8's debugger port would let any local user run code in the daemon, " +
      'so profiles are taken in-process and served on loopback behind a token; the formats are Chrome DevTools\' (.cpuprofile, .heapsnapshot).',
  },
  { name: 'profilingPort', type: 'uint', default: 80, unit: 'port number, at most 65535', max: 65535, meaning: 'port of the profiling endpoint' },
  {
    name: 'remoteUpdateURL',
    type: 'string',
    default: 'https://storage.googleapis.com',
    meaning: 'base URL agent updates are downloaded from (<base>/re-agent/availableVersions.json); the .flock "update_url" wins. https:// unless it is this machine',
    reagent: 'The Reagent\'s README says ""; its code uses this URL, as we do.',
  },
  {
    name: 'respTimeout',
    type: 'uint',
    default: 7000,
    unit: 'milliseconds',
    meaning: 'timeout of outgoing WAMP calls in milliseconds',
    reagent: "The Reagent's README says 5000, but its code uses 7000; we keep 7000.",
  },
  {
    name: 'update',
    type: 'bool',
    default: true,
    meaning: 'look for a newer version at start-up (in the background) and switch to it, with a probation and rollback; single executables only',
    reagent: 'The Reagent downloads the new binary but leaves switching to it to an outside script on Linux; here the agent switches, and rolls back a version that does not become ready.',
  },
  { name: 'version', type: 'bool', default: false, meaning: 'print the version and exit' },
] as const satisfies readonly FlagSpec[];

type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;
type FlagValue<S extends FlagSpec> = S['type'] extends 'bool'
  ? boolean
  : S['type'] extends 'uint'
    ? number
    : S extends { choices: readonly (infer C)[] }
      ? C
      : S extends { bareValue: string }
        ? string | null
        : string;

/** Parsed flags keyed in camelCase (`-debug-grpc` is `debugGrpc`). Paths are resolved. */
export type Flags = { -readonly [S in (typeof FLAGS)[number] as CamelCase<S['name']>]: FlagValue<S> };

export interface CommandSpec {
  /** One or more words, e.g. "start agent". */
  readonly name: string;
  /** Required positional arguments after the command words. */
  readonly args: readonly string[];
  /** Further arguments are the command's own business. */
  readonly variadic: boolean;
  /** Everything after the command word is the command's own (flags included): it parses them itself. */
  readonly ownOptions?: boolean;
  /** Left out of the help (diagnostics for tests and support). */
  readonly hidden?: boolean;
  readonly summary: string;
}

export const COMMANDS = [
  {
    name: 'replay',
    args: ['FILE'],
    variadic: false,
    ownOptions: true,
    summary: 'replay a recorded journal (or export) on virtual time; options --until SEQ, --actor ID, --run ID, --json',
  },
  { name: 'start agent', args: [], variadic: false, summary: 'run the agent (the same as no command; the hoop spelling)' },
  {
    name: 'bugreport',
    args: [],
    variadic: false,
    ownOptions: true,
    summary: 'write one redacted, replayable file (journal, machines, configuration, log tail) as a new 0600 file; options -o FILE, --force (replace FILE), --since DURATION, --from SEQ',
  },
  {
    name: 'gateway',
    args: [],
    variadic: true,
    ownOptions: true,
    summary: 'run the development gateway (gRPC 127.0.0.1:8010, HTTP API 127.0.0.1:8009); --listen, --api-listen, --data-dir, --tls-cert/--tls-key',
  },
  { name: 'admin', args: [], variadic: true, ownOptions: true, summary: 'admin create agent NAME: create an agent on the development gateway and print its DSN (--legacy-token: an x-agt token)' },
  { name: 'connect', args: [], variadic: true, ownOptions: true, summary: 'connect AGENT --tcp HOST:PORT --listen 127.0.0.1:PORT: forward a local port through an agent' },
  { name: 'exec', args: [], variadic: true, ownOptions: true, summary: 'exec AGENT -- CMD ARGS: run a command through an agent (stdin, stdout, stderr, exit code)' },
  {
    name: 'service',
    args: [],
    variadic: true,
    ownOptions: true,
    summary: 'service install|uninstall|start|stop|status [--dry-run]: run reagent as a systemd service (-config, -agentDir, -noStart, -proxy as in the Reagent)',
  },
  { name: 'agent', args: [], variadic: true, ownOptions: true, summary: "agent start|stop|logs|remove: hoop's spelling of the service commands, for the gateway link alone" },
  { name: 'version', args: [], variadic: false, summary: 'print the version, commit, build date and Node version (the same as -version)' },
  { name: 'help', args: [], variadic: true, ownOptions: true, summary: 'help [COMMAND]: this text, or the usage of one command (also COMMAND -h)' },
  { name: 'self-test', args: [], variadic: true, ownOptions: true, hidden: true, summary: 'self-test pty: check that this executable can load its PTY addon and run a terminal' },
  { name: 'update-guard', args: [], variadic: false, hidden: true, summary: 'update-guard: judge a self-update on probation before the daemon starts (systemd ExecStartPre=)' },
] as const satisfies readonly CommandSpec[];

export type CommandName = (typeof COMMANDS)[number]['name'];

const OWN_OPTIONS: ReadonlySet<string> = new Set(
  (COMMANDS as readonly CommandSpec[]).filter((c) => c.ownOptions).map((c) => c.name.split(' ')[0]!),
);

export type ParseResult =
  | { ok: true; flags: Flags; command: CommandName | null; positionals: string[] }
  | { ok: false; error: string };

export const HELP_HINT = 'run "reagent -help" for usage';

export function defaultAgentDir(host: HostInfo): string {
  return host.platform === 'linux' ? '/opt/reagent' : pathFor(host.platform).join(host.home, 'reagent');
}

/** The value a flag takes when not given, for this host and agent dir. */
export function flagDefault(spec: FlagSpec, ctx: DefaultContext): string | boolean | number | null {
  return typeof spec.default === 'function' ? spec.default(ctx) : spec.default;
}

export function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

export function parseFlags(argv: readonly string[], env: NodeJS.ProcessEnv, host: HostInfo): ParseResult {
  const table: readonly FlagSpec[] = FLAGS;
  const normalized = parseGoFlags(argv, table);
  if (!normalized.ok) return normalized;
  const { afterDoubleDash, given, raw } = normalized;

  const pathApi = pathFor(host.platform);
  const values: Record<string, string | boolean | number | null> = {};
  const agentDir = given.has('agentDir') ? String(raw.get('agentDir')) : defaultAgentDir(host);
  const ctx: DefaultContext = { ...host, agentDir };

  for (const spec of table) {
    if (!given.has(spec.name)) {
      values[camelCase(spec.name)] = flagDefault(spec, ctx);
      continue;
    }
    const converted = convert(spec, raw.get(spec.name));
    if (!converted.ok) return converted;
    values[camelCase(spec.name)] = converted.value;
  }

  // The file may be given by name only; it belongs in the agent dir, not the
  // working directory the service manager happens to start us in.
  if (typeof values.dbFileName === 'string' && !pathApi.isAbsolute(values.dbFileName)) {
    values.dbFileName = pathApi.join(agentDir, values.dbFileName);
  }
  // hoop's environment switches, unless the flag itself says otherwise.
  if (!given.has('debug') && parseLogLevel(env.LOG_LEVEL) === 'debug') values.debug = true;
  if (!given.has('debug-grpc') && (parseLogGrpc(env.LOG_GRPC) ?? 0) > 0) values.debugGrpc = true;

  const positionals = [...normalized.positionals, ...afterDoubleDash];
  const command = matchCommand(positionals);
  if (!command.ok) return command;
  // Values were checked against the table one by one; this is the one cast at the boundary.
  return { ok: true, flags: values as unknown as Flags, command: command.name, positionals: command.rest };
}

type Normalized =
  | { ok: true; positionals: string[]; afterDoubleDash: string[]; given: Set<string>; raw: Map<string, string> }
  | { ok: false; error: string };

// Go's flag grammar: `-name value`, `-name=value`, a bool alone or as
// `-name=false`, `--name` the same as `-name`, `--` ends the flags. A value
// that starts with a dash (`-connTimeout -5`) is a value, as in Go, and is
// kept exactly as typed (no quote stripping). What remains are positionals.
function parseGoFlags(argv: readonly string[], table: readonly FlagSpec[]): Normalized {
  const byName = new Map<string, FlagSpec>();
  for (const spec of table) {
    byName.set(spec.name, spec);
    for (const alias of spec.aliases ?? []) byName.set(alias, spec);
  }
  const positionals: string[] = [];
  const given = new Set<string>();
  const raw = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    if (token === '--') return { ok: true, positionals, afterDoubleDash: argv.slice(i + 1), given, raw };
    if (!token.startsWith('-') || token === '-') {
      positionals.push(token);
      // `reagent replay FILE --until 5`: the command's own flags are not ours to judge.
      if (positionals.length === 1 && OWN_OPTIONS.has(token)) return { ok: true, positionals, afterDoubleDash: argv.slice(i + 1), given, raw };
      continue;
    }
    const body = token.startsWith('--') ? token.slice(2) : token.slice(1);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    if (name === '' || name.startsWith('-')) return { ok: false, error: `bad flag syntax: ${token}` };
    const spec = byName.get(name);
    if (!spec) return { ok: false, error: `flag provided but not defined: -${name} (${HELP_HINT})` };
    let value = eq < 0 ? undefined : body.slice(eq + 1);
    if (spec.type === 'bool') {
      const bool = value === undefined ? true : parseGoBool(value);
      if (bool === null) return { ok: false, error: `invalid value ${JSON.stringify(value)} for flag -${spec.name}: expected true or false` };
      value = String(bool);
    } else if (value === undefined) {
      if (spec.bareValue !== undefined) value = spec.bareValue;
      else if (i + 1 < argv.length) value = argv[++i] ?? '';
      else return { ok: false, error: `flag needs an argument: -${spec.name}` };
    }
    given.add(spec.name);
    raw.set(spec.name, value);
  }
  return { ok: true, positionals, afterDoubleDash: [], given, raw };
}

/**
 * Whether daemon flag `name` (`-name value`) takes the next argument as its
 * value; undefined when no such flag exists. For commands that accept the
 * daemon's flags after their own name (`reagent bugreport -agentDir D`).
 */
export function flagTakesValue(name: string): boolean | undefined {
  const spec = (FLAGS as readonly FlagSpec[]).find((f) => f.name === name || (f.aliases ?? []).includes(name));
  if (!spec) return undefined;
  return spec.type !== 'bool' && spec.bareValue === undefined;
}

// strconv.ParseBool's spellings, so `-update=0` works as it did in the Reagent.
function parseGoBool(text: string): boolean | null {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  return null;
}

type Converted = { ok: true; value: string | boolean | number } | { ok: false; error: string };

function convert(spec: FlagSpec, raw: unknown): Converted {
  // Bools were checked in parseGoFlags() and stored as "true"/"false".
  if (spec.type === 'bool') return { ok: true, value: raw === 'true' };
  const text = String(raw);
  const invalid = (expected: string): Converted => ({ ok: false, error: `invalid value ${JSON.stringify(text)} for flag -${spec.name}: ${expected}` });
  if (spec.type === 'uint') {
    const value = Number(text);
    const max = spec.max ?? Number.MAX_SAFE_INTEGER;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value > max) {
      return invalid(`expected a non-negative integer${spec.unit ? ` (${spec.unit})` : ''}`);
    }
    return { ok: true, value };
  }
  if (spec.choices && !spec.choices.includes(text)) return invalid(`expected one of ${spec.choices.join(', ')}`);
  if (spec.bareValue !== undefined) {
    const address = parseHostPort(text);
    return address ? { ok: true, value: address } : invalid(`expected HOST:PORT or PORT (e.g. ${spec.bareValue})`);
  }
  if (spec.hostList) {
    const hosts = parseHostList(text);
    return hosts !== null ? { ok: true, value: hosts.join(',') } : invalid('expected comma-separated host names or IP addresses, e.g. device.local,10.0.0.5');
  }
  return { ok: true, value: text };
}

// `-inspect=9230` means the loopback interface: never expose the inspector by accident.
function parseHostPort(text: string): string | null {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):)?(\d{1,5})$/.exec(text);
  if (!match || Number(match[2]) > 65535) return null;
  return `${match[1] ?? '127.0.0.1'}:${Number(match[2])}`;
}

/** `a.local, 10.0.0.5,[::1]` → lowercase names and addresses (IPv6 without brackets); null when one is not a host. */
export function parseHostList(text: string): string[] | null {
  const out: string[] = [];
  for (const item of text.split(',')) {
    const h = item.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
    if (h === '') continue;
    if (!/^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*$/.test(h) && !isIP(h)) return null;
    out.push(h);
  }
  return out;
}

type MatchedCommand = { ok: true; name: CommandName | null; rest: string[] } | { ok: false; error: string };

function matchCommand(positionals: string[]): MatchedCommand {
  if (positionals.length === 0) return { ok: true, name: null, rest: [] };
  const spec = COMMANDS.find((c) => c.name.split(' ').every((word, i) => positionals[i] === word));
  if (!spec) {
    const known = COMMANDS.map((c) => c.name).join(', ');
    const partial = COMMANDS.find((c) => c.name.split(' ')[0] === positionals[0]);
    const shown = partial ? positionals.slice(0, partial.name.split(' ').length).join(' ') : positionals[0];
    return { ok: false, error: `unknown command ${JSON.stringify(shown)}; commands: ${known} (${HELP_HINT})` };
  }
  const args: readonly string[] = spec.args;
  const rest = positionals.slice(spec.name.split(' ').length);
  if ('ownOptions' in spec && spec.ownOptions) return { ok: true, name: spec.name, rest };
  if (rest.length < args.length) return { ok: false, error: `${spec.name}: missing ${args[rest.length]} (usage: reagent ${[spec.name, ...args].join(' ')})` };
  if (rest.length > args.length && !spec.variadic) return { ok: false, error: `${spec.name}: unexpected argument ${JSON.stringify(rest[args.length])} (${HELP_HINT})` };
  return { ok: true, name: spec.name, rest };
}

function pathFor(platform: NodeJS.Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}
