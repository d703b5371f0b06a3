// The agent's version and architecture, as `-version` and `-arch` print them.
// A single executable carries a stamp written by `npm run package`, a build in
// dist/ the one `npm run build` writes (dist/build-stamp.json); run from the
// sources, the version comes from package.json and the commit from git.
// CommonJS, so the executable's entry (main.cts) prints `-version` before any
// ES module loads (see there).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

/** What `npm run package` stamps into the bundle (esbuild `define`, scripts/package/bundle.ts). */
export interface BuildStamp {
  version: string;
  commit: string;
  /** ISO 8601, when the executable was packaged. */
  date: string;
}

declare const REAGENT_BUILD_STAMP: BuildStamp | undefined;

/** The packaging stamp, or null outside a packaged executable. */
export function buildStamp(): BuildStamp | null {
  return typeof REAGENT_BUILD_STAMP === 'undefined' ? null : REAGENT_BUILD_STAMP;
}

/** Where `npm run build` writes its stamp (scripts/stamp-build.mjs), relative to the package root. */
export const BUILD_STAMP_FILE = 'dist/build-stamp.json';

export interface BuildInfo extends BuildStamp {
  /** `process.version` of the runtime actually running. */
  node: string;
  /** `linux/amd64`: the Reagent's spellings. */
  platform: string;
  /** `single executable` or `node` (running from dist/ or the sources). */
  packaging: 'single executable' | 'node';
}

/** `from`: a file of this package (this module by default); its package root is found by walking up. */
export function buildInfo(from: string = __filename): BuildInfo {
  const runtime = { node: process.version, platform: `${process.platform}/${agentArch()}` };
  const stamp = buildStamp();
  if (stamp) return { ...stamp, ...runtime, packaging: 'single executable' };
  const root = packageRoot(from);
  // A build reads the stamp written with it: no git process on every -version.
  const built = root && from.startsWith(join(root, 'dist') + sep) ? readStampFile(join(root, BUILD_STAMP_FILE)) : null;
  if (built) return { ...built, ...runtime, packaging: 'node' };
  return {
    version: agentVersion(from),
    // Only our own checkout: installed under another project, git would name that project's commit.
    commit: root && existsSync(join(root, '.git')) ? gitCommit(root) : 'unknown',
    // When this code was compiled (or edited, run from the sources).
    date: statSync(from).mtime.toISOString(),
    ...runtime,
    packaging: 'node',
  };
}

export function renderVersion(info: BuildInfo): string {
  // The first line alone is what the Reagent prints: scripts reading it keep working.
  return [
    info.version,
    `commit   ${info.commit}`,
    `built    ${info.date}`,
    `node     ${info.node} (${info.platform}, ${info.packaging})`,
  ].join('\n');
}

/** Reads the version from our package.json, found by walking up (works from dist/ and from sources). */
export function agentVersion(from: string = __filename): string {
  const stamp = buildStamp();
  if (stamp) return stamp.version;
  const root = packageRoot(from);
  if (!root) return 'unknown';
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

function readStampFile(path: string): BuildStamp | null {
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as Partial<BuildStamp>;
    return typeof s.version === 'string' && typeof s.commit === 'string' && typeof s.date === 'string' ? { version: s.version, commit: s.commit, date: s.date } : null;
  } catch {
    return null;
  }
}

function packageRoot(from: string): string | null {
  let dir = dirname(from);
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'reagent' && pkg.version) return dir;
    }
    dir = dirname(dir);
  }
  return null;
}

/** `HEAD`'s hash (12 digits), `-dirty` with uncommitted changes; `unknown` without git or a checkout. */
export function gitCommit(root: string): string {
  const git = (args: string[]) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
  const head = git(['rev-parse', '--short=12', 'HEAD']);
  if (head.status !== 0 || !head.stdout.trim()) return 'unknown';
  const dirty = git(['status', '--porcelain', '--untracked-files=no']);
  return `${head.stdout.trim()}${dirty.status === 0 && dirty.stdout.trim() ? '-dirty' : ''}`;
}

/** The Reagent's build-arch spelling (Go's GOARCH plus the ARM variant): amd64, arm64, armv7, 386. */
export function agentArch(arch: string = process.arch, armVersion: unknown = (process.config.variables as Record<string, unknown>)['arm_version']): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'arm':
      return `armv${String(armVersion ?? '7')}`;
    default:
      return arch;
  }
}
