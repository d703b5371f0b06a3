// What the device API may do to the host: power actions (`system_reboot`,
// `system_shutdown`, `system_restart_agent`) and running commands
// (`execute_cmd`). Behind an interface so tests observe them instead of
// rebooting the machine that runs the tests.
import { execFile, spawn } from 'node:child_process';

export type PowerAction = 'reboot' | 'shutdown' | 'restart-agent';

export interface CommandRun {
  /** stdout then stderr, as text. */
  output: string;
  exitCode: number | null;
  timedOut: boolean;
}

export interface StartedCommand {
  pid: number;
  /** stdout lines so far. */
  lines(): string[];
}

export interface SystemAdapter {
  power(action: PowerAction): Promise<void>;
  /** Runs to completion (or the timeout, then kills it). */
  run(cmd: string, args: readonly string[], timeoutMs: number): Promise<CommandRun>;
  /** Starts and returns at once; the command keeps running. */
  start(cmd: string, args: readonly string[]): StartedCommand;
}

const POWER_COMMANDS: Record<PowerAction, [string, string[]]> = {
  reboot: ['systemctl', ['reboot']],
  shutdown: ['systemctl', ['poweroff']],
  'restart-agent': ['systemctl', ['restart', 'reagent']],
};

const MAX_OUTPUT = 4 * 1024 * 1024;

/** The real host: systemd for power actions, child processes for commands. */
export class HostSystem implements SystemAdapter {
  power(action: PowerAction): Promise<void> {
    const [cmd, args] = POWER_COMMANDS[action];
    return new Promise((resolve, reject) => {
      execFile(cmd, args, { timeout: 30_000 }, (err, _out, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
        else resolve();
      });
    });
  }

  run(cmd: string, args: readonly string[], timeoutMs: number): Promise<CommandRun> {
    return new Promise((resolve) => {
      execFile(cmd, [...args], { timeout: timeoutMs, maxBuffer: MAX_OUTPUT, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
        if (e && typeof e.code === 'string') {
          // ENOENT and the like: the command never ran.
          resolve({ output: `${cmd}: ${e.message}`, exitCode: null, timedOut: false });
          return;
        }
        resolve({ output: `${stdout}${stderr}`, exitCode: e ? (typeof e.code === 'number' ? e.code : null) : 0, timedOut: e?.killed === true });
      });
    });
  }

  start(cmd: string, args: readonly string[]): StartedCommand {
    const child = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'ignore'], detached: false });
    const lines: string[] = [];
    let rest = '';
    let bytes = 0;
    child.stdout.on('data', (d: Buffer) => {
      if (bytes > MAX_OUTPUT) return;
      bytes += d.length;
      const parts = (rest + d.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts);
    });
    child.stdout.on('end', () => {
      if (rest) lines.push(rest);
      rest = '';
    });
    child.on('error', () => {});
    return { pid: child.pid ?? -1, lines: () => [...lines] };
  }
}
