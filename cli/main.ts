#!/usr/bin/env node
// The `reagent` executable: binds the CLI to this process, its signals and exit code.
import { setFlagsFromString } from 'node:v8';

// `reagent -version`, `-arch` and `-help` alone answer before anything heavy
// loads: the full CLI pulls in the logger, SQLite and the links, which made
// printing a version cost 0.4 s (README "Benchmarks"). Only a lone flag takes
// this path; any other argv goes through the full parser, which gives the
// same answers.
const argv = process.argv.slice(2);
const lone = argv.length === 1 ? /^--?(version|arch|help|h)(?:=(?:1|t|T|TRUE|true|True))?$/.exec(argv[0]!) : null;
if (lone) {
  if (lone[1] === 'version' || lone[1] === 'arch') {
    const { agentArch, agentVersion } = await import('./version.js');
    process.stdout.write(`${lone[1] === 'version' ? agentVersion() : agentArch()}\n`);
  } else {
    const [{ FLAGS }, { renderHelp }, { homedir }] = await Promise.all([import('./flags.js'), import('./help.js'), import('node:os')]);
    process.stdout.write(`${renderHelp(FLAGS, { platform: process.platform, home: homedir() })}\n`);
  }
} else {
  await main();
}

async function main(): Promise<void> {
  // SQLite runs as WebAssembly. V8's optimizing tier recompiles its hot
  // functions a second time, which costs ~40 MiB of resident memory on a device
  // for ~2% of journal throughput (measured: README, "Footprint"). Must be set
  // before the module is compiled, hence the dynamic imports below.
  if (process.env.REAGENT_WASM_TIER_UP !== '1') setFlagsFromString('--liftoff-only');

  // grpc-js picks its tracers when first loaded: -debug-grpc / LOG_GRPC must be in the environment before.
  const { grpcTraceEnv } = await import('../adapters/grpc/grpc-trace.js');
  Object.assign(process.env, grpcTraceEnv(argv, process.env));

  const { defaultIo, runCli } = await import('./run.js');

  const stopSignal = new Promise<string>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve(sig));
  });

  const result = await runCli(argv, { ...defaultIo(), untilStopped: () => stopSignal });
  if ('exit' in result) {
    process.exitCode = result.exit;
  } else {
    process.exitCode = await result.done;
    // Nothing should be left, but a stuck adapter must not keep a stopped daemon alive.
    setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  }
}
