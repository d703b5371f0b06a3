#!/usr/bin/env node
// The `reagent` executable: binds the CLI to this process, its signals and exit code.
import { defaultIo, runCli } from './run.js';

const stopSignal = new Promise<string>((resolve) => {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve(sig));
});

const result = await runCli(process.argv.slice(2), { ...defaultIo(), untilStopped: () => stopSignal });
if ('exit' in result) {
  process.exitCode = result.exit;
} else {
  process.exitCode = await result.done;
  // Nothing should be left, but a stuck adapter must not keep a stopped daemon alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
}
