// The command line, as a function of argv, environment and output streams, so
// tests can run it in-process. `main.cts` binds it to the real process.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { COMMANDS, flagTakesValue, parseFlags, type CommandName, type Flags } from './flags.js';
import { renderHelp } from './help.js';
import { FLAGS } from './flags.js';
import { COMMAND_USAGE, asksForHelp } from './usage.js';
import { agentArch, agentVersion, buildInfo, renderVersion } from './version.cjs';
// replay and bugreport load their modules (recordings, exports, the replay
// comparator) on demand: the daemon never needs them, and each module loaded
// at start costs start-up time and resident memory on a device.
import { loadFlockConfig, type FlockConfig } from '../config/flock.js';
import { hasGatewayCredentials, readHoopEnv, type HoopEnv } from '../config/hoop-env.js';
import { loadTlsCa } from '../config/tls-ca.js';
import { Redactor } from '../adapters/log/redactor.js';
import { createLogger } from '../adapters/log/logger.js';
import { consoleRenderer } from '../adapters/log/console-render.js';
import { systemdNotifier, type Notifier } from '../adapters/systemd/notify.js';
import { InstanceLockedError } from '../adapters/store/instance-lock.js';
import { JournalPathError } from '../adapters/store/journal-path.js';
import { isDiskFullError } from '../adapters/store/storage-problem.js';
import { readJournalEnv } from '../config/journal-env.js';
import { EXIT } from './exit-codes.js';
import { startDaemon, type Daemon } from '../actors/daemon.js';
import { SystemClock } from '../actors/clock.js';
import { builtinMachines } from '../machines/registry.js';
import { chooseLinks } from './links.js';
import type { Link } from '../actors/link.js';
import type { Handover } from '../adapters/update/update-link.js';
import { prepareUpdates, probationMsFromEnv, runUpdateGuard } from './updates.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  home: string;
  /** Resolves when the daemon should stop (a signal). */
  untilStopped: () => Promise<string>;
  /** Raw streams for commands that relay bytes (`reagent exec`); the process's own by default. */
  streams?: { stdin: Readable & { isTTY?: boolean }; stdout: Writable; stderr: Writable };
  /**
   * What systemd told this process (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID),
   * taken out of the environment so sessions and apps do not inherit it.
   */
  supervisor?: NodeJS.ProcessEnv;
  /** This executable as a service would start it: [binary] or [node, main.cjs] (`reagent service`). */
  self?: readonly string[];
  cwd?: string;
}

/**
 * The exit code, or a running daemon for `main.cts` to keep alive. `handover`:
 * what the process does once the daemon stopped for a self-update (exit, or
 * execve the new version).
 */
export type CliResult = { exit: number; handover?: () => Handover | null } | { daemon: Daemon; done: Promise<number>; handover?: () => Handover | null };

const MiB = 1024 * 1024;

