// Another user on the same machine, for the tests where identity matters:
// processes run under `setpriv --reuid=65534 --regid=65534 --clear-groups`
// (nobody). Tests run as root; without root (or setpriv) these tests skip
// loudly, and fail when CI=true, where they must run.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

export const NOBODY = 65534;
const SETPRIV = ['--reuid=65534', '--regid=65534', '--clear-groups'];

/** Why processes cannot be started as another user here, or null when they can. */
export function unprivilegedUnavailable(): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'tests do not run as root';
  const probe = spawnSync('setpriv', [...SETPRIV, process.execPath, '-e', 'process.exit(process.getuid() === 65534 ? 0 : 3)'], { encoding: 'utf8' });
  if (probe.error) return `setpriv: ${probe.error.message}`;
  if (probe.status !== 0) return `setpriv could not run ${process.execPath} as uid 65534 (exit ${probe.status}): ${probe.stderr.trim()}`;
  return null;
}

/** The reason to skip, printed loudly; under CI=true a missing capability is a failure instead. */
export function skipUnlessUnprivileged(): string | false {
  const why = unprivilegedUnavailable();
  if (why === null) return false;
  if (process.env.CI === 'true') throw new Error(`cannot run processes as uid 65534 in CI: ${why}`);
  process.stderr.write(`\n!!! SKIPPED: identity tests need root and setpriv (${why})\n\n`);
  return why;
}

/** argv that runs `args` (node first) as uid/gid 65534 with no supplementary groups. */
export function asNobody(args: string[]): { command: string; args: string[] } {
  return { command: 'setpriv', args: [...SETPRIV, ...args] };
}

export function canRead(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

export interface NobodyListener {
  child: ChildProcess;
  pid: number;
  port: number;
  /** Connections accepted and bytes received, as the squatter saw them. */
  connections(): number;
  received(): Buffer;
  stop(): Promise<void>;
}

// What a local attacker would run: listen first, record whatever arrives.
const LISTENER = `
const net = require('node:net');
const [host, port] = [process.argv[1], Number(process.argv[2])];
const server = net.createServer((s) => {
  process.stdout.write('CONNECTION\\n');
  s.on('data', (d) => process.stdout.write('DATA ' + d.toString('base64') + '\\n'));
  s.on('error', () => {});
});
server.listen(port, host, () => process.stdout.write('LISTENING ' + server.address().port + ' uid=' + process.getuid() + '\\n'));
`;

/** A TCP listener owned by uid 65534 on host:port (0: any free port). */
export async function startNobodyListener(host: string, port = 0): Promise<NobodyListener> {
  const { command, args } = asNobody([process.execPath, '-e', LISTENER, host, String(port)]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const bound = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the uid 65534 listener did not start: ${out}${err}`)), 10_000);
    const check = () => {
      const m = /LISTENING (\d+) uid=65534/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    void exited.then(() => reject(new Error(`the uid 65534 listener exited: ${out}${err}`)));
  });
  return {
    child,
    pid: child.pid!,
    port: bound,
    connections: () => out.split('\n').filter((l) => l === 'CONNECTION').length,
    received: () =>
      Buffer.concat(
        out
          .split('\n')
          .filter((l) => l.startsWith('DATA '))
          .map((l) => Buffer.from(l.slice(5), 'base64')),
      ),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` as uid/gid 65534 and collects its output (bounded by `timeoutMs`). */
export function runAsNobody(cmd: string, args: readonly string[], opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      'setpriv',
      [...SETPRIV, '--', cmd, ...args],
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
  const r = await runAsNobody(process.execPath, ['--input-type=module', '-e', script, '--', ...args]);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`node as uid ${NOBODY} printed no JSON (exit ${r.code}); stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}
