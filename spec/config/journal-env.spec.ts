import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { DEFAULT_JOURNAL_BUFFER_KIB, readJournalEnv } from '../../config/journal-env.js';
import { cleanEnv, runReagent, tempDir } from '../helpers/cli.js';

test('REAGENT_JOURNAL_BUFFER_KIB: a whole number of KiB, at least 16; a bad value names the variable', () => {
  assert.deepEqual(readJournalEnv({}), { ok: true, bufferBytes: DEFAULT_JOURNAL_BUFFER_KIB * 1024 });
  assert.deepEqual(readJournalEnv({ REAGENT_JOURNAL_BUFFER_KIB: ' 64 ' }), { ok: true, bufferBytes: 64 * 1024 });
  for (const bad of ['8', '-1', '1.5', 'lots', '9999999999']) {
    const r = readJournalEnv({ REAGENT_JOURNAL_BUFFER_KIB: bad });
    assert.equal(r.ok, false, bad);
    assert.match(r.ok ? '' : r.error, /^REAGENT_JOURNAL_BUFFER_KIB: expected a whole number of KiB, at least 16, got "/);
  }
});

test('the built CLI refuses a bad REAGENT_JOURNAL_BUFFER_KIB before starting (exit 2)', () => {
  const dir = tempDir();
  const r = runReagent(['-offline', '-agentDir', dir], cleanEnv(dir, { REAGENT_JOURNAL_BUFFER_KIB: 'lots' }));
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.equal(r.stderr.trim(), 'REAGENT_JOURNAL_BUFFER_KIB: expected a whole number of KiB, at least 16, got "lots"');
});
