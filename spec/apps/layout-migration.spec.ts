// The move from the by-name layout to the keyed one, on a plain directory
// (the real-engine version, with containers, is app-dirs.spec.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { migrateAppLayout, planLayoutMigration } from '../../apps/layout-migration.js';
import { tempDir } from '../helpers/cli.js';

const silent = pino({ level: 'silent' });

test('the plan: one standing app of a stage and name gets the by-name place; two get nothing', () => {
  const apps = '/srv/apps';
  const plan = planLayoutMigration(
    apps,
    [
      { stage: 'PROD', appKey: '1', appName: 'web' },
      { stage: 'DEV', appKey: '1', appName: 'web' },
      { stage: 'DEV', appKey: '2', appName: 'api' },
      { stage: 'DEV', appKey: '3', appName: 'api' },
    ],
    'tgz',
  );
  assert.deepEqual(plan.moves, [
    { what: 'data', from: '/srv/apps/prod/web', to: '/srv/apps/data/prod_1_web' },
    { what: 'data', from: '/srv/apps/dev/web', to: '/srv/apps/data/dev_1_web' },
    { what: 'build archive', from: '/srv/apps/build/web.tgz', to: '/srv/apps/uploads/dev_1_web/web.tgz' },
  ]);
  assert.deepEqual(plan.ambiguous, [
    { what: 'data', from: '/srv/apps/dev/api', claimants: ['dev_2_api', 'dev_3_api'] },
    { what: 'build archive', from: '/srv/apps/build/api.tgz', claimants: ['dev_2_api', 'dev_3_api'] },
  ]);
});

test('moves by rename, once; never through a symlink, never onto something; leaves what two apps share', async () => {
  const dir = tempDir('reagent-layout-');
  try {
    const apps = join(dir, 'apps');
    for (const d of ['prod/web', 'dev/api', 'dev/dup', 'dev/linked', 'data/prod_7_taken', 'prod/taken', 'build']) mkdirSync(join(apps, d), { recursive: true });
    writeFileSync(join(apps, 'prod/web/db'), 'web data');
    writeFileSync(join(apps, 'build/web.tgz'), 'web sources'); // a PROD app has no sources: not moved
    writeFileSync(join(apps, 'build/api.tgz'), 'api sources');
    writeFileSync(join(apps, 'prod/taken/x'), 'old');
    writeFileSync(join(apps, 'data/prod_7_taken/x'), 'new');
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    rmSync(join(apps, 'dev/linked'), { recursive: true });
    symlinkSync(outside, join(apps, 'dev/linked'));
    const ino = statSync(join(apps, 'prod/web')).ino;
    const standing = [
      { stage: 'PROD' as const, appKey: '5', appName: 'web' },
      { stage: 'DEV' as const, appKey: '2', appName: 'api' },
      { stage: 'DEV' as const, appKey: '3', appName: 'linked' },
      { stage: 'PROD' as const, appKey: '7', appName: 'taken' },
      { stage: 'DEV' as const, appKey: '8', appName: 'dup' },
      { stage: 'DEV' as const, appKey: '9', appName: 'dup' },
    ];
    const r = await migrateAppLayout(apps, standing, 'tgz', silent);
    assert.deepEqual(r.moved.map((m) => m.to).sort(), [join(apps, 'data/dev_2_api'), join(apps, 'data/prod_5_web'), join(apps, 'uploads/dev_2_api/api.tgz')].sort());
    assert.equal(statSync(join(apps, 'data/prod_5_web')).ino, ino, 'renamed, not copied');
    assert.equal(readFileSync(join(apps, 'data/prod_5_web/db'), 'utf8'), 'web data');
    assert.deepEqual(
      r.left.map((l) => [l.from, /symlink|already exists|shared by apps of one name \(dev_8_dup, dev_9_dup\)/.exec(l.reason)?.[0]]).sort(),
      [[join(apps, 'dev/dup'), 'shared by apps of one name (dev_8_dup, dev_9_dup)'], [join(apps, 'dev/linked'), 'symlink'], [join(apps, 'prod/taken'), 'already exists']].sort(),
    );
    assert.equal(readFileSync(join(apps, 'data/prod_7_taken/x'), 'utf8'), 'new');
    assert.equal(readFileSync(join(apps, 'prod/taken/x'), 'utf8'), 'old');
    assert.equal(existsSync(join(apps, 'dev/dup')), true);
    assert.equal(readFileSync(join(apps, 'build/web.tgz'), 'utf8'), 'web sources', 'a PROD app has no uploaded sources to claim');
    assert.deepEqual(readdirSync(outside), []);
    // Once: nothing moves the second time.
    const again = await migrateAppLayout(apps, standing, 'tgz', silent);
    assert.deepEqual(again.moved, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
