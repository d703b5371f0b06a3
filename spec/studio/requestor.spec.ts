// One reading of "who is the requestor" for the request parser and the
// privilege check: the same field names (`requestor_account_key`, alias
// `account_id`), and a present but malformed value refused by both with
// invalid_argument. Before, the privilege check skipped a malformed value and
// ignored `account_id`, so a `system` call naming an account that way ran as
// the backend itself, while the parser recorded that account as the requestor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { resolveCaller } from '../../adapters/wamp/privilege.js';
import { parseAppStateRequest } from '../../adapters/wamp/request-app-state.js';
import { REQUESTOR_ACCOUNT_FIELDS } from '../../adapters/wamp/requestor-account.js';
import { DeviceApiError, WAMP_ERRORS } from '../../adapters/wamp/errors.js';

const request = { app_key: 12, app_name: 'weather', stage: 'PROD', target_state: 'RUNNING' };
const system = { caller_authid: 'system' } as Parameters<typeof resolveCaller>[0];

type Verdict = { account: number | string | null } | { invalid: string };

function privilegeReads(args: unknown[], kwargs: Record<string, unknown>): Verdict {
  try {
    return { account: resolveCaller(system, args, kwargs).account };
  } catch (err) {
    assert.ok(err instanceof DeviceApiError, String(err));
    assert.equal(err.uri, WAMP_ERRORS.invalidArgument);
    return { invalid: String(err.kwargs.field) };
  }
}

function parserReads(payload: Record<string, unknown>, path = ''): Verdict {
  try {
    return { account: parseAppStateRequest({ ...request, ...payload }, path).requestorAccountKey };
  } catch (err) {
    assert.ok(err instanceof DeviceApiError, String(err));
    assert.equal(err.uri, WAMP_ERRORS.invalidArgument);
    return { invalid: String(err.kwargs.field) };
  }
}

test('the alias set is the Reagent\'s: requestor_account_key, then account_id', () => {
  assert.deepEqual([...REQUESTOR_ACCOUNT_FIELDS], ['requestor_account_key', 'account_id']);
});

test('a present but malformed requestor is invalid_argument for the privilege check and the parser alike, in kwargs and in args[0]', () => {
  for (const field of REQUESTOR_ACCOUNT_FIELDS) {
    for (const bad of ['', true, false, {}, { id: 1 }, [], [1001], -1, 1.5, 2 ** 53, 'two words', 'x'.repeat(129), '\u0000']) {
      assert.deepEqual(privilegeReads([], { ...request, [field]: bad }), { invalid: field }, `kwargs.${field} = ${JSON.stringify(bad)}`);
      assert.deepEqual(privilegeReads([{ [field]: bad }], {}), { invalid: `args[0].${field}` }, `args[0].${field} = ${JSON.stringify(bad)}`);
      assert.deepEqual(parserReads({ [field]: bad }), { invalid: field });
    }
  }
});

test('absent or null is the backend itself; digits are one account whichever way they are written', () => {
  assert.deepEqual(privilegeReads([], { ...request }), { account: null });
  assert.deepEqual(privilegeReads([], { ...request, requestor_account_key: null, account_id: null }), { account: null });
  assert.deepEqual(privilegeReads([{ containerName: 'prod_12_weather' }], {}), { account: null });
  assert.deepEqual(privilegeReads([], { account_id: '1001' }), { account: 1001 });
  assert.deepEqual(privilegeReads([{ account_id: 1001 }], { requestor_account_key: '1001' }), { account: 1001 });
  assert.deepEqual(privilegeReads([], { requestor_account_key: 'acct-7' }), { account: 'acct-7' });
  assert.deepEqual(parserReads({ account_id: '1001' }), { account: 1001 });
  // Callers other than "system" are checked as themselves, whatever they name.
  assert.deepEqual(resolveCaller({ caller_authid: '2002' } as typeof system, [], { requestor_account_key: 1001 }), { authid: '2002', account: '2002' });
});

test('two different accounts in one call are refused, not guessed between', () => {
  assert.deepEqual(privilegeReads([], { requestor_account_key: 1001, account_id: 2002 }), { invalid: 'account_id' });
  assert.deepEqual(parserReads({ requestor_account_key: 1001, account_id: 2002 }), { invalid: 'account_id' });
  assert.deepEqual(privilegeReads([{ account_id: 2002 }], { requestor_account_key: 1001 }), { invalid: 'args[0].account_id' });
});

test('property: for any value under either name, the privilege check and the parser agree on the requestor or both refuse it', () => {
  const value = fc.oneof(fc.anything(), fc.nat().map(String), fc.string(), fc.constantFrom('', ' ', true, null, undefined, 0, -0, 1e21));
  fc.assert(
    fc.property(fc.constantFrom(...REQUESTOR_ACCOUNT_FIELDS), value, fc.option(fc.tuple(fc.constantFrom(...REQUESTOR_ACCOUNT_FIELDS), value), { nil: undefined }), (field, v, other) => {
      const payload: Record<string, unknown> = { [field]: v };
      if (other) payload[other[0]] = other[1];
      const parsed = parserReads(payload);
      assert.deepEqual(privilegeReads([], { ...request, ...payload }), parsed);
      // The same object as a positional argument reads the same, with its path.
      const positional = privilegeReads([payload], {});
      assert.deepEqual(positional, 'invalid' in parsed ? { invalid: `args[0].${parsed.invalid}` } : parsed);
    }),
    { numRuns: 2000 },
  );
});
