// A Node single executable application from a bundle: the SEA blob (code,
// assets, optionally V8's code cache), injected into a copy of the target's
// Node binary with postject, plus a `sha256sum -c` file beside it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { arch as hostArch } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { MANIFEST_KEY, type EmbeddedManifest } from '../../packaging/embedded.js';

/** The fuse Node's SEA loader looks for (Node's documentation, "Single executable applications"). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export interface SeaInput {
  root: string;
  bundle: string;
  /** Asset key -> file to embed. */
  assets: Record<string, string>;
  /** The target's Node binary. */
  nodeBinary: string;
  /** Node's arch name of the target (x64, arm64). */
  nodeArch: string;
  /** V8 code cache in the blob: made by the target's own Node, so a foreign arch runs under qemu. */
  useCodeCache: boolean;
  /** A Node of the same version that runs on this machine, for the blob when no code cache is made. */
  hostNode: string;
  workDir: string;
  output: string;
}

export interface SeaResult {
  output: string;
  bytes: number;
  sha256: string;
}

export function buildSea(input: SeaInput): SeaResult {
  rmSync(input.workDir, { recursive: true, force: true });
  mkdirSync(input.workDir, { recursive: true });
  const manifest: EmbeddedManifest = { files: {} };
  for (const [key, file] of Object.entries(input.assets)) {
    const bytes = readFileSync(file);
    manifest.files[key] = { sha256: sha256(bytes), size: bytes.length };
  }
  const manifestFile = join(input.workDir, 'manifest.json');
  writeFileSync(manifestFile, JSON.stringify(manifest, null, 1));

  const blob = join(input.workDir, 'sea-prep.blob');
  const config = join(input.workDir, 'sea-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      main: input.bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      useSnapshot: false,
      useCodeCache: input.useCodeCache,
      assets: { ...input.assets, [MANIFEST_KEY]: manifestFile },
    }),
  );
  // The blob's format belongs to the Node version; its code cache also to the arch.
  const [command, args] = blobMaker(input);
  const made = spawnSync(command, [...args, '--experimental-sea-config', config], { cwd: input.workDir, encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`making the SEA blob failed (${command}): ${made.stderr || made.stdout || made.error?.message}`);

  const tmp = join(dirname(input.output), `.${basename(input.output)}.tmp`);
  mkdirSync(dirname(input.output), { recursive: true });
  copyFileSync(input.nodeBinary, tmp);
  chmodSync(tmp, 0o755);
  const postject = join(input.root, 'node_modules/postject/dist/cli.js');
  const injected = spawnSync(process.execPath, [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { encoding: 'utf8' });
  if (injected.status !== 0) throw new Error(`postject failed: ${injected.stderr || injected.stdout}`);
  renameSync(tmp, input.output);

  const bytes = readFileSync(input.output);
  const digest = sha256(bytes);
  // `sha256sum -c reagent-linux-arm64.sha256` from the directory of both.
  writeFileSync(`${input.output}.sha256`, `${digest}  ${basename(input.output)}\n`);
  return { output: input.output, bytes: bytes.length, sha256: digest };
}

function blobMaker(input: SeaInput): [string, string[]] {
  if (!input.useCodeCache || input.nodeArch === hostArch()) return [input.useCodeCache ? input.nodeBinary : input.hostNode, []];
  const qemu = `qemu-${input.nodeArch === 'arm64' ? 'aarch64' : input.nodeArch}-static`;
  const prefix = process.env['QEMU_LD_PREFIX'] ?? (input.nodeArch === 'arm64' ? '/usr/aarch64-linux-gnu' : '');
  return [qemu, ['-L', prefix, input.nodeBinary]];
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
