import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AppId } from '../../machines/app-id.js';
import { STAGES } from '../../machines/app-states.js';

const stage = fc.constantFrom(...STAGES);
// App keys as the studio sends them are [a-zA-Z0-9-]; the id only needs them non-empty and free of ':'.
const appKey = fc.string({ minLength: 1, maxLength: 40 }).filter((k) => !k.includes(':'));

test('AppId: parse(format(stage, appKey)) gives back the stage, the key and the same id', () => {
  fc.assert(
    fc.property(stage, appKey, (s, k) => {
      const id = AppId.format(s, k);
      const parsed = AppId.parse(id);
      assert.deepEqual(parsed, { ok: true, id, stage: s, appKey: k });
      assert.deepEqual(AppId.partsOf(id), { id, stage: s, appKey: k });
    }),
  );
});

test('AppId: the wire form is app:<STAGE>:<appKey>, as journals recorded before this type hold it', () => {
  assert.equal(AppId.format('PROD', '21'), 'app:PROD:21');
  assert.equal(AppId.format('DEV', 'a-b'), 'app:DEV:a-b');
});

test('AppId: ids of other actors and malformed ones are refused with what was expected', () => {
  for (const bad of ['studio:connection', 'gateway', 'app:TEST:1', 'app:PROD:', 'app:PROD:a:b', 'app:prod:1', 'App:PROD:1', '', 'terminal:app:PROD:1']) {
    const parsed = AppId.parse(bad);
    assert.equal(parsed.ok, false, bad);
    if (!parsed.ok) assert.match(parsed.reason, /^".*" is not an app actor id: expected app:<DEV\|PROD>:<app key> \(an app key is non-empty and has no ":"\)$/);
    assert.equal(AppId.partsOf(bad), undefined);
  }
  fc.assert(
    fc.property(fc.string(), (s) => {
      const parsed = AppId.parse(s);
      // Whatever parses, formats back to itself: there is one spelling per app.
      if (parsed.ok) assert.equal(AppId.format(parsed.stage, parsed.appKey), s);
    }),
  );
});