export async function runCli(argv: readonly string[], io: CliIo): Promise<CliResult> {
  const host = { platform: io.platform, home: io.home };
  const parsed = parseFlags(argv, io.env, host);
  if (!parsed.ok) {
    io.err(parsed.error);
    return { exit: 2 };
  }
  const { flags, command, positionals } = parsed;
  // `reagent -h`, `reagent COMMAND -h`, `reagent help [COMMAND]`.
  if (command === 'help') return help(positionals, host, io);
  if (command !== null && (flags.help || (isOwnOptions(command) && asksForHelp(positionals)))) {
    io.out(COMMAND_USAGE[command]);
    return { exit: 0 };
  }
  if (flags.help) {
    io.out(renderHelp(FLAGS, host));
    return { exit: 0 };
  }
  // As in the Reagent, these print and exit before anything else starts.
  if (flags.version || command === 'version') {
    io.out(renderVersion(buildInfo()));
    return { exit: 0 };
  }
  if (flags.arch) {
    io.out(agentArch());
    return { exit: 0 };
  }

  if (command === 'replay') {
    const { inspectReplay, parseReplayArgs, runReplay } = await import('./replay-command.js');
    const args = parseReplayArgs(positionals);
    if (!args.ok) {
      io.err(args.error);
      return { exit: 2 };
    }
    const inspect = args.args.inspect ?? flags.inspect ?? undefined;
    if (inspect) return { exit: await inspectReplay({ ...args.args, inspect, allowedHosts: splitHosts(flags.inspectHosts) }, builtinMachines(), { out: io.out, err: io.err, untilStopped: io.untilStopped }, agentVersion()) };
    return { exit: runReplay(args.args, builtinMachines(), { out: io.out, err: io.err }, agentVersion()) };
  }
  if (command === 'bugreport') {
    const { parseBugreportArgs, runBugreport, splitBugreportArgv } = await import('./bugreport-command.js');
    // Daemon flags typed after the command are parsed as if typed before it.
    const split = splitBugreportArgv(positionals, flagTakesValue);
    let daemonFlags = flags;
    if (split.daemon.length > 0) {
      const again = parseFlags([...argv.slice(0, argv.length - positionals.length - 1), ...split.daemon, 'bugreport'], io.env, host);
      if (!again.ok) {
        io.err(again.error);
        return { exit: 2 };
      }
      daemonFlags = again.flags;
    }
    const args = parseBugreportArgs(split.own);
    if (!args.ok) {
      io.err(args.error);
      return { exit: 2 };
    }
    return { exit: runBugreport(args.args, { flags: daemonFlags, env: io.env, registry: builtinMachines(), agentVersion: agentVersion(), now: Date.now(), out: io.out, err: io.err }) };
  }
  if (command === 'gateway' || command === 'admin' || command === 'connect' || command === 'exec') {
    // Loaded on demand: the daemon never pays for the development gateway's code.
    const { runGatewayCommand } = await import('../gateway/cli.js');
    const streams = io.streams ?? { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
    return { exit: await runGatewayCommand(command, positionals, { ...io, ...streams }) };
  }
  if (command === 'service' || command === 'agent') {
    const { runServiceCommand } = await import('./service-command.js');
    const { realSystemdHost } = await import('../adapters/systemd/host.js');
    return {
      exit: runServiceCommand(command, positionals, {
        out: io.out,
        err: io.err,
        env: io.env,
        cwd: io.cwd ?? process.cwd(),
        self: io.self ?? [process.execPath],
        version: agentVersion(),
        systemd: realSystemdHost(),
      }),
    };
  }
  if (command === 'self-test') {
    const { runSelfTest } = await import('./self-test-command.js');
    return { exit: await runSelfTest(positionals, { agentDir: flags.agentDir, out: io.out, err: io.err }) };
  }
  if (command === 'update-guard') return { exit: runUpdateGuard(flags, io.env, agentVersion(), io.out) };
  if (command !== null && command !== 'start agent') {
    io.err(`reagent ${command}: not available in this version yet`);
    return { exit: 2 };
  }

  const hoop = readHoopEnv(io.env);
  if (!hoop.ok) {
    io.err(hoop.error);
    return { exit: 2 };
  }
  const journalEnv = readJournalEnv(io.env);
  if (!journalEnv.ok) {
    io.err(journalEnv.error);
    return { exit: EXIT.usage };
  }
  const probationMs = probationMsFromEnv(io.env);
  if (typeof probationMs === 'string') {
    io.err(probationMs);
    return { exit: EXIT.usage };
  }
  // Checked before anything starts: a bad CA is one line and exit 2, not a link failing after "ready".
  if (hoop.value.tlsCa) {
    const ca = loadTlsCa(hoop.value.tlsCa);
    if (!ca.ok) {
      io.err(ca.error);
      return { exit: EXIT.usage };
    }
  }
  const agentToml = join(io.home, '.hoop', 'agent.toml');
  const gateway = hasGatewayCredentials(hoop.value, nonEmptyFile(agentToml));
  if (!flags.config && !gateway && !flags.offline && command !== 'start agent') {
    io.out(nothingToDo(agentToml));
    return { exit: 0 };
  }

  let flock: FlockConfig | undefined;
  if (flags.config) {
    const loaded = loadFlockConfig(flags.config, (p) => readFileSync(p, 'utf8'));
    if (!loaded.ok) {
      io.err(loaded.error);
      return { exit: 1 };
    }
    flock = loaded.config;
    for (const note of loaded.notes) io.err(`note: ${note}`);
  }

  return startDaemonFromCli(flags, hoop.value, journalEnv.bufferBytes, flock, gateway, command === 'start agent', io, { argv, probationMs });
}

async function startDaemonFromCli(
  flags: Flags,
  hoop: HoopEnv,
  journalBufferBytes: number,
  flock: FlockConfig | undefined,
  gateway: boolean,
  gatewayOnly: boolean,
  io: CliIo,
  update: { argv: readonly string[]; probationMs: number },
): Promise<CliResult> {
  const redactor = new Redactor();
  if (flock) redactor.addSecret(flock.secret);
  if (hoop.token) redactor.addSecret(hoop.token);
  if (hoop.key) {
    redactor.addSecret(hoop.key.secret);
    redactor.addSecret(hoop.key.raw);
  }
  if (hoop.gatewayAdminToken) redactor.addSecret(hoop.gatewayAdminToken);
  const human = hoop.logEncoding === 'console' || flags.prettyLogging;
  const logger = createLogger({
    level: flags.debug ? 'debug' : hoop.logLevel,
    encoding: hoop.logEncoding,
    pretty: flags.prettyLogging,
    ...(human ? { render: await consoleRenderer(flags.prettyLogging) } : {}),
    file: flags.logFile || undefined,
    redactor,
    stdout: { write: (chunk: string) => io.out(chunk.replace(/\n$/, '')) },
  });

  // First thing of a start: a new version on probation is judged before it opens the journal or dials out.
  const supervised = Boolean(io.supervisor?.NOTIFY_SOCKET || io.env.INVOCATION_ID);
  const networkLinks = flags.offline ? [] : [...(flock ? ['studio'] : []), ...(gateway || gatewayOnly ? ['gateway'] : [])];
  const updates = prepareUpdates({ argv: update.argv, flags, flock, env: io.env, version: agentVersion(), supervised, networkLinks, now: new Date().toISOString() }, update.probationMs);
  if (updates.kind === 'restart') {
    logger.error({}, updates.note);
    io.err(`reagent: ${updates.note}`);
    return { exit: 0, handover: () => ({ ...(supervised ? { kind: 'exit' as const } : { kind: 'exec' as const, path: updates.link.currentBinary, args: [...update.argv] }) }) };
  }
  for (const note of updates.notes) logger.warn({}, note);
  // -offline looks for no update and no studio can ask for one: the update link runs then only to judge a version on probation.
  const updateLinks = !flags.offline || updates.onProbation ? [updates.link] : [];
  const links = [...(await chooseLinks({ flags, flock, hoop, gatewayCredentials: gateway, gatewayOnly, redactor, env: io.env, home: io.home, out: io.out, updates: updates.link }, logger)), ...updateLinks];
  let daemon: Daemon;
  try {
    daemon = await startDaemon({
      config: {
        agentDir: flags.agentDir,
        dbFile: flags.dbFileName,
        journalMaxBytes: flags.journalMaxMB * MiB,
        compactEveryMs: 60_000,
        offline: flags.offline,
        agentVersion: agentVersion(),
        journalBufferBytes,
      },
      logger,
      clock: new SystemClock(),
      random: Math.random,
      registry: builtinMachines(),
      links,
    });
  } catch (err) {
    // One line each, and an exit code a supervisor can tell apart (README "Exit codes").
    if (err instanceof InstanceLockedError) {
      io.err(err.message);
      return { exit: EXIT.failed };
    }
    const line = `reagent: cannot start: ${redactor.scrubString((err as Error).message)}`;
    if (err instanceof JournalPathError) {
      io.err(`${line} (exit ${EXIT.journalPath})`);
      return { exit: EXIT.journalPath };
    }
    if (isDiskFullError(err)) {
      io.err(`${line}; free some space, a later start will work (exit ${EXIT.diskFull})`);
      return { exit: EXIT.diskFull };
    }
    io.err(line);
    return { exit: EXIT.failed };
  }

  const profiling = flags.profiling ? await startProfiling(flags.profilingPort, logger, io) : undefined;
  const inspector = flags.inspect ? await startInspector(flags.inspect, splitHosts(flags.inspectHosts), daemon, redactor, flock?.name, logger, io) : undefined;
  const metrics = flags.metrics ? await startMetrics(flags.metrics, daemon, links, flags, logger) : undefined;
  logger.info({ mode: flags.offline ? 'offline' : 'online', links: links.map((l) => l.name) }, 'ready');
  updates.link.ready();
  const supervision = await superviseBySystemd(io.supervisor ?? {}, links.map((l) => l.name), logger);

  // A link that gives up for good (web registration never completed) stops the daemon, as hoop exits.
  const linkEnds = links.flatMap((l) => (l.finished ? [l.finished.then((e) => ({ signal: `link ${l.name}: ${e.reason}`, exit: e.exitCode }))] : []));
  const done = Promise.race([io.untilStopped().then((signal) => ({ signal, exit: 0 })), ...linkEnds]).then(async ({ signal, exit }) => {
    logger.info({ signal }, 'stopping');
    await supervision.stop();
    await inspector?.close();
    await profiling?.close();
    await metrics?.close();
    await daemon.stop();
    return exit;
  });
  return { daemon, done, handover: () => updates.link.handover };
}

/**
 * Under systemd (Type=notify): READY=1 now, WATCHDOG=1 pings while the event
 * loop runs, STOPPING=1 on the way out. Without NOTIFY_SOCKET, nothing.
 */
async function superviseBySystemd(supervisor: NodeJS.ProcessEnv, links: string[], logger: Logger): Promise<{ stop(): Promise<void> }> {
  const notifier: Notifier | null = systemdNotifier({ env: supervisor, pid: process.pid, onError: (message) => logger.error({ message }, 'systemd notification failed') });
  if (!notifier) return { stop: async () => {} };
  const ready = await notifier.ready(`running; links: ${links.join(', ') || 'none'}`);
  const stopWatchdog = notifier.startWatchdog();
  logger.info({ ready, watchdogMs: notifier.watchdogIntervalMs }, 'told systemd we are ready');
  return {
    async stop() {
      stopWatchdog();
      await notifier.stopping();
    },
  };
}

/**
 * `-inspect`: the statechart inspector on the daemon's actor system. Its URL
 * carries the access token, so it goes to stderr once and never to the log.
 * A failure to start it is logged; the daemon runs on without it.
 */
async function startInspector(address: string, hosts: readonly string[], daemon: Daemon, redactor: Redactor, name: string | undefined, logger: Logger, io: CliIo) {
  try {
    const { startLiveInspector } = await import('../inspector/live.js');
    const inspector = await startLiveInspector({
      system: daemon.system,
      registry: builtinMachines(),
      run: daemon.run,
      agentVersion: agentVersion(),
      address,
      allowedHosts: hosts,
      title: name ?? 'reagent daemon',
      now: Date.now(),
      scrub: (v) => redactor.scrub(v),
      history: () => {
        try {
          daemon.journal.commit();
        } catch {
          // a full disk: the page shows what is committed; the runtime retries and says why
        }
        return daemon.journal.readEvents({ run: daemon.run, fromSeq: daemon.journal.nextSeq - 50_000 });
      },
    });
    io.err(`inspector: ${inspector.url}`);
    logger.info({ address: inspector.origin }, 'inspector listening (open the URL with the token printed on stderr)');
    return inspector;
  } catch (err) {
    logger.error({ err, address }, 'inspector failed to start; running without it');
    return undefined;
  }
}

function help(positionals: readonly string[], host: { platform: NodeJS.Platform; home: string }, io: CliIo): CliResult {
  if (asksForHelp(positionals)) {
    io.out(COMMAND_USAGE.help);
    return { exit: 0 };
  }
  if (positionals.length === 0) {
    io.out(renderHelp(FLAGS, host));
    return { exit: 0 };
  }
  const asked = positionals.join(' ');
  const spec = COMMANDS.find((c) => c.name === asked);
  if (!spec) {
    io.err(`reagent help: no command ${JSON.stringify(asked)}; commands: ${COMMANDS.filter((c) => !('hidden' in c)).map((c) => c.name).join(', ')}`);
    return { exit: 2 };
  }
  io.out(COMMAND_USAGE[spec.name]);
  return { exit: 0 };
}

function isOwnOptions(command: CommandName): boolean {
  const spec = COMMANDS.find((c) => c.name === command);
  return spec !== undefined && 'ownOptions' in spec && spec.ownOptions;
}

/**
 * `-profiling`: CPU profiles and heap snapshots from the daemon itself (see
 * inspector/profiling.ts). Like the inspector, its URL carries the token, so
 * it goes to stderr once and never to the log; a failure to start is logged
 * and the daemon runs on without it.
 */
async function startProfiling(port: number, logger: Logger, io: CliIo) {
  try {
    const { startProfilingServer } = await import('../inspector/profiling.js');
    const server = await startProfilingServer({ port });
    io.err(`profiling: ${server.url}`);
    logger.info({ address: server.origin }, 'profiling endpoint listening (open the URL with the token printed on stderr)');
    return server;
  } catch (err) {
    logger.error({ err, port }, 'profiling endpoint failed to start; running without it');
    return undefined;
  }
}

/**
 * `-metrics`: /healthz and /metrics. The address is logged (it holds no
 * token: the endpoint is read-only by design); a failure to start is logged
 * and the daemon runs on without it.
 */
async function startMetrics(address: string, daemon: Daemon, links: Link[], flags: Flags, logger: Logger) {
  try {
    const { startDaemonMetrics } = await import('../adapters/metrics/from-daemon.js');
    const clock = new SystemClock();
    const server = await startDaemonMetrics({ address, daemon, links, offline: flags.offline, version: agentVersion(), agentDir: flags.agentDir, now: () => clock.now(), logger });
    logger.info({ address: server.origin }, `metrics listening: ${server.origin}/metrics and ${server.origin}/healthz`);
    return server;
  } catch (err) {
    logger.error({ err, address }, 'metrics endpoint failed to start; running without it');
    return undefined;
  }
}

/** `-inspectHosts`, validated by the flag parser, as a list. */
function splitHosts(value: string): string[] {
  return value === '' ? [] : value.split(',');
}

function nonEmptyFile(path: string): boolean {
  try {
    return existsSync(path) && statSync(path).size > 0;
  } catch {
    return false;
  }
}

function nothingToDo(agentToml: string): string {
  return [
    'reagent: nothing to connect to, so nothing to do.',
    '  Studio link (IronFlock): pass the device configuration file downloaded from the studio:',
    '      reagent -config /path/to/device.flock',
    '  Gateway link (hoop): set HOOP_GRPCURL and HOOP_TOKEN, or HOOP_KEY, or AUTO_REGISTER=<org>,',
    `      or write ${agentToml} (token, grpc_url), or run "reagent start agent" to register through the web.`,
    '  To run with local state only (apps keep converging, no network): add -offline.',
    'Run "reagent -help" for every flag.',
  ].join('\n');
}

export function defaultIo(): Omit<CliIo, 'untilStopped'> {
  return {
    out: (t) => process.stdout.write(t + '\n'),
    err: (t) => process.stderr.write(t + '\n'),
    env: process.env,
    platform: process.platform,
    home: homedir(),
  };
}
