// @lydell/node-pty, loadable from node_modules and from the single executable.
// In node_modules it finds its prebuilt `.node` in the platform package
// (@lydell/node-pty-linux-x64, ...). The single executable embeds that file for
// its own arch; `loadPty` extracts and loads it (native-addon.ts), and the
// bundle's replacement of node-pty's `requireBinary` (scripts/package/bundle.ts)
// hands node-pty that binding instead of requiring a file.
import type * as NodePty from '@lydell/node-pty';
import { embeddedFiles, type EmbeddedFiles } from './embedded.js';
import { extractAddon, loadAddon } from './native-addon.js';

export type Pty = Pick<typeof NodePty, 'spawn'>;

/** Asset key of the PTY addon for this platform, as scripts/package.ts embeds it. */
export function ptyAddonKey(platform: string = process.platform, arch: string = process.arch): string {
  return `native/${platform}-${arch}/pty.node`;
}

// dlopen() is process-wide: a second load of the same file returns the same
// library, so the binding is held per process, where node-pty's module-level
// `requireBinary('pty.node')` can reach it.
const BINDING = Symbol.for('reagent.node-pty.binding');
type BindingSlot = { [BINDING]?: unknown };

export interface LoadPtyOptions {
  /** Private directory the embedded addon is extracted to (e.g. `<agentDir>/native`). */
  nativeDir: string;
  /** The executable's embedded files; found by default (null outside a single executable). */
  files?: EmbeddedFiles | null;
}

export async function loadPty(options: LoadPtyOptions): Promise<Pty> {
  const files = options.files === undefined ? embeddedFiles() : options.files;
  if (files) {
    const key = ptyAddonKey();
    if (!files.has(key)) throw new Error(`this executable carries no PTY addon for ${process.platform}-${process.arch}`);
    const slot = globalThis as BindingSlot;
    slot[BINDING] ??= loadAddon(extractAddon(files, key, options.nativeDir), files.sha256(key));
  }
  const pty = await import('@lydell/node-pty');
  return { spawn: pty.spawn };
}

/** node-pty's `requireBinary(file)` inside the single executable. */
export function embeddedPtyBinding(file: string): unknown {
  if (file !== 'pty.node') throw new Error(`node-pty asked for ${file}; this executable carries only pty.node`);
  const binding = (globalThis as BindingSlot)[BINDING];
  if (binding === undefined) throw new Error('node-pty was loaded before loadPty() extracted its addon');
  return binding;
}
