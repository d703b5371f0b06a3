// The agent's version and architecture, as `-version` and `-arch` print them.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Reads the version from our package.json, found by walking up (works from dist/ and from sources). */
export function agentVersion(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
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
