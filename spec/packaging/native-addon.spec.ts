// The runtime side of packaging, without building an executable: the embedded
// manifest, extraction of a native addon into a private directory (refused
// when the directory is someone else's: checked with a real second user via
// setpriv), the hash check before dlopen, and the `targets` file.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { fromAssets, MANIFEST_KEY, parseManifest } from '../../packaging/embedded.js';
import { AddonDirError, extractAddon, loadAddon } from '../../packaging/native-addon.js';
import { parseTargets } from '../../scripts/package/targets.js';
import { tempDir } from '../helpers/executables.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const PTY = readFileSync(join(ROOT, 'node_modules/@lydell/node-pty-linux-x64/pty.node'));
const KEY = 'native/linux-x64/pty.node';

const dirs: string[] = [];
const temp = () => {
  const d = tempDir('reagent-addon-');
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function assets(files: Record<string, Buffer>, manifest?: object) {
  const m = manifest ?? { files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, { sha256: createHash('sha256').update(v).digest('hex'), size: v.length }])) };
  const all: Record<string, Buffer> = { ...files, [MANIFEST_KEY]: Buffer.from(JSON.stringify(m)) };
  return fromAssets((key) => {
    const v = all[key];
    if (!v) throw new Error(`no asset ${key}`);
    return Buffer.from(v);
  });
}

describe('embedded files', () => {
  it('reads a file only when its bytes match the manifest', () => {
    const good = assets({ 'a.txt': Buffer.from('hello') });
    assert.equal(good.read('a.txt').toString(), 'hello');
    assert.deepEqual(good.keys(), ['a.txt']);
    const lying = assets({ 'a.txt': Buffer.from('tampered') }, { files: { 'a.txt': { sha256: createHash('sha256').update('hello').digest('hex'), size: 5 } } });
    assert.throws(() => lying.read('a.txt'), /embedded file "a.txt" is corrupt/);
    assert.throws(() => good.read('b.txt'), /not in this executable/);
  });

  it('property: a manifest with anything but hex digests and byte counts is refused, naming the field', () => {
    fc.assert(
      fc.property(fc.string(), fc.oneof(fc.string(), fc.integer({ max: -1 }), fc.double()), (sha, size) => {
        const text = JSON.stringify({ files: { f: { sha256: sha, size } } });
        if (/^[0-9a-f]{64}$/.test(sha) && Number.isSafeInteger(size) && (size as number) >= 0) return;
        assert.throws(() => parseManifest(text), /field "files\.f\.(sha256|size)"/);
      }),
    );
    assert.throws(() => parseManifest('{"nope":1}'), /field "files"/);
  });
});

