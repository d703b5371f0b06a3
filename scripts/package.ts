// `npm run package`: one single executable per line of `targets`, as
// dist-bin/reagent-<os>-<arch> with a `sha256sum -c` file beside it.
//   --if-changed     do nothing when dist-bin holds executables of these sources
//   --code-cache     put V8's code cache into the blob (arch-specific: a foreign
//                    arch's blob is made by its Node under qemu-user)
//   --target SPEC    only this target (repeatable)
//   --out DIR        instead of dist-bin
// See README "Packaging".
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch as hostArch } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { gitCommit, type BuildStamp } from '../cli/version.cjs';
import { SQLITE_WASM_KEY } from '../packaging/sqlite-wasm.js';
import { ptyAddonKey } from '../packaging/pty.js';
import { EMBEDDED_PAGE_PREFIX } from '../inspector/server.js';
import { bundle, dynamicImports } from './package/bundle.js';
import { buildSea, sha256 } from './package/sea.js';
import { fetchPackageFiles, nodePackage, NODE_VERSION, ptyPackage } from './package/runtime.js';
import { readTargets, type Target } from './package/targets.js';
import { packageKey, readBuildRecord } from './package/source-hash.js';

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const { values } = parseArgs({
  options: {
    'if-changed': { type: 'boolean', default: false },
    'code-cache': { type: 'boolean', default: false },
    target: { type: 'string', multiple: true },
    out: { type: 'string', default: join(root, 'dist-bin') },
  },
});
const outDir = values.out!;
const cacheDir = join(root, 'dist-bin', '.cache');
const started = performance.now();
const lap = (() => {
  let t = performance.now();
  return (what: string) => {
    const now = performance.now();
    console.log(`  ${what}: ${((now - t) / 1000).toFixed(1)} s`);
    t = now;
  };
})();

let targets = readTargets(join(root, 'targets'));
if (values.target) {
  const unknown = values.target.filter((t) => !targets.some((x) => x.spec === t));
  if (unknown.length) throw new Error(`--target ${unknown.join(', ')}: not in targets (${targets.map((t) => t.spec).join(', ')})`);
  targets = targets.filter((t) => values.target!.includes(t.spec));
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const commit = gitCommit(root);
const key = packageKey(root, commit, values['code-cache']!, targets);
const buildFile = join(outDir, 'build.json');

if (values['if-changed'] && upToDate(key)) {
  console.log(`package: ${relative(root, outDir) || '.'} is up to date (sources ${key.slice(0, 12)})`);
  process.exit(0);
}

const stamp: BuildStamp = {
  version: pkg.version,
  commit,
  date: new Date(process.env['SOURCE_DATE_EPOCH'] ? Number(process.env['SOURCE_DATE_EPOCH']) * 1000 : Date.now()).toISOString(),
};
console.log(`package: reagent ${stamp.version} (${commit}) on Node ${NODE_VERSION} for ${targets.map((t) => t.spec).join(', ')}`);
mkdirSync(outDir, { recursive: true });
const work = join(cacheDir, `work-${process.pid}`);
mkdirSync(work, { recursive: true });
try {
  const bundled = await bundle(root, join(work, 'reagent.cjs'), stamp);
  lap(`bundle ${(bundled.bytes / 1024 / 1024).toFixed(1)} MiB, ${dynamicImports(bundled.metafile).length} dynamic imports resolved`);

  const pageDir = join(root, 'inspector/public');
  const common: Record<string, string> = {
    [SQLITE_WASM_KEY]: join(root, 'node_modules/node-sqlite3-wasm/dist/node-sqlite3-wasm.wasm'),
    [`${EMBEDDED_PAGE_PREFIX}elk.js`]: join(root, 'node_modules/elkjs/lib/elk.bundled.js'),
  };
  for (const name of readdirSync(pageDir)) if (statSync(join(pageDir, name)).isFile()) common[`${EMBEDDED_PAGE_PREFIX}${name}`] = join(pageDir, name);

  // A Node of the pinned version that runs here makes the blobs that need no code cache.
  const host = targets.find((t) => t.nodeArch === hostArch()) ?? hostTarget();
  const [hostNode] = fetchPackageFiles(nodePackage(host), ['bin/node'], cacheDir);

  const results = [];
  for (const target of targets) {
    const [nodeBinary] = fetchPackageFiles(nodePackage(target), ['bin/node'], cacheDir);
    const pty = ptyPackage(target, join(root, 'package-lock.json'));
    const [ptyNode] = fetchPackageFiles(pty, ['pty.node'], cacheDir);
    lap(`${target.spec}: node-${target.os}-${target.nodeArch}@${NODE_VERSION} and ${pty.name}@${pty.version} (integrity checked)`);
    const sea = buildSea({
      root,
      bundle: bundled.file,
      assets: { ...common, [ptyAddonKey(target.os, target.nodeArch)]: ptyNode! },
      nodeBinary: nodeBinary!,
      nodeArch: target.nodeArch,
      useCodeCache: values['code-cache']!,
      hostNode: hostNode!,
      workDir: join(work, target.fileName),
      output: join(outDir, target.fileName),
    });
    lap(`${target.spec}: ${relative(root, sea.output)} ${(sea.bytes / 1024 / 1024).toFixed(1)} MiB${values['code-cache'] ? ' (with code cache)' : ''}`);
    results.push({ target: target.spec, file: target.fileName, bytes: sea.bytes, sha256: sea.sha256 });
  }
  writeFileSync(buildFile, `${JSON.stringify({ sourceHash: key, stamp, node: NODE_VERSION, codeCache: values['code-cache'], executables: results }, null, 1)}\n`);
  console.log(`package: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

function hostTarget(): Target {
  if (hostArch() !== 'x64' && hostArch() !== 'arm64') throw new Error(`packaging runs on x64 or arm64 Linux, not ${hostArch()}`);
  const arch = hostArch() === 'x64' ? 'amd64' : 'arm64';
  return { spec: `linux/${arch}`, os: 'linux', arch, nodeArch: hostArch(), fileName: `reagent-linux-${arch}` };
}

function upToDate(sourceKey: string): boolean {
  const build = readBuildRecord(outDir);
  if (!build || build.sourceHash !== sourceKey || !build.executables?.length) return false;
  return build.executables.every((e) => existsSync(join(outDir, e.file)) && sha256(readFileSync(join(outDir, e.file))) === e.sha256);
}
