#!/usr/bin/env node
// The `reagent` executable: binds the CLI to this process, its signals and exit code.
//
// CommonJS on purpose: Node sets up its ES module loader only when the first
// `import()` runs, and that alone costs a third of a bare `node -e 0`
// (measured: README "Benchmarks"). `reagent -version` must stay close to a
// bare Node start, so a lone -version answers before any ES module loads;
// everything else imports the (ES module) CLI. A Node single executable
// application needs a CommonJS entry point too.

const argv = process.argv.slice(2);
// Only a lone flag takes a fast path; any other argv goes through the full
// parser, which gives the same answers (spec/cli/daemon.spec.ts holds both to it).
const lone = argv.length === 1 ? /^--?(version|arch|help|h)(?:=(?:1|t|T|TRUE|true|True))?$/.exec(argv[0]!) : null;

if (lone?.[1] === 'version') {
  process.stdout.write(`${versionFromPackageJson()}\n`);
} else if (lone) {
  void quickAnswer(lone[1]!);
} else {
  void main();
}

/** cli/version.ts's agentVersion(), without loading an ES module: our package.json, found by walking up. */
function versionFromPackageJson(): string {
  const { existsSync, readFileSync } = require('node:fs') as typeof import('node:fs');
  const { dirname, join } = require('node:path') as typeof import('node:path');
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'reagent' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

/** -arch and -help: small ES modules, nothing of the daemon. */
async function quickAnswer(flag: string): Promise<void> {
  if (flag === 'arch') {
    const { agentArch } = await import('./version.js');
    process.stdout.write(`${agentArch()}\n`);
    return;
  }
  const [{ FLAGS }, { renderHelp }, { homedir }] = await Promise.all([import('./flags.js'), import('./help.js'), import('node:os')]);
  process.stdout.write(`${renderHelp(FLAGS, { platform: process.platform, home: homedir() })}\n`);
}

async function main(): Promise<void> {
  // SQLite runs as WebAssembly. V8's optimizing tier recompiles its hot
  // functions a second time, which costs ~40 MiB of resident memory on a device
  // for ~2% of journal throughput (measured: README, "Footprint"). Must be set
  // before the module is compiled, hence the dynamic imports below.
  const { setFlagsFromString } = require('node:v8') as typeof import('node:v8');
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
