#!/usr/bin/env node
// The `reagent` executable: binds the CLI to this process, its signals and exit code.
//
// CommonJS on purpose: Node sets up its ES module loader only when the first
// `import()` runs, and that alone costs a third of a bare `node -e 0`
// (measured: README "Benchmarks"). `reagent -version` must stay close to a
// bare Node start, so a lone -version answers before any ES module loads;
// everything else loads the CLI (process.ts), bundled into one CommonJS file
// by the build (dist/cli/daemon.cjs). It is also the
// entry of the single-executable bundle (scripts/package.ts): Node 22's
// single executables run CommonJS only.

const argv = process.argv.slice(2);
// Only a lone flag takes a fast path; any other argv goes through the full
// parser, which gives the same answers (spec/cli/daemon.spec.ts holds both to it).
const lone = argv.length === 1 ? /^--?(version|arch|help|h)(?:=(?:1|t|T|TRUE|true|True))?$/.exec(argv[0]!) : null;

if (lone?.[1] === 'version') {
  // version.cjs is CommonJS and small: no ES module loader, no git (a build reads its stamp).
  const { buildInfo, renderVersion } = require('./version.cjs') as typeof import('./version.cjs');
  process.stdout.write(`${renderVersion(buildInfo())}\n`);
} else if (lone) {
  void quickAnswer(lone[1]!);
} else {
  main();
}

/** -arch and -help: small ES modules, nothing of the daemon. */
async function quickAnswer(flag: string): Promise<void> {
  if (flag === 'arch') {
    const { agentArch } = require('./version.cjs') as typeof import('./version.cjs');
    process.stdout.write(`${agentArch()}\n`);
    return;
  }
  const { homedir } = require('node:os') as typeof import('node:os');
  const [{ FLAGS }, { renderHelp }] = await Promise.all([import('./flags.js'), import('./help.js')]);
  process.stdout.write(`${renderHelp(FLAGS, { platform: process.platform, home: homedir() })}\n`);
}

function main(): void {
  // SQLite runs as WebAssembly. V8's optimizing tier recompiles its hot
  // functions a second time, which costs ~40 MiB of resident memory on a device
  // for ~2% of journal throughput (measured: README, "Footprint"). Must be set
  // before the module is compiled, hence the require below.
  const { setFlagsFromString } = require('node:v8') as typeof import('node:v8');
  if (process.env.REAGENT_WASM_TIER_UP !== '1') setFlagsFromString('--liftoff-only');

  // One CommonJS file of the whole CLI (scripts/bundle-dist.mjs, part of
  // `npm run build`): half the start-up of loading its ES modules one by one.
  // In the single executable, esbuild resolves it to ./process.ts.
  Promise.resolve()
    .then(() => (require('./daemon.cjs') as typeof import('./process.js')).runProcess())
    .catch((err: unknown) => {
      process.stderr.write(`reagent: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 70;
    });
}