describe('native addon extraction', () => {
  it('writes the addon once into a 0700 directory under its hash, loads it, and rewrites a tampered copy', () => {
    const files = assets({ [KEY]: PTY });
    const dir = join(temp(), 'agent', 'native');
    const path = extractAddon(files, KEY, dir);
    const sha = createHash('sha256').update(PTY).digest('hex');
    assert.equal(path, join(dir, `pty-${sha.slice(0, 16)}.node`));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(path).mode & 0o777, 0o500);
    const binding = loadAddon(path, sha) as { fork?: unknown; open?: unknown };
    assert.equal(typeof binding.fork, 'function');
    assert.equal(typeof binding.open, 'function');

    // A copy changed on disk is noticed before any load, and replaced by the next extraction.
    // (A new file: this process has the old one mapped, and rewriting a mapped library in place crashes it.)
    rmSync(path);
    writeFileSync(path, Buffer.concat([PTY, Buffer.from('x')]));
    assert.throws(() => loadAddon(path, sha), /refusing to load it/);
    assert.equal(extractAddon(files, KEY, dir), path);
    assert.ok(readFileSync(path).equals(PTY));

    // Another version's copy is removed; a directory left open to others is closed again.
    writeFileSync(join(dir, 'pty-0000000000000000.node'), 'old');
    chmodSync(dir, 0o777);
    extractAddon(files, KEY, dir);
    assert.deepEqual(readdirSync(dir), [`pty-${sha.slice(0, 16)}.node`]);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  });

  it('refuses a directory that is a symlink or belongs to another user', (t) => {
    const files = assets({ [KEY]: PTY });
    const base = temp();
    mkdirSync(join(base, 'elsewhere'));
    symlinkSync(join(base, 'elsewhere'), join(base, 'link'));
    assert.throws(() => extractAddon(files, KEY, join(base, 'link')), AddonDirError);
    if (process.getuid?.() !== 0) return t.skip('needs root to create a directory for another user');
    const theirs = join(base, 'theirs');
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, 65534, 65534);
    assert.throws(() => extractAddon(files, KEY, theirs), /owned by uid 65534, not by us \(uid 0\)/);
    assert.deepEqual(readdirSync(theirs), []);
  });

  it('as an unprivileged user: refused in root\'s directory, accepted in its own (setpriv)', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to drop privileges');
    const base = temp();
    chmodSync(base, 0o755);
    const rootsDir = join(base, 'root-native');
    mkdirSync(rootsDir, { mode: 0o755 });
    const own = join(base, 'nobody');
    mkdirSync(own);
    chownSync(own, 65534, 65534);
    const asset = join(base, 'pty.node');
    writeFileSync(asset, PTY);
    chmodSync(asset, 0o644);
    const script = `
      const { fromAssets, MANIFEST_KEY } = await import(${JSON.stringify(join(ROOT, 'packaging/embedded.ts'))});
      const { extractAddon } = await import(${JSON.stringify(join(ROOT, 'packaging/native-addon.ts'))});
      const { createHash } = await import('node:crypto');
      const { readFileSync } = await import('node:fs');
      const pty = readFileSync(${JSON.stringify(asset)});
      const manifest = { files: { [${JSON.stringify(KEY)}]: { sha256: createHash('sha256').update(pty).digest('hex'), size: pty.length } } };
      const files = fromAssets((k) => (k === MANIFEST_KEY ? Buffer.from(JSON.stringify(manifest)) : pty));
      try { console.log('ok ' + extractAddon(files, ${JSON.stringify(KEY)}, process.argv[1])); } catch (e) { console.log('refused ' + e.message); }
    `;
    const run = (dir: string) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, dir], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: own },
      });
    const refused = run(rootsDir);
    assert.match(refused.stdout, /^refused native addon directory .* is owned by uid 0, not by us \(uid 65534\)/, refused.stderr);
    assert.deepEqual(readdirSync(rootsDir), []);
    const accepted = run(join(own, 'native'));
    assert.match(accepted.stdout, /^ok .*\/nobody\/native\/pty-[0-9a-f]{16}\.node$/m, accepted.stderr);
  });
});

describe('targets', () => {
  it('reads os/arch lines, skips comments, names the files; says how armv7 runs instead', () => {
    const targets = parseTargets('# comment\nlinux/amd64\n\n  linux/arm64  # trailing\n');
    assert.deepEqual(
      targets.map((t) => [t.spec, t.nodeArch, t.fileName]),
      [
        ['linux/amd64', 'x64', 'reagent-linux-amd64'],
        ['linux/arm64', 'arm64', 'reagent-linux-arm64'],
      ],
    );
    assert.throws(() => parseTargets('linux/arm/v7\n'), /targets:1: linux\/arm\/v7 cannot be packaged.*README "armv7"/);
    assert.throws(() => parseTargets('linux amd64\n'), /targets:1: expected <os>\/<arch>/);
    assert.throws(() => parseTargets('linux/amd64\nlinux/amd64\n'), /listed twice/);
    assert.throws(() => parseTargets('# none\n'), /no target/);
    assert.deepEqual(parseTargets(readFileSync(join(ROOT, 'targets'), 'utf8')).map((t) => t.spec), ['linux/amd64', 'linux/arm64']);
  });
});
