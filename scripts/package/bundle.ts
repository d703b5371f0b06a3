// One CommonJS file with the whole daemon, for the single executable. esbuild
// bundles from the TypeScript sources; two libraries that find files beside
// themselves at run time are pointed at the executable's embedded assets:
//   - node-sqlite3-wasm reads its .wasm from __dirname: it gets `wasmBinary`;
//   - @lydell/node-pty requires its platform package's .node by a computed
//     name: its `requireBinary` hands over the binding packaging/pty.ts loaded.
// Then the result is checked: every dynamic import of ours resolved into the
// bundle, and nothing of ours is left to a runtime require.
import { build, type Metafile, type Plugin } from 'esbuild';
import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import type { BuildStamp } from '../../cli/version.cjs';

export interface BundleResult {
  file: string;
  bytes: number;
  metafile: Metafile;
}

export async function bundle(root: string, outfile: string, stamp: BuildStamp): Promise<BundleResult> {
  const result = await build({
    entryPoints: [join(root, 'cli/main.cts')],
    // Metafile paths are relative to this; the checks below look inputs up by them.
    absWorkingDir: root,
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    metafile: true,
    logLevel: 'warning',
    // Stack traces in bug reports must stay readable; whitespace and syntax minification
    // keep names and still cut parse time.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    define: {
      REAGENT_BUILD_STAMP: JSON.stringify(stamp),
      // No file URL: a createRequire(import.meta.url) left in the bundle must fail
      // loudly instead of loading modules from the disk beside the executable.
      'import.meta.url': 'undefined',
    },
    // ssh2 and cpu-features (dockerode's ssh:// transport, which DOCKER_HOST never
    // selects here) try their optional native bindings and fall back to JS.
    // x11 is dbus-next's way to find a *session* bus from an X display; we only
    // ever use the system bus, and the package is not installed.
    external: ['*.node', 'x11'],
    plugins: [cliFromSources(root), sqliteWasmFromAsset(root), ptyBindingFromLoader(root)],
  });
  checkBundle(result.metafile);
  return { file: outfile, bytes: readFileSync(outfile).length, metafile: result.metafile };
}

/** main.cts loads the build's one-file CLI (scripts/bundle-dist.mjs); here that is its source, process.ts. */
function cliFromSources(root: string): Plugin {
  return {
    name: 'cli-from-sources',
    setup(b) {
      b.onResolve({ filter: /^\.\/daemon\.cjs$/ }, (args) => (args.importer === join(root, 'cli/main.cts') ? { path: join(root, 'cli/process.ts') } : undefined));
    },
  };
}

function sqliteWasmFromAsset(root: string): Plugin {
  return {
    name: 'sqlite-wasm-from-asset',
    setup(b) {
      b.onLoad({ filter: /node-sqlite3-wasm[\\/]dist[\\/]node-sqlite3-wasm\.js$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        const init = 'var Module=typeof Module!="undefined"?Module:{};';
        if (!source.startsWith(init)) throw new Error(`${args.path}: its Module initialisation changed; update scripts/package/bundle.ts`);
        const loader = JSON.stringify(join(root, 'packaging/sqlite-wasm.ts'));
        return { contents: `var Module={wasmBinary:require(${loader}).embeddedSqliteWasm()};${source.slice(init.length)}`, loader: 'js' };
      });
    },
  };
}

function ptyBindingFromLoader(root: string): Plugin {
  return {
    name: 'pty-binding-from-loader',
    setup(b) {
      b.onLoad({ filter: /@lydell[\\/]node-pty[\\/]requireBinary\.js$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('function requireBinary(file)')) throw new Error(`${args.path}: requireBinary changed; update scripts/package/bundle.ts`);
        const loader = JSON.stringify(join(root, 'packaging/pty.ts'));
        return { contents: `exports.requireBinary = function (file) { return require(${loader}).embeddedPtyBinding(file); };`, loader: 'js' };
      });
    },
  };
}

/**
 * Fails the build when a dynamic import of ours did not land in the bundle, or
 * a module of ours is reached only through a runtime require: in a single
 * executable `require` loads built-in modules only, so either would fail on a
 * device, long after the build passed.
 */
export function checkBundle(metafile: Metafile): void {
  const problems: string[] = [];
  let dynamic = 0;
  for (const [input, info] of Object.entries(metafile.inputs)) {
    if (input.includes('node_modules/')) continue;
    for (const imp of info.imports) {
      if (imp.kind === 'dynamic-import') {
        dynamic++;
        if (imp.external || !metafile.inputs[imp.path]) problems.push(`${input}: import(${JSON.stringify(imp.original ?? imp.path)}) is not in the bundle`);
      } else if (imp.external && !isBuiltin(imp.path) && !imp.path.startsWith('<define:')) {
        problems.push(`${input}: ${imp.kind} ${JSON.stringify(imp.original ?? imp.path)} is left to run time`);
      }
    }
  }
  if (dynamic === 0) problems.push('no dynamic import of ours found: the check itself is broken');
  if (problems.length > 0) throw new Error(`bundle check failed:\n  ${problems.join('\n  ')}`);
}

/** The dynamic imports of our sources the bundle resolved (for the build log). */
export function dynamicImports(metafile: Metafile): string[] {
  const out: string[] = [];
  for (const [input, info] of Object.entries(metafile.inputs)) {
    if (input.includes('node_modules/')) continue;
    for (const imp of info.imports) if (imp.kind === 'dynamic-import') out.push(`${input} -> ${imp.path}`);
  }
  return out.sort();
}
