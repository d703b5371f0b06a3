// The secret table (<agentDir>/secrets.json): 0600, kept across restarts
// (fingerprints stay stable, app environments come back), never read
// through a symlink, and a damaged file is moved aside without quoting it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { FINGERPRINT, FileSecretStore, MemorySecretStore, SecretStoreError, envFingerprint } from '../../adapters/store/secret-store.js';
import { tempDir } from '../helpers/cli.js';

function withDir(fn: (dir: string) => void) {
  return () => {
    const dir = tempDir('reagent-secrets-');
    try {
      fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'kept across restarts, 0600: the same salt (same fingerprints) and the app environments',
  withDir((dir) => {
    const a = new FileSecretStore(dir);
    const path = join(dir, 'secrets.json');
    assert.equal(statSync(path).mode & 0o777, 0o600, 'written at once, 0600');
    a.setAppEnv('app:PROD:1', { TOKEN: 'v1', B: '2' });
    a.set('registry:r.example.com', 'pw');
    const fp = a.fingerprint('x-agt-token');
    const b = new FileSecretStore(dir);
    assert.equal(b.fingerprint('x-agt-token'), fp);
    assert.deepEqual(b.appEnv('app:PROD:1'), { TOKEN: 'v1', B: '2' });
    assert.equal(b.get('registry:r.example.com'), 'pw');
    b.forgetApp('app:PROD:1');
    b.set('registry:r.example.com', undefined);
    const c = new FileSecretStore(dir);
    assert.equal(c.appEnv('app:PROD:1'), undefined);
    assert.equal(c.get('registry:r.example.com'), undefined);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir).sort(), ['secrets.json'], 'no temporary file left');
  }),
);

test(
  'a symlink at secrets.json is refused, never followed; a loose mode is tightened; a damaged file is moved aside unquoted',
  withDir((dir) => {
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(join(dir, 'a'));
    writeFileSync(elsewhere, 'not yours');
    symlinkSync(elsewhere, join(dir, 'a', 'secrets.json'));
    assert.throws(() => new FileSecretStore(join(dir, 'a')), (err: Error) => err instanceof SecretStoreError && /is a symbolic link/.test(err.message));
    assert.equal(readFileSync(elsewhere, 'utf8'), 'not yours');
    assert.ok(lstatSync(join(dir, 'a', 'secrets.json')).isSymbolicLink());

    mkdirSync(join(dir, 'b'));
    new FileSecretStore(join(dir, 'b')).setAppEnv('app:DEV:2', { A: 'planted-value-1' });
    chmodSync(join(dir, 'b', 'secrets.json'), 0o644);
    const loose = new FileSecretStore(join(dir, 'b'));
    assert.match(loose.notes.join(), /could be read by other users \(mode 644\); it is rewritten 0600/);
    assert.equal(statSync(join(dir, 'b', 'secrets.json')).mode & 0o777, 0o600);
    assert.deepEqual(loose.appEnv('app:DEV:2'), { A: 'planted-value-1' });

    mkdirSync(join(dir, 'c'));
    writeFileSync(join(dir, 'c', 'secrets.json'), '{"format":"reagent-secrets","version":1,"salt":"planted-damaged-secret"}', { mode: 0o600 });
    const fresh = new FileSecretStore(join(dir, 'c'));
    assert.match(fresh.notes.join(), /field "salt": expected 64 hex digits; moved to .*secrets\.json\.damaged-\d+/);
    assert.ok(!fresh.notes.join().includes('planted-damaged-secret'), 'the content is never quoted');
    assert.equal(readdirSync(join(dir, 'c')).filter((n) => n.startsWith('secrets.json.damaged-')).length, 1);
  }),
);

test('property: fingerprints are sha256: + 16 hex, stable per store, different across stores; an environment’s ignores order', () => {
  const a = new MemorySecretStore();
  const b = new MemorySecretStore();
  fc.assert(
    fc.property(fc.string(), fc.dictionary(fc.string({ minLength: 1 }), fc.string()), (value, env) => {
      assert.match(a.fingerprint(value), FINGERPRINT);
      assert.equal(a.fingerprint(value), a.fingerprint(value));
      assert.notEqual(a.fingerprint(value), b.fingerprint(value));
      assert.ok(!a.fingerprint(value).includes(value) || value.length < 4);
      const reversed = Object.fromEntries(Object.entries(env).reverse());
      assert.equal(envFingerprint(a, env), envFingerprint(a, reversed));
    }),
    { numRuns: 200 },
  );
});
