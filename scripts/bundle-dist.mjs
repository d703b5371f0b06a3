#!/usr/bin/env node
// Part of `npm run build`: dist/cli/daemon.cjs, the CLI and the daemon (our
// compiled dist/ modules) as one CommonJS file, which `dist/cli/main.cjs` loads.
//
// Why: loading ~235 separate ES modules was the largest single item of the
// daemon's start-up after SQLite (Node resolves, reads, compiles and links each
// one through its ES module loader); one CommonJS file halved the time from
// spawn to "ready" and saved ~7 MiB of resident memory (README "Benchmarks").
// Dependencies stay outside (`packages: 'external'`), required from
// node_modules as before, so dockerode's deferred transports
// (adapters/docker/client.ts) and node-sqlite3-wasm's .wasm beside it work
// unchanged. The single executable bundles from the sources instead
// (scripts/package/bundle.ts).
import { build } from 'esbuild';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const DIST_BUNDLE = 'dist/cli/daemon.cjs';

const result = await build({
  entryPoints: [join(root, 'dist/cli/process.js')],
  absWorkingDir: root,
  outfile: join(root, DIST_BUNDLE),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  metafile: true,
  logLevel: 'warning',
  // Same as the single executable: less to parse, names kept for stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  // The bundle sits where the modules it replaces were (dist/cli/), so paths
  // found relative to a module (inspector/public, createRequire) resolve the same.
  define: { 'import.meta.url': '__reagentModuleUrl' },
  banner: { js: 'const __reagentModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
});

// A module of ours left outside would load as a second copy beside the bundle's.
const problems = [];
for (const [input, info] of Object.entries(result.metafile.inputs)) {
  if (input.includes('node_modules/')) continue;
  for (const imp of info.imports) {
    if (!imp.external || isBuiltin(imp.path)) continue;
    if (imp.path.startsWith('.') || imp.path.startsWith('/')) problems.push(`${input}: ${imp.kind} ${JSON.stringify(imp.original ?? imp.path)} is not in the bundle`);
  }
}
if (problems.length > 0) {
  console.error(`bundle-dist: ${problems.join('\n  ')}`);
  process.exit(1);
}
