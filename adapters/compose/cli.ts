// The host's compose CLI: `docker compose` (the v2 plugin) when it answers,
// else `docker-compose` (v1, Debian's 1.29). The daemon's engine is passed on
// as DOCKER_HOST so the CLI talks to the same dockerd as dockerode; nothing
// else of the daemon's environment goes to the child (no secret can leak into
// it that way). Every run is bounded: a time limit (then TERM, then KILL),
// and only the last `maxOutputBytes` of its output are kept.

import { spawn } from 'node:child_process';

export interface ComposeCli {
  /** Executable and leading arguments, e.g. ["docker", "compose"] or ["docker-compose"]. */
  command: readonly string[];
  /** First line of `<cli> version`. */
  version: string;
}

export interface ComposeRunOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs: number;
  maxOutputBytes?: number;
  signal?: AbortSignal;
  /** Each complete output line (stdout and stderr), as it comes. */
  onLine?(line: string): void;
}

export interface ComposeRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The tail of stdout+stderr, at most maxOutputBytes. */
  output: string;
  timedOut: boolean;
}

export class ComposeError extends Error {}

const PASSED_ENV = ['PATH', 'HOME', 'DOCKER_HOST', 'DOCKER_CONFIG', 'DOCKER_CERT_PATH', 'DOCKER_TLS_VERIFY', 'LANG', 'TMPDIR'];
const DEFAULT_MAX_OUTPUT = 64 * 1024;
const KILL_GRACE_MS = 5000;

/** The child's environment: the few variables the compose CLI needs, from the daemon's env. */
export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const k of PASSED_ENV) if (env[k] !== undefined) out[k] = env[k];
  out['PATH'] ??= process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin';
  // No ANSI colours or progress bars in what ends up in the app's log.
  out['COMPOSE_INTERACTIVE_NO_CLI'] = '1';
  out['NO_COLOR'] = '1';
  return out;
}

/** Runs `command args…`; resolves with its exit status, never rejects for a non-zero exit. */
export function runCompose(command: readonly string[], args: readonly string[], opts: ComposeRunOptions): Promise<ComposeRunResult> {
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new ComposeError('canceled before it started'));
    const [exe, ...lead] = command;
    if (exe === undefined) return reject(new ComposeError('no compose command'));
    // Its own process group, so a stop reaches what the CLI started too (they hold its pipes open).
    const child = spawn(exe, [...lead, ...args], { env: childEnv(opts.env), cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let tail = '';
    let partial = '';
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const keep = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      tail += text;
      if (tail.length > max) tail = tail.slice(tail.length - max);
      if (!opts.onLine) return;
      partial += text;
      const lines = partial.split(/\r?\n/);
      partial = lines.pop() ?? '';
      if (partial.length > max) partial = partial.slice(partial.length - max);
      for (const l of lines) if (l.trim() !== '') opts.onLine(l);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const signalGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        child.kill(sig);
      }
    };
    const stop = (): void => {
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    const onAbort = (): void => stop();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new ComposeError(`${command.join(' ')}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (partial.trim() !== '' && opts.onLine) opts.onLine(partial);
      resolve({ code, signal, output: tail, timedOut });
    });
  });
}

/**
 * Which compose CLI the host has: `docker compose` if `docker compose version`
 * succeeds, else `docker-compose` if `docker-compose version` does. Throws a
 * clear error naming both when neither works.
 */
export async function detectComposeCli(env: NodeJS.ProcessEnv, timeoutMs = 15_000): Promise<ComposeCli> {
  const tried: string[] = [];
  for (const command of [['docker', 'compose'], ['docker-compose']] as const) {
    try {
      const r = await runCompose(command, ['version'], { env, timeoutMs, maxOutputBytes: 4096 });
      if (r.code === 0) return { command, version: r.output.trim().split('\n')[0] ?? '' };
      tried.push(`"${command.join(' ')} version" exited ${r.code ?? r.signal}`);
    } catch (err) {
      tried.push(`"${command.join(' ')}": ${(err as Error).message}`);
    }
  }
  throw new ComposeError(`no compose CLI on this host (${tried.join('; ')}): install the docker compose plugin or docker-compose`);
}
