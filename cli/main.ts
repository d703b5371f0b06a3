#!/usr/bin/env node
// The `reagent` executable, both as `dist/cli/main.js` and as the entry of the
// single-executable bundle (scripts/package.ts). No top-level await: the
// bundle is CommonJS, the only format Node 22's single executables run.
import { setFlagsFromString } from 'node:v8';

// SQLite runs as WebAssembly. V8's optimizing tier recompiles its hot
// functions a second time, which costs ~40 MiB of resident memory on a device
// for ~2% of journal throughput (measured: README, "Footprint"). Must be set
// before the module is compiled, hence the dynamic import below.
if (process.env.REAGENT_WASM_TIER_UP !== '1') setFlagsFromString('--liftoff-only');

import('./process.js')
  .then(({ runProcess }) => runProcess())
  .catch((err: unknown) => {
    process.stderr.write(`reagent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 70;
  });
