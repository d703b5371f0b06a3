// What each executable is made of besides our bundle, fetched from the npm
// registry with `npm pack` (npm's cache makes a second fetch free) and checked
// against pinned sha512 integrities before anything is extracted:
//   - the Node runtime: node-linux-<arch> (official Node binaries), pinned here;
//   - the PTY addon: @lydell/node-pty-linux-<arch>, pinned by package-lock.json.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Target } from './targets.js';

/** Node 22 LTS, the runtime inside every executable. Changing it: README "Packaging". */
export const NODE_VERSION = '22.23.5';
const NODE_INTEGRITY: Record<string, string> = {
  x64: 'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
  arm64: 'sha512-e1LOUGKVruPGuLVutn8+Cgm5pI1APm4Kvh+zbb/qe/ZpD9s+TQby5iUgZOWmPpbSKpj0Td8DP1N0NEnXasHizg==',
};

export const PTY_PACKAGE = '@lydell/node-pty';

export interface PinnedPackage {
  name: string;
  version: string;
  integrity: string;
}

export function nodePackage(target: Target): PinnedPackage {
  const integrity = NODE_INTEGRITY[target.nodeArch];
  if (!integrity) throw new Error(`no pinned Node runtime for ${target.spec}`);
  return { name: `node-${target.os}-${target.nodeArch}`, version: NODE_VERSION, integrity };
}

/** The platform package of the PTY addon, at the version and integrity package-lock.json holds. */
export function ptyPackage(target: Target, lockfile: string): PinnedPackage {
  const name = `${PTY_PACKAGE}-${target.os}-${target.nodeArch}`;
  const lock = JSON.parse(readFileSync(lockfile, 'utf8')) as { packages?: Record<string, { version?: string; integrity?: string }> };
  const entry = lock.packages?.[`node_modules/${name}`];
  if (!entry?.version || !entry.integrity) throw new Error(`${lockfile} pins no ${name}: run "npm install" after changing ${PTY_PACKAGE}`);
  return { name, version: entry.version, integrity: entry.integrity };
}

/**
 * The package's tarball, fetched into `cacheDir` (kept across builds) and
 * checked against its integrity, then the files asked for, extracted into
 * `cacheDir/<name>-<version>/` by their base names. Returns their paths.
 */
export function fetchPackageFiles(pkg: PinnedPackage, files: readonly string[], cacheDir: string): string[] {
  const dir = join(cacheDir, `${pkg.name.replace(/^@/, '').replace(/\//g, '-')}-${pkg.version}`);
  const wanted = files.map((f) => join(dir, basename(f)));
  if (wanted.every((f) => existsSync(f)) && existsSync(join(dir, '.verified'))) return wanted;

  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // npm pack works for any platform's package, whatever this machine is.
  const packed = spawnSync('npm', ['pack', `${pkg.name}@${pkg.version}`, '--pack-destination', dir, '--json', '--silent'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (packed.status !== 0) throw new Error(`npm pack ${pkg.name}@${pkg.version} failed: ${packed.stderr.slice(-500)}`);
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string }>;
  if (!info) throw new Error(`npm pack ${pkg.name}@${pkg.version}: no tarball`);
  const tarball = join(dir, info.filename);
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  if (integrity !== pkg.integrity) throw new Error(`${pkg.name}@${pkg.version}: integrity ${integrity}, pinned ${pkg.integrity}; refusing to use it`);

  const extract = spawnSync('tar', ['-xzf', tarball, '-C', dir, ...files.map((f) => `package/${f}`)], { encoding: 'utf8' });
  if (extract.status !== 0) throw new Error(`extracting ${files.join(', ')} from ${info.filename} failed: ${extract.stderr}`);
  for (const f of files) renameSync(join(dir, 'package', f), join(dir, basename(f)));
  rmSync(join(dir, 'package'), { recursive: true, force: true });
  rmSync(tarball, { force: true });
  mkdirSync(join(dir, '.verified'));
  return wanted;
}
