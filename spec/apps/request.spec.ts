import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { validateRequest, specFromPayload, legacyEnv } from '../../apps/request.js';
import { MemorySecretStore } from '../../adapters/store/secret-store.js';
import { appRequest } from '../helpers/apps-daemon.js';

const DEFAULTS = { registry: 'registry.example.com/', repository: 'apps/' };

test('a request becomes a REQUEST event with the app spec and no secret', () => {
  const store = new MemorySecretStore();
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
    { requestId: 'req-1', fingerprint: (v) => store.fingerprint(v) },
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
  assert.deepEqual(request.event.registryLogins, ['registry.example.com']);
  assert.deepEqual(request.event.spec.envNames, ['DEBUG', 'GREETING', 'PORT', 'WRAPPED']);
  assert.match(request.event.spec.envFingerprint ?? '', /^sha256:[0-9a-f]{16}$/);
  assert.deepEqual(request.event.report, { device_to_app_key: 7, requestor_account_key: null, release_key: 'r-1' });
  const json = JSON.stringify(request.event);
  assert.ok(!json.includes('hunter2') && !json.includes('device"'), json);
  // Environment values stay out of the event: they come back from the secret table.
  assert.ok(!json.includes('"hi"') && !json.includes('8080"') && !json.includes('"x"'), json);
  assert.deepEqual(specFromPayload(JSON.parse(json), { registry: '', repository: '' }, request.spec.env), request.spec);
});

test('a changed environment value changes the fingerprint; the order of the variables does not', () => {
  const store = new MemorySecretStore();
  const fp = (environment: Record<string, string>) => {
    const r = validateRequest(appRequest({ appKey: 1, appName: 'a', stage: 'PROD', targetState: 'RUNNING', environment }), DEFAULTS, {
      fingerprint: (v) => store.fingerprint(v),
    });
    assert.ok(r.ok);
    return r.request.event.spec.envFingerprint;
  };
  assert.equal(fp({ A: '1', B: '2' }), fp({ B: '2', A: '1' }));
  assert.notEqual(fp({ A: '1', B: '2' }), fp({ A: '1', B: '3' }));
  assert.notEqual(store.fingerprint('x'), new MemorySecretStore().fingerprint('x'), 'each device has its own salt');
});

test('a REQUEST stored before values left the journal gives its environment to the secret table and loses it', () => {
  const store = new MemorySecretStore();
  const old = {
    target: 'RUNNING',
    appName: 'a',
    spec: { registry: 'r/', repository: 'p/', env: { TOKEN: 'planted-env-secret' }, ports: [] },
    credentialHosts: ['r.example.com'],
  };
  const moved = legacyEnv(old, (v) => store.fingerprint(v));
  assert.ok(moved);
  assert.deepEqual(moved.env, { TOKEN: 'planted-env-secret' });
  const json = JSON.stringify(moved.payload);
  assert.ok(!json.includes('planted-env-secret'), json);
  assert.deepEqual((moved.payload['spec'] as { envNames: string[] }).envNames, ['TOKEN']);
  assert.deepEqual(moved.payload['registryLogins'], ['r.example.com']);
  assert.equal(legacyEnv(moved.payload, (v) => store.fingerprint(v)), undefined, 'a current payload is left alone');
  // Without the table (a damaged one), the old payload still runs the app with its values.
  assert.deepEqual(specFromPayload(old, { registry: '', repository: '' }).env, { TOKEN: 'planted-env-secret' });
});

test('bad fields are refused with the field and what was expected', () => {
  const base = { appKey: 1, appName: 'a', stage: 'PROD' as const, targetState: 'RUNNING' as const };
  const cases: Array<[Parameters<typeof appRequest>[0], RegExp]> = [
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
  // The name is checked where a request enters (the wire parser, spec/studio/payloads.spec.ts; the agent's own,
  // minimalRequest), not again here: AppStateRequest's AppName says it was.
  assert.throws(() => appRequest({ ...base, appName: '../etc' }), /invalid app name "\.\.\/etc"/);
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
