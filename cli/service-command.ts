// `reagent service install|uninstall|start|stop|status` (the Reagent's
// spelling, Windows service there, a systemd unit here) and `reagent agent
// start|stop|logs|remove` (hoop's spelling of the same, for the gateway link
// alone). Install writes /etc/systemd/system/reagent.service running this
// executable with the flags given; --dry-run prints it instead.
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { parseFlags } from './flags.js';
import { hasGatewayCredentials, HOOP_ENV_DOC, readHoopEnv } from '../config/hoop-env.js';
import { renderEnvironmentFile, renderUnit, SANDBOXES, UNIT_NAME, type Sandbox } from '../adapters/systemd/unit.js';
import type { SystemdHost } from '../adapters/systemd/host.js';
import { UpdateLayout } from '../adapters/update/layout.js';
import { isSemver } from '../machines/update-rules.js';

export interface ServiceIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** The working directory relative paths are resolved against. */
  cwd: string;
  /** This executable as the unit should start it: [binary] or [node, main.cjs]. */
  self: readonly string[];
  version: string;
  systemd: SystemdHost;
  /** Where the unit and the environment file go, and root's home; tests point these elsewhere. */
  paths?: ServicePaths;
}

export interface ServicePaths {
  unitDir: string;
  envFile: string;
  home: string;
}

/** The service runs as root (Docker, network management, root sessions), hence root's home. */
const SYSTEM_PATHS: ServicePaths = { unitDir: '/etc/systemd/system', envFile: '/etc/reagent/reagent.env', home: '/root' };

/** Captured at install time into the EnvironmentFile when set (values never printed). */
const CAPTURED_ENV = new Set([...HOOP_ENV_DOC.map((e) => e.name), 'TOKEN', 'HOOP_DSN', 'HOOP_TLSSERVERNAME', 'DOCKER_HOST']);

export interface InstallOptions {
  dryRun: boolean;
  config?: string;
  agentDir: string;
  appsDir?: string;
  noStart: boolean;
  proxy?: string;
  sandbox: Sandbox;
  watchdogSec: number;
  /** Daemon flags after `--`, checked by the daemon's own parser. */
  daemonFlags: string[];
  /** `reagent agent start`: the unit runs `reagent start agent` (the gateway link alone). */
  gatewayOnly: boolean;
}

class UsageError extends Error {}

