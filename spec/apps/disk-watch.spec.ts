// The continuous disk guard's verdicts (the timing is the CLI test's job,
// spec/studio/e2e-disk.spec.ts): the tightest filesystem decides, only
// changes are announced, an unreadable path changes nothing; and its knobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DiskWatch } from '../../apps/disk-watch.js';
import { appsSettings } from '../../apps/config.js';
import { silentLogger } from '../../adapters/docker/types.js';

const MiB = 1024 * 1024;
const thresholds = { warnBytes: 40 * MiB, minBytes: 20 * MiB };

function watch(free: Record<string, number | Error>) {
  const changes: boolean[] = [];
  const w = new DiskWatch({
    thresholds,
    timing: { checkMs: 1000, emergencyCheckMs: 100 },
    paths: async () => Object.keys(free),
    freeBytes: async (p) => {
      const v = free[p];
      if (v instanceof Error || v === undefined) throw v ?? new Error('gone');
      return v;
    },
    onChange: (e) => changes.push(e),
    logger: silentLogger,
  });
  return { w, changes, free };
}

test('disk watch: the tightest filesystem decides; only changes are announced; unreadable paths change nothing', async () => {
  const { w, changes, free } = watch({ '/root': 500 * MiB, '/apps': 30 * MiB });
  await w.check();
  assert.deepEqual(changes, [], 'warn is no emergency');
  free['/apps'] = 10 * MiB;
  await w.check();
  await w.check();
  assert.deepEqual(changes, [true]);
  assert.equal(w.emergency, true);
  free['/apps'] = new Error('EACCES');
  free['/root'] = new Error('EACCES');
  await w.check();
  assert.equal(w.emergency, true, 'nothing readable: the verdict stays');
  free['/apps'] = 100 * MiB;
  free['/root'] = 100 * MiB;
  await w.check();
  assert.deepEqual(changes, [true, false]);
});

test('property: the watch is in emergency exactly when the last readable check had a path below the minimum', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 }), async (rounds) => {
      const free: Record<string, number> = {};
      const { w, changes } = watch(free);
      let expected = false;
      for (const round of rounds) {
        for (const k of Object.keys(free)) delete free[k];
        round.forEach((mib, i) => (free[`/p${i}`] = mib * MiB));
        await w.check();
        expected = round.some((mib) => mib * MiB < thresholds.minBytes);
        assert.equal(w.emergency, expected);
      }
      for (let i = 1; i < changes.length; i++) assert.notEqual(changes[i], changes[i - 1], 'announcements alternate');
    }),
    { numRuns: 200 },
  );
});

test('REAGENT_DISK_CHECK_MS / REAGENT_DISK_EMERGENCY_CHECK_MS: defaults of the Reagent, bad values named', () => {
  const base = { appsDir: '/tmp/a', buildExtension: 'tgz', arch: 'amd64' };
  const ok = appsSettings(base, {});
  assert.ok(ok.ok);
  assert.deepEqual(ok.ok && ok.settings.diskWatch, { checkMs: 300_000, emergencyCheckMs: 5_000 });
  const set = appsSettings(base, { REAGENT_DISK_CHECK_MS: '1000', REAGENT_DISK_EMERGENCY_CHECK_MS: '200' });
  assert.deepEqual(set.ok && set.settings.diskWatch, { checkMs: 1000, emergencyCheckMs: 200 });
  const bad = appsSettings(base, { REAGENT_DISK_EMERGENCY_CHECK_MS: 'soon' });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.error : '', /REAGENT_DISK_EMERGENCY_CHECK_MS="soon"/);
  const tiny = appsSettings(base, { REAGENT_DISK_CHECK_MS: '5' });
  assert.match(!tiny.ok ? tiny.error : '', /REAGENT_DISK_CHECK_MS=5: expected at least 100/);
});
