// The cache key of dist-bin: everything an executable is made from (our
// sources, the lockfile, the targets, the packaging scripts, the pinned Node
// and the commit the stamp names). `npm run package -- --if-changed` and the
// specs that run the executables both ask whether dist-bin matches it.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_VERSION } from './runtime.js';

const DIRS = ['machines', 'actors', 'apps', 'adapters', 'cli', 'config', 'gateway', 'inspector', 'packaging', 'scripts/package'];
const FILES = ['scripts/package.ts', 'package.json', 'package-lock.json', 'targets'];

export function sourceHash(root: string, extra: object): string {
  const hash = createHash('sha256').update(JSON.stringify(extra));
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const rel = join(dir, name);
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else files.push(rel);
    }
  };
  for (const dir of DIRS) walk(dir);
  files.push(...FILES);
  for (const f of files) hash.update(`${f}\0`).update(readFileSync(join(root, f))).update('\0');
  return hash.digest('hex');
}

/** The key of one packaging run: the sources plus what else changes the executables. */
export function packageKey(root: string, commit: string, codeCache: boolean, targets: ReadonlyArray<{ spec: string }>): string {
  return sourceHash(root, { commit, codeCache, targets: targets.map((t) => t.spec), node: NODE_VERSION });
}

export interface BuildRecord {
  sourceHash: string;
  stamp: { version: string; commit: string; date: string };
  executables: Array<{ target: string; file: string; bytes: number; sha256: string }>;
  codeCache: boolean;
}

export function readBuildRecord(outDir: string): BuildRecord | null {
  const file = join(outDir, 'build.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BuildRecord) : null;
}