export function runServiceCommand(command: 'service' | 'agent', args: readonly string[], io: ServiceIo): number {
  try {
    const [verb, ...rest] = args;
    const action = command === 'service' ? verb : AGENT_VERBS[verb ?? ''];
    switch (action) {
      case 'install':
        return install(parseInstallArgs(rest, io, command === 'agent'), io);
      case 'uninstall':
        return uninstall(parseDryRun(rest, `${command} ${verb}`), io);
      case 'start':
      case 'stop':
      case 'status':
        noArgs(rest, `${command} ${verb}`);
        return control(action, io);
      case 'logs':
        noArgs(rest, `${command} ${verb}`);
        return logs(io);
      default:
        throw new UsageError(verb === undefined ? 'missing action' : `unknown action ${JSON.stringify(verb)}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`reagent ${command}: ${err.message} (usage: "reagent ${command} -h")`);
      return 2;
    }
    io.err(`reagent ${command}: ${(err as Error).message}`);
    return 1;
  }
}

/** hoop's `agent start|stop|logs|remove` on the same unit. */
const AGENT_VERBS: Record<string, string> = { start: 'install', stop: 'stop', logs: 'logs', remove: 'uninstall', status: 'status' };

function noArgs(rest: readonly string[], what: string): void {
  if (rest.length > 0) throw new UsageError(`${what} takes no arguments, got ${JSON.stringify(rest[0])}`);
}

function parseDryRun(rest: readonly string[], what: string): boolean {
  if (rest.length === 0) return false;
  if (rest.length === 1 && /^--?dry-run$/.test(rest[0]!)) return true;
  throw new UsageError(`${what}: unexpected argument ${JSON.stringify(rest[0])}`);
}

// Go's flag grammar, as the Reagent's `service install` parses it: -name value,
// -name=value, --name; bools alone or =true/false. `--` hands the rest to the daemon.
const INSTALL_FLAGS: Record<string, 'string' | 'bool'> = {
  'dry-run': 'bool',
  config: 'string',
  agentDir: 'string',
  appsDir: 'string',
  noStart: 'bool',
  start: 'bool',
  proxy: 'string',
  sandbox: 'string',
  watchdog: 'string',
};

export function parseInstallArgs(argv: readonly string[], io: Pick<ServiceIo, 'cwd'>, gatewayOnly: boolean): InstallOptions {
  const values = new Map<string, string>();
  let daemonFlags: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      daemonFlags = argv.slice(i + 1);
      break;
    }
    const m = /^--?([A-Za-z-]+)(?:=(.*))?$/s.exec(token);
    const type = m ? INSTALL_FLAGS[m[1]!] : undefined;
    if (!m || !type) throw new UsageError(`flag provided but not defined: ${token} (daemon flags go after "--")`);
    const name = m[1]!;
    if (type === 'bool') {
      const v = m[2] ?? 'true';
      if (!/^(1|t|T|true|TRUE|True|0|f|F|false|FALSE|False)$/.test(v)) throw new UsageError(`invalid value ${JSON.stringify(v)} for flag -${name}: expected true or false`);
      values.set(name, /^(1|t|T|true|TRUE|True)$/.test(v) ? 'true' : 'false');
    } else {
      const v = m[2] ?? argv[++i];
      if (v === undefined) throw new UsageError(`flag needs an argument: -${name}`);
      values.set(name, v);
    }
  }
  const path = (name: string) => {
    const v = values.get(name);
    if (v === undefined) return undefined;
    if (v === '') throw new UsageError(`-${name}: expected a path`);
    return resolve(io.cwd, v);
  };
  const sandbox = values.get('sandbox') ?? 'strict';
  if (!(SANDBOXES as readonly string[]).includes(sandbox)) throw new UsageError(`--sandbox: expected one of ${SANDBOXES.join(', ')}, got ${JSON.stringify(sandbox)}`);
  const watchdog = values.get('watchdog') ?? '60';
  if (!/^\d+$/.test(watchdog) || Number(watchdog) > 86_400) throw new UsageError(`--watchdog: expected seconds (0 turns it off, at most 86400), got ${JSON.stringify(watchdog)}`);
  const proxy = values.get('proxy');
  if (proxy !== undefined && !isProxyUrl(proxy)) throw new UsageError(`-proxy: expected an http:// or https:// URL, got ${JSON.stringify(redactUrl(proxy))}`);
  const config = path('config');
  const appsDir = path('appsDir');
  return {
    dryRun: values.get('dry-run') === 'true',
    ...(config !== undefined ? { config } : {}),
    agentDir: path('agentDir') ?? '/opt/reagent',
    ...(appsDir !== undefined ? { appsDir } : {}),
    noStart: values.get('noStart') === 'true',
    ...(proxy !== undefined ? { proxy } : {}),
    sandbox: sandbox as Sandbox,
    watchdogSec: Number(watchdog),
    daemonFlags,
    gatewayOnly,
  };
}

function isProxyUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

function redactUrl(text: string): string {
  return text.replace(/\/\/[^/@]*@/, '//[REDACTED]@');
}

export interface InstallPlan {
  unit: string;
  /** Variable names and values for the EnvironmentFile; empty: no file. */
  env: Map<string, string>;
  /** Directories the unit needs before it starts. */
  directories: string[];
  /** Why the install would be unsafe or broken: an executable others can replace, paths the sandbox hides. */
  unsafe: string[];
  execStart: string[];
  /** A single executable: copied into `<agentDir>/versions/<version>/reagent`, which `current` points to. */
  adopt: { from: string; version: string } | null;
}

/** Everything install does, decided without touching the system. */
export function planInstall(opts: InstallOptions, io: Pick<ServiceIo, 'env' | 'self' | 'version' | 'paths'>): InstallPlan {
  const paths = io.paths ?? SYSTEM_PATHS;
  const daemonArgs = [
    ...(opts.config !== undefined ? ['-config', opts.config] : []),
    '-agentDir',
    opts.agentDir,
    ...(opts.appsDir !== undefined ? ['-appsDir', opts.appsDir] : []),
    ...opts.daemonFlags,
    ...(opts.gatewayOnly ? ['start', 'agent'] : []),
  ];
  // The daemon's own parser judges its flags now, not at the next boot.
  const parsed = parseFlags(daemonArgs, {}, { platform: 'linux', home: paths.home });
  if (!parsed.ok) throw new UsageError(`daemon flags: ${parsed.error}`);
  if (parsed.command !== null && !(opts.gatewayOnly && parsed.command === 'start agent')) {
    throw new UsageError(`daemon flags: a service runs the daemon, not "${parsed.command}"`);
  }
  const { flags } = parsed;
  if (flags.logFile !== '' && !isAbsolute(flags.logFile)) throw new UsageError(`daemon flags: -logFile must be an absolute path (the service starts in /), got ${JSON.stringify(flags.logFile)}`);
  if (!isAbsolute(flags.dbFileName)) throw new UsageError(`daemon flags: -dbFileName must be absolute or a name inside -agentDir`);

  const env = new Map<string, string>();
  for (const name of [...CAPTURED_ENV].sort()) {
    const value = io.env[name];
    if (value !== undefined && value.trim() !== '') env.set(name, value);
  }
  for (const name of Object.keys(io.env).sort()) {
    const value = io.env[name];
    if (name.startsWith('REAGENT_') && value !== undefined && value.trim() !== '') env.set(name, value);
  }
  if (opts.proxy !== undefined) {
    // grpc-js (the gateway link) reads the lower-case names, most other tools the upper-case ones.
    const noProxy = 'localhost,127.0.0.1,::1';
    for (const [k, v] of [['HTTPS_PROXY', opts.proxy], ['HTTP_PROXY', opts.proxy], ['NO_PROXY', noProxy]] as const) {
      env.set(k, v);
      env.set(k.toLowerCase(), v);
    }
  }

  const hoop = readHoopEnv(io.env);
  if (!hoop.ok) throw new UsageError(hoop.error);
  const gateway = hasGatewayCredentials(hoop.value, existsSync(join(paths.home, '.hoop', 'agent.toml')));
  if (!opts.gatewayOnly && !flags.config && !gateway && !flags.offline) {
    throw new UsageError(
      'nothing to connect to: give -config /path/to/device.flock, or set the gateway credentials (HOOP_KEY, or HOOP_GRPCURL and HOOP_TOKEN) in the environment of this command, or use "reagent agent start", or pass "-- -offline"',
    );
  }

  const directories = uniqueRoots([flags.agentDir, flags.appsDir, ...(flags.logFile ? [dirname(flags.logFile)] : []), dirname(flags.dbFileName)]);
  const self = io.self.map((f) => {
    try {
      return realpathSync(f);
    } catch {
      return f;
    }
  });
  // A single executable runs as <agentDir>/current/reagent, so the self-update can swap it (README
  // "Self-update"); a checkout (node + main.cjs) runs where it is and never updates itself.
  const adopt = self.length === 1 && isSemver(io.version) ? { from: self[0]!, version: io.version } : null;
  const layout = new UpdateLayout(flags.agentDir);
  const execStart = adopt ? [layout.currentBinary, ...daemonArgs] : [...self, ...daemonArgs];
  const unit = renderUnit({
    execStart,
    ...(adopt ? { execStartPre: [layout.knownGoodBinary, '-agentDir', flags.agentDir, 'update-guard'] } : {}),
    writablePaths: directories,
    optionalWritablePaths: [join(paths.home, '.hoop')],
    environmentFile: paths.envFile,
    home: paths.home,
    sandbox: opts.sandbox,
    watchdogSec: opts.watchdogSec,
    version: io.version,
  });
  const hidden =
    opts.sandbox === 'strict'
      ? [...directories, ...(flags.config ? [flags.config] : [])].filter((p) => /^\/(var\/)?tmp(\/|$)/.test(p)).map((p) => `${p} is under a /tmp the service cannot see (PrivateTmp=yes)`)
      : [];
  return { unit, env, directories, unsafe: [...replaceableBy(self), ...hidden], execStart, adopt };
}

/** Drops directories inside another one in the list. */
function uniqueRoots(dirs: string[]): string[] {
  const sorted = [...new Set(dirs.map((d) => resolve(d)))].sort();
  return sorted.filter((d) => !sorted.some((o) => o !== d && d.startsWith(o.endsWith(sep) ? o : o + sep)));
}

/**
 * A root service must not run a file that another user can replace: the
 * executable (or node and main.cjs), and every directory above them, must be
 * owned by root and not writable by group or others.
 */
export function replaceableBy(self: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const file of self) {
    let path: string;
    try {
      path = realpathSync(file);
    } catch {
      problems.push(`${file} does not exist`);
      continue;
    }
    for (let p = path; !seen.has(p); p = dirname(p)) {
      seen.add(p);
      const st = statSync(p);
      if (st.uid !== 0) problems.push(`${p} is owned by uid ${st.uid}, not root`);
      else if (st.mode & 0o022 && !(st.isDirectory() && st.mode & 0o1000)) problems.push(`${p} is writable by ${st.mode & 0o002 ? 'everyone' : 'its group'}`);
      if (p === dirname(p)) break;
    }
  }
  return problems;
}

function install(opts: InstallOptions, io: ServiceIo): number {
  const plan = planInstall(opts, io);
  const { unitDir, envFile, home } = io.paths ?? SYSTEM_PATHS;
  const unitFile = join(unitDir, UNIT_NAME);
  const steps = ['systemctl daemon-reload', `systemctl enable ${UNIT_NAME}`, ...(opts.noStart ? [] : [`systemctl restart ${UNIT_NAME}`])];
  if (opts.dryRun) {
    io.out(plan.unit.trimEnd());
    for (const problem of plan.unsafe) io.err(`# warning: ${problem}; install would refuse this`);
    io.err(`# would write ${unitFile} (0644)`);
    io.err(plan.env.size > 0 ? `# would write ${envFile} (0600) with ${[...plan.env.keys()].join(', ')}` : `# would remove ${envFile} if present (no credentials or proxy given)`);
    io.err(`# would create ${plan.directories.join(', ')}`);
    if (plan.adopt) io.err(`# would copy ${plan.adopt.from} to ${new UpdateLayout(dirname(dirname(plan.execStart[0]!))).binaryOf(plan.adopt.version)} and point current and known-good at it`);
    io.err(`# then: ${steps.join('; ')}`);
    return 0;
  }
  if (!ensureSystemd(io, 'install')) return 1;
  if (plan.unsafe.length > 0) {
    io.err(`reagent service install: refusing: ${plan.unsafe.join('; ')}. Put the executable in a root-owned place such as /usr/local/bin and the agent's files outside /tmp.`);
    return 1;
  }
  for (const dir of plan.directories) mkdirSync(dir, { recursive: true, mode: 0o750 });
  if (plan.adopt) {
    // The unit runs what is under the agent dir: it must be as safe as /usr/local/bin.
    const unsafe = replaceableBy([plan.adopt.from, dirname(plan.execStart[0]!).replace(/\/current$/, '')]);
    if (unsafe.length > 0) {
      io.err(`reagent service install: refusing: ${unsafe.join('; ')}`);
      return 1;
    }
    const layout = new UpdateLayout(dirname(dirname(plan.execStart[0]!)));
    layout.adopt(plan.adopt.from, plan.adopt.version);
    layout.point('current', plan.adopt.version);
    layout.point('known-good', plan.adopt.version);
    io.out(`installed ${layout.binaryOf(plan.adopt.version)}; ${layout.currentBinary} runs it`);
  }
  mkdirSync(join(home, '.hoop'), { recursive: true, mode: 0o700 });
  if (plan.env.size > 0) {
    mkdirSync(dirname(envFile), { recursive: true, mode: 0o755 });
    writeFileAtomic(envFile, renderEnvironmentFile(plan.env, io.version), 0o600);
  } else {
    rmSync(envFile, { force: true });
  }
  mkdirSync(unitDir, { recursive: true, mode: 0o755 });
  writeFileAtomic(unitFile, plan.unit, 0o644);
  io.out(`wrote ${unitFile}${plan.env.size > 0 ? ` and ${envFile} (${[...plan.env.keys()].join(', ')})` : ''}`);
  for (const step of steps) {
    const r = io.systemd.run('systemctl', step.split(' ').slice(1));
    if (r.code !== 0) {
      io.err(`reagent service install: "${step}" failed (${r.code}): ${r.output}`);
      return 1;
    }
  }
  io.out(opts.noStart ? `enabled ${UNIT_NAME}; not started (-noStart): "systemctl start reagent" starts it` : `enabled and started ${UNIT_NAME}; "reagent service status" shows how it runs`);
  return 0;
}

function uninstall(dryRun: boolean, io: ServiceIo): number {
  const { unitDir, envFile } = io.paths ?? SYSTEM_PATHS;
  const unitFile = join(unitDir, UNIT_NAME);
  if (dryRun) {
    io.out(`systemctl disable --now ${UNIT_NAME}\nrm -f ${unitFile} ${envFile}\nsystemctl daemon-reload`);
    return 0;
  }
  if (!ensureSystemd(io, 'uninstall')) return 1;
  // Not installed (or already stopped) is fine: uninstall makes it absent.
  io.systemd.run('systemctl', ['disable', '--now', UNIT_NAME]);
  rmSync(unitFile, { force: true });
  rmSync(envFile, { force: true });
  const reload = io.systemd.run('systemctl', ['daemon-reload']);
  if (reload.code !== 0) {
    io.err(`reagent service uninstall: "systemctl daemon-reload" failed (${reload.code}): ${reload.output}`);
    return 1;
  }
  io.out(`removed ${unitFile}; the agent directory and the apps were kept`);
  return 0;
}

function control(action: 'start' | 'stop' | 'status', io: ServiceIo): number {
  if (!ensureSystemd(io, action, false)) return 1;
  const args = action === 'status' ? ['status', UNIT_NAME, '--no-pager'] : [action, UNIT_NAME];
  return io.systemd.run('systemctl', args, true).code;
}

function logs(io: ServiceIo): number {
  if (!ensureSystemd(io, 'logs', false)) return 1;
  return io.systemd.run('journalctl', ['-u', UNIT_NAME, '-n', '200', '-f', '--no-pager'], true).code;
}

function ensureSystemd(io: ServiceIo, what: string, needsRoot = true): boolean {
  if (!io.systemd.booted()) {
    io.err(`reagent service ${what}: this machine does not run systemd (no /run/systemd/system); start "${io.self.join(' ')}" from its init system instead`);
    return false;
  }
  if (needsRoot && !io.systemd.isRoot()) {
    io.err(`reagent service ${what}: must run as root (it writes ${join((io.paths ?? SYSTEM_PATHS).unitDir, UNIT_NAME)})`);
    return false;
  }
  return true;
}

function writeFileAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}
