// What the single executable carries besides its code: files embedded as
// Node SEA assets by `npm run package` (scripts/package.ts), listed with their
// sha256 in one manifest asset. Outside a single executable there are none and
// callers read the same files from the source tree / node_modules instead.
import { createHash } from 'node:crypto';
import { getAsset, isSea } from 'node:sea';

/** Asset key of the manifest; every other key is listed in it. */
export const MANIFEST_KEY = 'reagent/manifest.json';

export interface EmbeddedManifest {
  /** Asset key -> sha256 (hex) and size of its bytes. */
  files: Record<string, { sha256: string; size: number }>;
}

export interface EmbeddedFiles {
  /** Keys under a prefix, e.g. `inspector/`. */
  keys(prefix?: string): string[];
  has(key: string): boolean;
  /** The bytes of one file, checked against the manifest (a mismatch throws). */
  read(key: string): Buffer;
  sha256(key: string): string;
}

/** The executable's embedded files, or null when this process is not a single executable. */
export function embeddedFiles(): EmbeddedFiles | null {
  if (!isSea()) return null;
  return fromAssets((key) => Buffer.from(getAsset(key)));
}

/** Over any asset source (the SEA's, or a map in tests). */
export function fromAssets(asset: (key: string) => Buffer): EmbeddedFiles {
  const manifest = parseManifest(asset(MANIFEST_KEY).toString('utf8'));
  const entry = (key: string) => {
    const e = manifest.files[key];
    if (!e) throw new Error(`embedded file ${JSON.stringify(key)} is not in this executable`);
    return e;
  };
  return {
    keys: (prefix = '') => Object.keys(manifest.files).filter((k) => k.startsWith(prefix)).sort(),
    has: (key) => Object.hasOwn(manifest.files, key),
    sha256: (key) => entry(key).sha256,
    read(key) {
      const { sha256, size } = entry(key);
      const bytes = asset(key);
      const actual = createHash('sha256').update(bytes).digest('hex');
      if (bytes.length !== size || actual !== sha256) {
        throw new Error(`embedded file ${JSON.stringify(key)} is corrupt: sha256 ${actual} (${bytes.length} bytes), expected ${sha256} (${size} bytes)`);
      }
      return bytes;
    },
  };
}

export function parseManifest(text: string): EmbeddedManifest {
  const raw: unknown = JSON.parse(text);
  const files = raw !== null && typeof raw === 'object' ? (raw as { files?: unknown }).files : undefined;
  if (files === null || typeof files !== 'object') throw new Error('embedded manifest: field "files": expected an object');
  const out: EmbeddedManifest['files'] = {};
  for (const [key, value] of Object.entries(files as Record<string, unknown>)) {
    const v = value as { sha256?: unknown; size?: unknown } | null;
    if (!v || typeof v.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(v.sha256)) throw new Error(`embedded manifest: field "files.${key}.sha256": expected 64 hex digits`);
    if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw new Error(`embedded manifest: field "files.${key}.size": expected a byte count`);
    out[key] = { sha256: v.sha256, size: v.size };
  }
  return { files: out };
}
