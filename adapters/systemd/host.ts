// The machine's systemd, as `reagent service` uses it: is it the init system,
// and run systemctl/journalctl. Injected so the command's file and ordering
// logic can be exercised where systemd is not PID 1.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface RunResult {
  code: number;
  /** Captured stdout+stderr; empty when the output went to the terminal. */
  output: string;
}

export interface SystemdHost {
  /** sd_booted(): systemd is this machine's init system. */
  booted(): boolean;
  isRoot(): boolean;
  /** Runs a command; `inherit` passes the terminal through (status, logs). */
  run(command: 'systemctl' | 'journalctl', args: readonly string[], inherit?: boolean): RunResult;
}

export function realSystemdHost(): SystemdHost {
  return {
    // What sd_booted(3) checks.
    booted: () => existsSync('/run/systemd/system'),
    isRoot: () => process.getuid?.() === 0,
    run(command, args, inherit = false) {
      const r = spawnSync(command, [...args], { stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 120_000 });
      if (r.error) return { code: 127, output: `${command}: ${r.error.message}` };
      return { code: r.status ?? 1, output: inherit ? '' : `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
    },
  };
}
