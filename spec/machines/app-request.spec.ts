// The stored-REQUEST reader (machines/app-request.ts): what the app domain
// journals reads back as itself; a payload with any one field broken is
// refused with a message naming that field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { APP_STATES } from '../../machines/app-states.js';
import { readRequestPayload, RequestPayloadError, type AppRequestPayload } from '../../machines/app-request.js';

const str = fc.string({ maxLength: 12 });
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const payload: fc.Arbitrary<AppRequestPayload> = fc
  .record({
    target: fc.constantFrom(...APP_STATES),
    appName: fc.string({ minLength: 1, maxLength: 12 }),
    version: optional(str),
    newestVersion: optional(str),
    requestId: optional(str),
    requestUpdate: optional(fc.boolean()),
    cancel: optional(fc.boolean()),
    resync: optional(fc.boolean()),
    unlisted: optional(fc.boolean()),
    appCredEpoch: optional(fc.nat()),
    deviceOwnerAccountKey: optional(fc.nat()),
    registryLogins: optional(fc.array(str, { maxLength: 3 })),
    report: optional(fc.record({ device_to_app_key: fc.oneof(fc.nat(), fc.constant(null)), requestor_account_key: fc.constant(null), release_key: str })),
    spec: fc.record({
      registry: str,
      repository: str,
      envNames: optional(fc.array(str, { maxLength: 3 })),
      ports: fc.array(fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom('tcp', 'udp') }), { maxLength: 3 }),
    }),
  })
  // JSON has no undefined: the payload as it comes back from storage
  .map((p) => JSON.parse(JSON.stringify(p)) as AppRequestPayload);

/** One field broken, and the name the refusal must carry. */
const breakages: Array<[string, (p: Record<string, unknown>) => void]> = [
  ['target', (p) => (p['target'] = 'SPINNING')],
  ['appName', (p) => (p['appName'] = 7)],
  ['version', (p) => (p['version'] = 1)],
  ['requestUpdate', (p) => (p['requestUpdate'] = 'yes')],
  ['cancel', (p) => (p['cancel'] = 1)],
  ['appCredEpoch', (p) => (p['appCredEpoch'] = 'one')],
  ['deviceOwnerAccountKey', (p) => (p['deviceOwnerAccountKey'] = 1.5)],
  ['registryLogins', (p) => (p['registryLogins'] = [1])],
  ['report', (p) => (p['report'] = [])],
  ['spec', (p) => (p['spec'] = 'x')],
  ['spec.registry', (p) => ((p['spec'] as Record<string, unknown>)['registry'] = null)],
  ['spec.ports', (p) => ((p['spec'] as Record<string, unknown>)['ports'] = [1])],
  ['spec.envNames', (p) => ((p['spec'] as Record<string, unknown>)['envNames'] = 'A')],
];

test('property: a stored REQUEST payload reads back as itself', () => {
  fc.assert(
    fc.property(payload, (p) => {
      assert.deepEqual(readRequestPayload(JSON.parse(JSON.stringify(p))), p);
    }),
    { numRuns: 300 },
  );
});

test('property: any one field broken is refused, naming that field', () => {
  fc.assert(
    fc.property(payload, fc.constantFrom(...breakages), (p, [field, breakIt]) => {
      const raw = JSON.parse(JSON.stringify(p)) as Record<string, unknown>;
      breakIt(raw);
      assert.throws(
        () => readRequestPayload(raw),
        (err: unknown) => err instanceof RequestPayloadError && err.field === field && err.message.startsWith(`field "${field}": expected `),
      );
    }),
    { numRuns: 300 },
  );
});

test('a payload that is not an object is refused as such', () => {
  for (const raw of [null, 'x', [], 3]) assert.throws(() => readRequestPayload(raw), /field "payload": expected an object/);
});
