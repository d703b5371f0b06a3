// Binds the CLI to this process: its arguments, environment, signals and exit
// code. Loaded by `main.ts` after the V8 flags are set (see there).
import { isSea } from 'node:sea';
import { grpcTraceEnv } from '../adapters/grpc/grpc-trace.js';

/** Node >= 22.15 (the single executables' runtime); @types/node 20 does not know it yet. */
type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/** What systemd hands a Type=notify service; the daemon alone uses it, so no child inherits it. */
const SUPERVISOR_VARS = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

export async function runProcess(): Promise<void> {
  // grpc-js picks its tracers when first loaded: -debug-grpc / LOG_GRPC must be in the environment before.
  Object.assign(process.env, grpcTraceEnv(process.argv.slice(2), process.env));
  const supervisor: NodeJS.ProcessEnv = {};
  for (const name of SUPERVISOR_VARS) {
    if (process.env[name] !== undefined) supervisor[name] = process.env[name];
    delete process.env[name];
  }
  const { defaultIo, runCli } = await import('./run.js');

  const stopSignal = new Promise<string>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve(sig));
  });

  // A single executable is its own program; from a checkout it is node running main.cjs.
  const self = isSea() ? [process.execPath] : [process.execPath, process.argv[1] ?? ''];
  try {
    const result = await runCli(process.argv.slice(2), { ...defaultIo(), untilStopped: () => stopSignal, supervisor, self, cwd: process.cwd() });
    if ('exit' in result) {
      process.exitCode = result.exit;
    } else {
      process.exitCode = await result.done;
      // Nothing should be left, but a stuck adapter must not keep a stopped daemon alive.
      setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
    }
    const handover = result.handover?.();
    if (handover?.kind === 'exec') execInto(handover.path, handover.args);
  } catch (err) {
    // An error that escapes is one line on stderr, never a stack trace with a
    // library's minified source (the log has the details when there is one).
    process.stderr.write(`reagent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

/**
 * A self-update without a supervisor: this process becomes the new version
 * (same pid, same arguments). If the kernel refuses the file, the error is
 * said and the process exits 1; the next start's guard judges the update.
 */
function execInto(path: string, args: readonly string[]): void {
  const execve = (process as NodeJS.Process & { execve?: Execve }).execve;
  if (typeof execve !== 'function') {
    process.stderr.write(`reagent: cannot restart into ${path}: this Node (${process.version}) has no process.execve; start it again\n`);
    process.exitCode = 1;
    return;
  }
  try {
    execve(path, [path, ...args], process.env);
  } catch (err) {
    process.stderr.write(`reagent: cannot restart into ${path}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
