// sd_notify for a Node process. The protocol is one AF_UNIX datagram to
// $NOTIFY_SOCKET, and Node has no AF_UNIX datagram sockets, so each message is
// sent by spawning systemd's own `systemd-notify` (the unit sets
// NotifyAccess=all so a child may speak for us). Since systemd 246 it waits on
// a barrier until the manager has processed the message, so it cannot exit
// before systemd attributes it to our unit (the classic race of NotifyAccess=all).
// Measured cost: README "Running as a service".
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export type Spawn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface NotifyOptions {
  env: NodeJS.ProcessEnv;
  pid: number;
  /** Reports a failed send (the daemon logs it). */
  onError: (message: string) => void;
  spawn?: Spawn;
  command?: string;
  /** A send still running after this long is killed. */
  timeoutMs?: number;
}

export interface Notifier {
  /** READY=1: the unit leaves "activating" (Type=notify). */
  ready(status: string): Promise<boolean>;
  /** STOPPING=1 before a clean shutdown. */
  stopping(): Promise<boolean>;
  /** Starts WATCHDOG=1 pings when systemd asked for them (WATCHDOG_USEC); returns the stop function. */
  startWatchdog(): () => void;
  /** The ping interval, or null without a watchdog. */
  readonly watchdogIntervalMs: number | null;
}

/** A notifier when systemd started us with a notification socket, null otherwise. */
export function systemdNotifier(options: NotifyOptions): Notifier | null {
  const socket = options.env['NOTIFY_SOCKET'];
  if (!socket) return null;
  const spawn = options.spawn ?? ((c, a, o) => nodeSpawn(c, [...a], o));
  const command = options.command ?? 'systemd-notify';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const interval = watchdogInterval(options.env, options.pid);
  let inFlight = false;

  const send = (args: string[]): Promise<boolean> =>
    new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(command, args, { env: { NOTIFY_SOCKET: socket, PATH: options.env['PATH'] ?? '/usr/bin:/bin' }, stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (err) {
        options.onError(`systemd-notify ${args.join(' ')}: ${(err as Error).message}`);
        resolve(false);
        return;
      }
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      let done = false;
      const finish = (ok: boolean, why?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (!ok) options.onError(`systemd-notify ${args.join(' ')}: ${why ?? 'failed'}`);
        resolve(ok);
      };
      child.once('error', (err) => finish(false, err.message));
      child.once('exit', (code, signal) => finish(code === 0, signal ? `killed by ${signal}` : `exit ${code}${stderr ? `: ${stderr.trim()}` : ''}`));
    });

  return {
    watchdogIntervalMs: interval,
    ready: (status) => send(['--ready', `--status=${status.replace(/[\r\n]+/g, ' ')}`]),
    stopping: () => send(['STOPPING=1']),
    startWatchdog() {
      if (interval === null) return () => {};
      const timer = setInterval(() => {
        // One ping at a time: a send stuck behind a busy manager must not pile up processes.
        if (inFlight) return;
        inFlight = true;
        void send(['WATCHDOG=1']).finally(() => (inFlight = false));
      }, interval);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}

/**
 * A third of WATCHDOG_USEC (systemd asks for at least every half; the third
 * leaves room for a slow spawn), or null when there is no watchdog for us:
 * unset, unparsable, or WATCHDOG_PID naming another process.
 */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = env['WATCHDOG_USEC'];
  if (!usec || !/^\d+$/.test(usec) || Number(usec) === 0) return null;
  const forPid = env['WATCHDOG_PID'];
  if (forPid && forPid !== String(pid)) return null;
  return Math.max(1, Math.floor(Number(usec) / 1000 / 3));
}
