// The packaging's guard against a bundle that would fail only on a device: a
// dynamic import of ours that did not land in the bundle, or a module of ours
// left to a runtime require (a single executable's require loads built-ins only).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Metafile } from 'esbuild';
import { checkBundle } from '../../scripts/package/bundle.js';

type Import = Metafile['inputs'][string]['imports'][number];
const input = (imports: Import[]) => ({ bytes: 1, imports });
const meta = (inputs: Record<string, Import[]>): Metafile => ({ inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, input(v)])), outputs: {} });

test('a bundle whose dynamic imports all resolved, with only built-ins left to run time, passes', () => {
  checkBundle(
    meta({
      'cli/main.cts': [{ path: 'cli/process.ts', kind: 'dynamic-import', original: './process.js' }, { path: 'node:v8', kind: 'import-statement', external: true }],
      'cli/process.ts': [{ path: 'fs', kind: 'require-call', external: true }],
      // How esbuild records a `define` it substituted.
      'cli/version.ts': [{ path: '<define:REAGENT_BUILD_STAMP>', kind: 'import-statement', external: true }],
      // Libraries may keep optional requires of their own (ssh2's native binding).
      'node_modules/ssh2/lib/protocol/crypto.js': [{ path: './crypto/build/Release/sshcrypto.node', kind: 'require-call', external: true }],
    }),
  );
});

test('an unresolved dynamic import of ours, or one of ours left to require at run time, fails the build', () => {
  assert.throws(() => checkBundle(meta({ 'cli/run.ts': [{ path: '../gateway/cli.js', kind: 'dynamic-import', external: true, original: '../gateway/cli.js' }] })), /cli\/run\.ts: import\("\.\.\/gateway\/cli\.js"\) is not in the bundle/);
  assert.throws(
    () => checkBundle(meta({ 'cli/main.cts': [{ path: 'cli/process.ts', kind: 'dynamic-import' }], 'cli/process.ts': [], 'adapters/log/logger.ts': [{ path: 'pino-pretty', kind: 'require-call', external: true }] })),
    /adapters\/log\/logger\.ts: require-call "pino-pretty" is left to run time/,
  );
  assert.throws(() => checkBundle(meta({ 'cli/main.cts': [] })), /no dynamic import of ours found/);
});
