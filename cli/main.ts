#!/usr/bin/env node
// The `reagent` executable: binds the CLI to this process, its signals and exit code.
import { setFlagsFromString } from 'node:v8';

// SQLite runs as WebAssembly. V8's optimizing tier recompiles its hot
// functions a second time, which costs ~40 MiB of resident memory on a device
// for ~2% of journal throughput (measured: README, "Footprint"). Must be set
// before the module is compiled, hence the dynamic import below.
if (process.env.REAGENT_WASM_TIER_UP !== '1') setFlagsFromString('--liftoff-only');

// grpc-js picks its tracers when first loaded: -debug-grpc / LOG_GRPC must be in the environment before.
const { grpcTraceEnv } = await import('../adapters/grpc/grpc-trace.js');
Object.assign(process.env, grpcTraceEnv(process.argv.slice(2), process.env));

const { defaultIo, runCli } = await import('./run.js');

const stopSignal = new Promise<string>((resolve) => {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve(sig));
});

// An error that escapes is one line on stderr, never a stack trace with a
// library's minified source (the log has the details when there is one).
const oneLine = (err: unknown) => process.stderr.write(`reagent: ${err instanceof Error ? err.message : String(err)}\n`);

try {
  const result = await runCli(process.argv.slice(2), { ...defaultIo(), untilStopped: () => stopSignal });
  if ('exit' in result) {
    process.exitCode = result.exit;
  } else {
    process.exitCode = await result.done;
    // Nothing should be left, but a stuck adapter must not keep a stopped daemon alive.
    setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  }
} catch (err) {
  oneLine(err);
  process.exitCode = 1;
}
