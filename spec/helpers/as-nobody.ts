// Runs a command as uid/gid 65534 (nobody) with no supplementary groups, the
// way the identity tests put an unprivileged local user next to the root
// daemon: `setpriv --reuid=65534 --regid=65534 --clear-groups`.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const NOBODY = 65534;

/** Why privileges cannot be dropped here, or undefined when they can. */
export function cannotDropPrivileges(): string | undefined {
  if (process.platform !== 'linux') return `privilege tests need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'privilege tests need root (they drop to uid 65534)';
  if (!['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p))) return 'setpriv (util-linux) is missing';
  return undefined;
}

/**
 * Under CI the identity tests must run: a missing prerequisite fails there,
 * and skips (with the reason) on a developer's machine.
 */
export function privilegeSkip(): string | false {
  const why = cannotDropPrivileges();
  if (why && (process.env['CI'] === 'true' || process.env['CI'] === '1')) throw new Error(`CI=true but ${why}`);
  return why ?? false;
}

export interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function asNobody(cmd: string, args: readonly string[], opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      'setpriv',
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', cmd, ...args],
      { timeout: opts.timeoutMs ?? 30_000, cwd: opts.cwd ?? '/', env: opts.env ?? { PATH: process.env.PATH, HOME: '/nonexistent' }, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `node -e SCRIPT` as nobody; the script prints one JSON line, which is returned parsed. */
export async function nodeAsNobody<T>(script: string, args: readonly string[] = []): Promise<T> {
  const r = await asNobody(process.execPath, ['--input-type=module', '-e', script, '--', ...args]);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`node as uid ${NOBODY} printed no JSON (exit ${r.code}); stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}
