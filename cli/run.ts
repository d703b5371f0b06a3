// The command line, as a function of argv, environment and output streams, so
// tests can run it in-process. `main.cts` binds it to the real process.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { parseFlags, type Flags } from './flags.js';
import { renderHelp } from './help.js';
import { FLAGS } from './flags.js';
import { agentArch, agentVersion } from './version.js';
// replay and bugreport load their modules (recordings, exports, the replay
// comparator) on demand: the daemon never needs them, and each module loaded
// at start costs start-up time and resident memory on a device.
import { loadFlockConfig, type FlockConfig } from '../config/flock.js';
import { hasGatewayCredentials, readHoopEnv, type HoopEnv } from '../config/hoop-env.js';
import { Redactor } from '../adapters/log/redactor.js';
import { createLogger } from '../adapters/log/logger.js';
import { InstanceLockedError } from '../adapters/store/instance-lock.js';
import { startDaemon, type Daemon } from '../actors/daemon.js';
import { SystemClock } from '../actors/clock.js';
import { builtinMachines } from '../machines/registry.js';
import { chooseLinks } from './links.js';

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
}

/** The exit code, or a running daemon for `main.cts` to keep alive. */
export type CliResult = { exit: number } | { daemon: Daemon; done: Promise<number> };

const MiB = 1024 * 1024;

export async function runCli(argv: readonly string[], io: CliIo): Promise<CliResult> {
  const host = { platform: io.platform, home: io.home };
  const parsed = parseFlags(argv, io.env, host);
  if (!parsed.ok) {
    io.err(parsed.error);
    return { exit: 2 };
  }
  const { flags, command, positionals } = parsed;
  if (flags.help) {
    io.out(renderHelp(FLAGS, host));
    return { exit: 0 };
  }
  // As in the Reagent, these print and exit before anything else starts.
  if (flags.version) {
    io.out(agentVersion());
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
    if (inspect) return { exit: await inspectReplay({ ...args.args, inspect }, builtinMachines(), { out: io.out, err: io.err, untilStopped: io.untilStopped }, agentVersion()) };
    return { exit: runReplay(args.args, builtinMachines(), { out: io.out, err: io.err }, agentVersion()) };
  }
  if (command === 'bugreport') {
    const { parseBugreportArgs, runBugreport } = await import('./bugreport-command.js');
    const args = parseBugreportArgs(positionals);
    if (!args.ok) {
      io.err(args.error);
      return { exit: 2 };
    }
    return { exit: runBugreport(args.args, { flags, env: io.env, registry: builtinMachines(), agentVersion: agentVersion(), now: Date.now(), out: io.out, err: io.err }) };
  }
  if (command === 'gateway' || command === 'admin' || command === 'connect' || command === 'exec') {
    // Loaded on demand: the daemon never pays for the development gateway's code.
    const { runGatewayCommand } = await import('../gateway/cli.js');
    const streams = io.streams ?? { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
    return { exit: await runGatewayCommand(command, positionals, { ...io, ...streams }) };
  }
  if (command !== null && command !== 'start agent') {
    io.err(`reagent ${command}: not available in this version yet`);
    return { exit: 2 };
  }

  const hoop = readHoopEnv(io.env);
  if (!hoop.ok) {
    io.err(hoop.error);
    return { exit: 2 };
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

  return startDaemonFromCli(flags, hoop.value, flock, gateway, command === 'start agent', io);
}

async function startDaemonFromCli(
  flags: Flags,
  hoop: HoopEnv,
  flock: FlockConfig | undefined,
  gateway: boolean,
  gatewayOnly: boolean,
  io: CliIo,
): Promise<CliResult> {
  const redactor = new Redactor();
  if (flock) redactor.addSecret(flock.secret);
  if (hoop.token) redactor.addSecret(hoop.token);
  if (hoop.key) redactor.addSecret(hoop.key.secret);
  const logger = createLogger({
    level: flags.debug ? 'debug' : hoop.logLevel,
    encoding: hoop.logEncoding,
    pretty: flags.prettyLogging,
    file: flags.logFile || undefined,
    redactor,
    stdout: { write: (chunk: string) => io.out(chunk.replace(/\n$/, '')) },
  });
  if (flags.profiling) {
    // Go's pprof has no twin in Node; the V8 inspector gives CPU and heap profiles.
    const { open: openInspector } = await import('node:inspector');
    openInspector(flags.profilingPort, '127.0.0.1');
    logger.info({ port: flags.profilingPort }, 'V8 inspector listening on 127.0.0.1 for profiling');
  }

  const links = await chooseLinks({ flags, flock, hoop, gatewayCredentials: gateway, gatewayOnly, redactor, env: io.env, home: io.home, out: io.out }, logger);
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
      },
      logger,
      clock: new SystemClock(),
      random: Math.random,
      registry: builtinMachines(),
      links,
    });
  } catch (err) {
    if (err instanceof InstanceLockedError) {
      io.err(err.message);
      return { exit: 1 };
    }
    io.err(`reagent: cannot start: ${redactor.scrubString((err as Error).message)}`);
    return { exit: 1 };
  }

  const inspector = flags.inspect ? await startInspector(flags.inspect, daemon, redactor, flock?.name, logger, io) : undefined;
  logger.info({ mode: flags.offline ? 'offline' : 'online', links: links.map((l) => l.name) }, 'ready');

  // A link that gives up for good (web registration never completed) stops the daemon, as hoop exits.
  const linkEnds = links.flatMap((l) => (l.finished ? [l.finished.then((e) => ({ signal: `link ${l.name}: ${e.reason}`, exit: e.exitCode }))] : []));
  const done = Promise.race([io.untilStopped().then((signal) => ({ signal, exit: 0 })), ...linkEnds]).then(async ({ signal, exit }) => {
    logger.info({ signal }, 'stopping');
    await inspector?.close();
    await daemon.stop();
    return exit;
  });
  return { daemon, done };
}

/**
 * `-inspect`: the statechart inspector on the daemon's actor system. Its URL
 * carries the access token, so it goes to stderr once and never to the log.
 * A failure to start it is logged; the daemon runs on without it.
 */
async function startInspector(address: string, daemon: Daemon, redactor: Redactor, name: string | undefined, logger: Logger, io: CliIo) {
  try {
    const { startLiveInspector } = await import('../inspector/live.js');
    const inspector = await startLiveInspector({
      system: daemon.system,
      registry: builtinMachines(),
      run: daemon.run,
      agentVersion: agentVersion(),
      address,
      title: name ?? 'reagent daemon',
      now: Date.now(),
      scrub: (v) => redactor.scrub(v),
      history: () => {
        daemon.journal.commit();
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
