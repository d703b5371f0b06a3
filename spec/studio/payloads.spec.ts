import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import autobahn from 'autobahn';
import { deriveCraKey, deviceAuthId, parseCraChallenge, respondToChallenge, signCraChallenge } from '../../adapters/wamp/cra.js';
import { parseAppStateRequest } from '../../adapters/wamp/request-app-state.js';
import { parseLogTime, parseDurationMs } from '../../adapters/wamp/time-window.js';
import { parseTransferChunk } from '../../adapters/wamp/file-transfer.js';
import { DeviceApiError } from '../../adapters/wamp/errors.js';
import { LogGate } from '../../adapters/wamp/log-gate.js';
import { redactMessage } from '../../adapters/wamp/traffic-log.js';
import { Redactor } from '../../adapters/log/redactor.js';

const cra = (autobahn as unknown as { auth_cra: { sign(key: string, challenge: string): string; derive_key(secret: string, salt: string, iterations: number, keylen: number): string } }).auth_cra;

test('WAMP-CRA signatures are the bytes autobahn (and the Reagent\'s nexus) compute, salted or not', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1 }), fc.string(), (secret, challenge) => {
      assert.equal(signCraChallenge(secret, challenge), cra.sign(secret, challenge));
    }),
  );
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 50 }), fc.constantFrom(16, 32, 64), (secret, salt, iterations, keylen) => {
      assert.equal(deriveCraKey(secret, salt, iterations, keylen), cra.derive_key(secret, salt, iterations, keylen));
    }),
    { numRuns: 50 },
  );
  const challenge = '{"nonce":"x","authid":"7-42"}';
  assert.equal(respondToChallenge('s3cret', { challenge }), cra.sign('s3cret', challenge));
  assert.equal(respondToChallenge('s3cret', { challenge, salt: 'NaCl', iterations: 100, keylen: 32 }), cra.sign(cra.derive_key('s3cret', 'NaCl', 100, 32), challenge));
  assert.equal(deviceAuthId({ swarm_key: 7, device_key: 42 }), '7-42');
});

test('a malformed CHALLENGE is refused with the field named, never the secret', () => {
  assert.throws(() => parseCraChallenge({}), /field "challenge"/);
  assert.throws(() => parseCraChallenge({ challenge: 'c', salt: 3 }), /field "salt"/);
  assert.throws(() => parseCraChallenge({ challenge: 'c', salt: 's', iterations: -1 }), /field "iterations"/);
  assert.throws(() => respondToChallenge('hunter2-secret', null), (err: Error) => !err.message.includes('hunter2'));
});

const goodRequest = {
  app_key: 12,
  app_name: 'weather_station',
  stage: 'PROD',
  target_state: 'RUNNING',
  release_key: 'legacy-7',
  requestor_account_key: '1001',
  version: '1.2.3',
  docker_credentials: { 'registry.example.com': { username: 'u', password: 'pa55word' } },
  environment: { A: { value: 1 } },
};

test('request_app_state: the Reagent\'s keys, fallbacks and coercions', () => {
  const r = parseAppStateRequest(goodRequest);
  assert.equal(r.appKey, 12);
  assert.equal(r.stage, 'PROD');
  assert.equal(r.targetState, 'RUNNING');
  assert.equal(r.releaseKey, 'legacy-7');
  assert.equal(r.requestorAccountKey, 1001);
  assert.deepEqual(r.dockerCredentials, { 'registry.example.com': { username: 'u', password: 'pa55word' } });
  // manually_requested_state stands in for target_state; transient targets mean where they lead
  assert.equal(parseAppStateRequest({ ...goodRequest, target_state: undefined, manually_requested_state: 'STARTING' }).targetState, 'RUNNING');
  assert.equal(parseAppStateRequest({ ...goodRequest, target_state: 'DELETING' }).targetState, 'REMOVED');
  assert.equal(parseAppStateRequest({ ...goodRequest, app_key: '12' }).appKey, 12);
  assert.equal(parseAppStateRequest({ ...goodRequest, requestor_account_key: undefined, account_id: 5 }).requestorAccountKey, 5);
});

test('request_app_state: a bad field is named with what was expected; a password is never echoed', () => {
  const bad = (patch: Record<string, unknown>, field: RegExp) =>
    assert.throws(() => parseAppStateRequest({ ...goodRequest, ...patch }), (err: unknown) => err instanceof DeviceApiError && field.test(err.message));
  bad({ app_key: -1 }, /field "app_key": expected a non-negative integer/);
  bad({ app_name: '../etc' }, /field "app_name"/);
  bad({ stage: 'QA' }, /field "stage": expected "DEV" or "PROD", got string "QA"/);
  bad({ target_state: 'FLYING' }, /field "target_state"/);
  bad({ target_state: undefined }, /field "target_state"/);
  bad({ request_update: 'yes' }, /field "request_update": expected true or false/);
  bad({ environment: [1] }, /field "environment": expected an object/);
  assert.throws(
    () => parseAppStateRequest({ ...goodRequest, docker_credentials: { h: { username: 'u', password: 12345678 } } }),
    (err: Error) => /docker_credentials\.h\.password/.test(err.message) && !err.message.includes('12345678'),
  );
});

