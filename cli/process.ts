// Binds the CLI to this process: its arguments, environment, signals and exit
// code. Loaded by `main.ts` after the V8 flags are set (see there).
import { isSea } from 'node:sea';
import { grpcTraceEnv } from '../adapters/grpc/grpc-trace.js';

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
  } catch (err) {
    // An error that escapes is one line on stderr, never a stack trace with a
    // library's minified source (the log has the details when there is one).
    process.stderr.write(`reagent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
