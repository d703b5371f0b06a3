import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { validateRequest, specFromPayload } from '../../adapters/apps/request.js';
import { appRequest } from '../helpers/apps-daemon.js';

const DEFAULTS = { registry: 'registry.example.com/', repository: 'apps/' };

test('a request becomes a REQUEST event with the app spec and no secret', () => {
  const r = validateRequest(
    appRequest({
      appKey: 42,
      appName: 'sensor',
      stage: 'PROD',
      targetState: 'RUNNING',
      version: '1.2.0',
      newestVersion: '1.3.0',
      requestUpdate: true,
      environment: { GREETING: 'hi', PORT: 8080, DEBUG: true, WRAPPED: { value: 'x', type: 'string' }, GONE: null },
      ports: [{ port: 80, protocol: 'http', host_port: 8080 }, { port: 53, protocol: 'udp' }, { port: 9, active: false }],
      dockerCredentials: { 'registry.example.com': { username: 'device', password: 'hunter2-secret' } },
      deviceToAppKey: 7,
      releaseKey: 'r-1',
    }),
    DEFAULTS,
    { requestId: 'req-1' },
  );
  assert.ok(r.ok, r.ok ? '' : r.error);
  const { request } = r;
  assert.equal(request.actorId, 'app:PROD:42');
  assert.deepEqual(request.app, { appKey: '42', stage: 'PROD', appName: 'sensor' });
  assert.deepEqual(request.spec.env, { GREETING: 'hi', PORT: '8080', DEBUG: 'true', WRAPPED: 'x' });
  assert.deepEqual(request.spec.ports, [{ port: 80, protocol: 'tcp', host_port: 8080 }, { port: 53, protocol: 'udp' }]);
  assert.equal(request.credentials.get('registry.example.com')?.password, 'hunter2-secret');
  assert.equal(request.event.target, 'RUNNING');
  assert.equal(request.event.version, '1.2.0');
  assert.equal(request.event.newestVersion, '1.3.0');
  assert.equal(request.event.requestUpdate, true);
  assert.equal(request.event.requestId, 'req-1');
  assert.deepEqual(request.event.credentialHosts, ['registry.example.com']);
  assert.deepEqual(request.event.report, { device_to_app_key: 7, requestor_account_key: null, release_key: 'r-1' });
  const json = JSON.stringify(request.event);
  assert.ok(!json.includes('hunter2') && !json.includes('device"'), json);
  assert.deepEqual(specFromPayload(JSON.parse(json), { registry: '', repository: '' }), request.spec);
});

test('bad fields are refused with the field and what was expected', () => {
  const base = { appKey: 1, appName: 'a', stage: 'PROD' as const, targetState: 'RUNNING' as const };
  const cases: Array<[Parameters<typeof appRequest>[0], RegExp]> = [
    [{ ...base, appName: '../etc' }, /field "app_name": invalid app name "\.\.\/etc"/],
    [{ ...base, version: 'v1 beta' }, /field "version": expected 1-128 characters/],
    [{ ...base, environment: { 'BAD-NAME': 'x' } }, /field "environment\.BAD-NAME": expected a variable name/],
    [{ ...base, environment: { A: ['x'] } }, /field "environment\.A": expected a string, number or boolean/],
    [{ ...base, ports: [{ port: 70000 }] }, /field "ports\[0\]\.port": expected a port number 1-65535, got number 70000/],
    [{ ...base, ports: [{ port: 80, protocol: 'sctp' }] }, /field "ports\[0\]\.protocol"/],
    [{ ...base, dockerCredentials: { 'bad host/x': { username: 'u', password: 'p' } } }, /field "docker_credentials"/],
  ];
  for (const [req, re] of cases) {
    const r = validateRequest(appRequest(req), DEFAULTS);
    assert.ok(!r.ok, `accepted ${JSON.stringify(req)}`);
    assert.match(r.error, /^request_app_state: /);
    assert.match(r.error, re);
  }
  const secret = validateRequest(appRequest({ ...base, dockerCredentials: { 'r.example.com': { username: 'u', password: 42 as unknown as string } } }), DEFAULTS);
  assert.ok(!secret.ok && !secret.error.includes('42'), 'a malformed credential is not echoed');
});

test('property: any environment and ports either validate into strings and ports or are refused by name, never thrown', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.jsonValue(), (environment, ports) => {
      const r = validateRequest(
        appRequest({ appKey: 1, appName: 'a', stage: 'DEV', targetState: 'PRESENT', environment: environment as never, ports: ports as never }),
        DEFAULTS,
      );
      if (r.ok) {
        for (const v of Object.values(r.request.spec.env)) assert.equal(typeof v, 'string');
        for (const p of r.request.spec.ports) assert.ok(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535);
      } else {
        assert.match(r.error, /^request_app_state: field "(environment|ports)/);
      }
    }),
    { numRuns: 300 },
  );
});