test('property: request_app_state parsing never throws anything but a DeviceApiError naming a field', () => {
  fc.assert(
    fc.property(fc.oneof(fc.anything(), fc.record({ app_key: fc.anything(), app_name: fc.anything(), stage: fc.anything(), target_state: fc.anything() }, { requiredKeys: [] })), (payload) => {
      try {
        parseAppStateRequest(payload);
      } catch (err) {
        assert.ok(err instanceof DeviceApiError, `unexpected ${String(err)}`);
        assert.match(err.message, /^field "[^"]+": expected /);
      }
    }),
    { numRuns: 500 },
  );
});

test('log times: RFC3339, Unix seconds, Go durations meaning ago; anything else names the field', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  assert.equal(parseLogTime('since', '2024-05-01T11:00:00Z', now), now / 1000 - 3600);
  assert.equal(parseLogTime('since', 1714561200, now), 1714561200);
  assert.equal(parseLogTime('since', '1714561200', now), 1714561200);
  assert.equal(parseLogTime('since', '1h30m', now), now / 1000 - 5400);
  assert.equal(parseDurationMs('500ms'), 500);
  assert.throws(() => parseLogTime('args[0].until', 'yesterday', now), /field "args\[0\]\.until": expected an RFC3339 time/);
  fc.assert(
    fc.property(fc.anything(), (v) => {
      try {
        const t = parseLogTime('since', v, now);
        assert.ok(Number.isFinite(t) && t >= 0);
      } catch (err) {
        assert.ok(err instanceof DeviceApiError);
      }
    }),
    { numRuns: 300 },
  );
});

test('write_data arguments: a file name is one path segment, the chunk is BEGIN, END or data', () => {
  assert.deepEqual(parseTransferChunk(['BEGIN', 'app.tgz', 'dev_12_app', 100, 'x1']), { chunk: 'BEGIN', fileName: 'app.tgz', containerName: 'dev_12_app', total: 100, id: 'x1' });
  assert.throws(() => parseTransferChunk(['BEGIN', '../../etc/passwd', 'dev_12_app', 1, 'x']), /field "args\[1\] \(fileName\)"/);
  assert.throws(() => parseTransferChunk(['BEGIN', 'a/b.tgz', 'dev_12_app', 1, 'x']), /fileName/);
  assert.throws(() => parseTransferChunk(['BEGIN', 'a.tgz', '/etc', 1, 'x']), /containerName/);
  assert.throws(() => parseTransferChunk(['', 'a.tgz', 'dev_1_a', 1, 'x']), /args\[0\] \(chunk\)/);
  assert.throws(() => parseTransferChunk(['BEGIN', 'a.tgz', 'dev_1_a', -3, 'x']), /args\[3\] \(total\)/);
  assert.throws(() => parseTransferChunk(['BEGIN', 'a.tgz', 'dev_1_a', 3, {}]), /args\[4\] \(id\)/);
});

test('log gate: an on_delete for a replaced subscription does not stop publishing; prefix subscriptions cover every app', () => {
  const g = new LogGate('SER');
  assert.deepEqual(g.created({ id: 1, uri: 'reswarm.logs.SER.prod_1_app', match: 'exact' }), { start: 'prod_1_app' });
  assert.equal(g.created({ id: 2, uri: 'reswarm.logs.SER.prod_1_app', match: 'exact' }), null, 'browser refresh: new subscription first');
  assert.equal(g.deleted(1), null, 'the old one going does not stop the topic');
  assert.ok(g.wanted('prod_1_app'));
  assert.deepEqual(g.deleted(2), { stop: 'prod_1_app' });
  assert.equal(g.created({ id: 3, uri: 'reswarm.logs.OTHER.prod_1_app', match: 'exact' }), null, 'another device');
  assert.equal(g.created({ id: 4, uri: 'reswarm.logs.SER.a.b', match: 'exact' }), null, 'not a container topic');
  assert.deepEqual(g.created({ id: 5, uri: 'reswarm.logs.', match: 'prefix' }), { startAll: true });
  assert.ok(g.wanted('anything'));
  assert.deepEqual(g.deleted(5), { stopAll: true });
  assert.ok(!g.wanted('anything'));
});

test('-debugMessaging: the AUTHENTICATE signature and credentials in payloads are blanked, the secret never shows', () => {
  const r = new Redactor();
  r.addSecret('device-secret-xyz');
  const auth = redactMessage([5, 'c2lnbmF0dXJl', {}], r);
  assert.deepEqual(auth, [5, '[REDACTED]', {}]);
  const call = JSON.stringify(redactMessage([68, 1, 2, {}, [], { docker_credentials: { h: { username: 'u', password: 'p' } }, note: 'device-secret-xyz' }], r));
  assert.ok(!call.includes('device-secret-xyz') && !call.includes('"p"'), call);
});
