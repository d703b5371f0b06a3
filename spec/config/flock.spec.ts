import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadFlockConfig, locateJsonError, validateFlock, type FlockConfig, type FlockResult, type ReadTextFile } from '../../config/flock.js';

const FILE = 'device.flock';
const SECRET = 'Zq8-device-secret-4f1c';

const sample = {
  name: 'pi-kitchen',
  secret: SECRET,
  status: 'CONNECTED',
  password: 'wifi-pass',
  board: { cpu: 'arm', model: 'pi4', docs: 'x' },
  swarm_key: 42,
  device_key: 7,
  swarm_name: 'home',
  swarm_owner_name: 'ann',
  serial_number: 'c0ffee00-1111-2222-3333-444455556666',
  device_endpoint_url: 'wss://cbw.ironflock.com/ws-re-dev',
  environment: 'production',
  docker_registry_url: 'registry.ironflock.com/',
  docker_main_repository: 'apps/',
  authentication: { key: '-----BEGIN PRIVATE KEY-----', certificate: '-----BEGIN CERTIFICATE-----' },
  'insecure-registries': ['10.0.0.1:5000'],
  architecture: 'arm64',
};

/** A readFile that serves in-memory files and fails like Node's for the rest. */
function files(map: Record<string, string>): ReadTextFile {
  return (path) => {
    const text = map[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    return text;
  };
}

function ok(result: FlockResult): Extract<FlockResult, { ok: true }> {
  if (!result.ok) assert.fail(result.error);
  return result;
}

function err(result: FlockResult): string {
  if (result.ok) assert.fail('expected an error');
  assert.ok(!result.error.includes('\n'), `one line: ${result.error}`);
  return result.error;
}

test('a well-formed .flock loads with its fields typed', () => {
  const { config, notes } = ok(loadFlockConfig(FILE, files({ [FILE]: JSON.stringify(sample) })));
  assert.equal(config.secret, SECRET);
  assert.equal(config.swarm_key, 42);
  assert.equal(config.board?.model, 'pi4');
  assert.deepEqual(config['insecure-registries'], ['10.0.0.1:5000']);
  assert.equal(config.environment, 'production');
  assert.deepEqual(notes, []);
  // Unused fields are tolerated and not carried.
  assert.equal((config as unknown as Record<string, unknown>).password, undefined);
});

test('a missing file is one line naming it', () => {
  assert.equal(err(loadFlockConfig('gone.flock', files({}))), 'gone.flock: cannot read config: no such file');
  const denied: ReadTextFile = () => {
    throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
  };
  assert.equal(err(loadFlockConfig(FILE, denied)), `${FILE}: cannot read config: permission denied`);
});

test('bad JSON gives the position and never quotes the text (which holds the secret)', () => {
  const broken = `{\n  "secret": "${SECRET}",\n  "swarm_key": 42\n  "device_key": 7\n}`;
  const message = err(loadFlockConfig(FILE, files({ [FILE]: broken })));
  assert.equal(message, `${FILE}: invalid JSON: expected ',' or '}' after property value at line 4, column 3`);
  // V8 would quote the input here ("Unexpected token ..., "..." is not valid JSON").
  const bare = err(loadFlockConfig(FILE, files({ [FILE]: `{"secret": ${SECRET}}` })));
  assert.match(bare, /^device\.flock: invalid JSON: unexpected character 'Z' at line 1, column 12$/);
  assert.ok(!bare.includes(SECRET));
  assert.match(err(loadFlockConfig(FILE, files({ [FILE]: '' }))), /invalid JSON: unexpected end of input at line 1, column 1$/);
  assert.match(err(loadFlockConfig(FILE, files({ [FILE]: '{"a":1,}' }))), /trailing comma/);
  assert.match(err(loadFlockConfig(FILE, files({ [FILE]: `{"secret":"${SECRET}` }))), /unterminated string at line 1, column 11$/);
});

test('a UTF-8 BOM is tolerated', () => {
  ok(loadFlockConfig(FILE, files({ [FILE]: `\uFEFF${JSON.stringify(sample)}` })));
});

test('wrong types name the field and the expected type, and describe the value by its type alone', () => {
  assert.equal(err(validateFlock({ ...sample, swarm_key: '12' }, FILE)), `${FILE}: field "swarm_key": expected an integer, got a string (write the number without quotes)`);
  assert.equal(err(validateFlock({ ...sample, device_key: 1.5 }, FILE)), `${FILE}: field "device_key": expected an integer, got a number that is not an integer`);
  assert.equal(err(validateFlock({ ...sample, device_key: 2 ** 60 }, FILE)), `${FILE}: field "device_key": expected an integer, got an integer too large to be exact`);
  assert.equal(err(validateFlock({ ...sample, secret: 12345 }, FILE)), `${FILE}: field "secret": expected a non-empty string, got a number`);
  assert.equal(err(validateFlock({ ...sample, secret: '' }, FILE)), `${FILE}: field "secret": expected a non-empty string, got an empty string`);
  assert.equal(err(validateFlock({ ...sample, device_endpoint_url: 'https://x.io' }, FILE)), `${FILE}: field "device_endpoint_url": expected a ws:// or wss:// URL, got a string`);
  assert.equal(err(validateFlock({ ...sample, environment: 'staging' }, FILE)), `${FILE}: field "environment": expected one of "production", "test", "local", got a string`);
  assert.equal(err(validateFlock({ ...sample, board: { model: 3 } }, FILE)), `${FILE}: field "board.model": expected a string, got a number`);
  assert.equal(err(validateFlock({ ...sample, board: 'pi4' }, FILE)), `${FILE}: field "board": expected an object, got a string`);
  assert.equal(err(validateFlock({ ...sample, authentication: { key: 5 } }, FILE)), `${FILE}: field "authentication.key": expected a string, got a number`);
  assert.equal(err(validateFlock({ ...sample, 'insecure-registries': ['a', 2] }, FILE)), `${FILE}: field "insecure-registries[1]": expected a string, got a number`);
  assert.equal(err(validateFlock({ ...sample, swarm_key: true }, FILE)), `${FILE}: field "swarm_key": expected an integer, got true`);
  assert.equal(err(validateFlock([], FILE)), `${FILE}: expected a JSON object at the top level, got an array`);
  assert.equal(err(validateFlock('x', FILE)), `${FILE}: expected a JSON object at the top level, got a string`);
});

test('missing required fields say what they are for', () => {
  const { secret: _secret, ...withoutSecret } = sample;
  assert.equal(err(validateFlock(withoutSecret, FILE)), `${FILE}: field "secret": required (the WAMP-CRA secret of the device)`);
  assert.match(err(validateFlock({ ...sample, serial_number: null }, FILE)), /field "serial_number": required/);
});

test('optional nulls read as absent, like Go', () => {
  const { config } = ok(validateFlock({ ...sample, name: null, board: null, authentication: null }, FILE));
  assert.equal(config.name, undefined);
  assert.equal(config.board, undefined);
});

test('the secret is never quoted, not even in part, whichever field it sits in', () => {
  const message = err(validateFlock({ ...sample, device_endpoint_url: `wss://x/${SECRET}`.replace('wss', 'http') }, FILE));
  assert.ok(!message.includes(SECRET), message);
  assert.match(message, /field "device_endpoint_url": expected a ws:\/\/ or wss:\/\/ URL, got a string$/);
  // A long secret pasted into a wrong-typed field: before, its first 40 characters were quoted.
  const long = `${SECRET}${SECRET}${SECRET}`;
  for (const [field, value] of [['swarm_key', long], ['authentication', long], ['board', long], ['environment', long], ['device_key', long]] as const) {
    const m = err(validateFlock({ ...sample, [field]: value }, FILE));
    assert.ok(!m.includes(SECRET.slice(0, 6)) && !m.includes(long.slice(40, 46)), m);
  }
});

test('legacy registry and endpoint are rewritten in memory and reported; the file is only read', () => {
  let reads = 0;
  const legacy = { ...sample, docker_registry_url: 'registry.reswarm.io/', device_endpoint_url: 'wss://cbw.record-evolution.com/ws-re-dev' };
  const text = JSON.stringify(legacy);
  const { config, notes } = ok(loadFlockConfig(FILE, (p) => (reads++, files({ [FILE]: text })(p))));
  assert.equal(reads, 1);
  assert.equal(config.docker_registry_url, 'registry.ironflock.com/');
  assert.equal(config.device_endpoint_url, 'wss://cbw.ironflock.com/ws-re-dev');
  assert.equal(notes.length, 2);
  for (const note of notes) assert.match(note, /^device\.flock: .*not rewritten/);
  assert.ok(!notes.join('').includes(SECRET));
});

test('locateJsonError agrees with JSON.parse on validity', () => {
  fc.assert(
    fc.property(fc.oneof(fc.json(), fc.string()), (text) => {
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      assert.equal(locateJsonError(text) === null, valid, text);
    }),
    { numRuns: 500 },
  );
});

// ---- properties ----

const secretArb = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'), minLength: 12, maxLength: 40 });
const text = fc.string({ maxLength: 20 });
const wsUrl = fc.tuple(fc.constantFrom('ws', 'wss'), fc.domain(), fc.webPath()).map(([s, host, p]) => `${s}://${host}${p}`);

const configArb: fc.Arbitrary<FlockConfig> = fc.record(
  {
    device_endpoint_url: wsUrl,
    secret: secretArb,
    swarm_key: fc.integer({ min: 0 }),
    device_key: fc.integer({ min: 0 }),
    serial_number: fc.uuid(),
    name: text,
    swarm_name: text,
    swarm_owner_name: text,
    environment: fc.constantFrom('production' as const, 'test' as const, 'local' as const),
    docker_registry_url: fc.constantFrom('registry.ironflock.com/', 'localhost:5000/'),
    docker_main_repository: text,
    appliance_domain: text,
    update_url: text,
    board: fc.record({ model: text }, { requiredKeys: [] }),
    authentication: fc.record({ key: text, certificate: text }, { requiredKeys: [] }),
    'insecure-registries': fc.array(text, { maxLength: 3 }),
  },
  { requiredKeys: ['device_endpoint_url', 'secret', 'swarm_key', 'device_key', 'serial_number'] },
);

test('property: valid configs round-trip unchanged, through JSON too', () => {
  fc.assert(
    fc.property(configArb, (config) => {
      const plain = JSON.parse(JSON.stringify(config)) as FlockConfig;
      assert.deepEqual(ok(validateFlock(config, FILE)).config, plain);
      assert.deepEqual(ok(loadFlockConfig(FILE, files({ [FILE]: JSON.stringify(config, null, 2) }))).config, plain);
    }),
    { numRuns: 200 },
  );
});

// For each field, values of the wrong type (and the path the error must name).
type Wrong = { field: string; path: string; value: (secret: string) => unknown };
const anyNonString = fc.oneof(fc.integer(), fc.boolean(), fc.constant([]), fc.constant({}), fc.double({ noNaN: true }));
const stringFields = ['name', 'swarm_name', 'swarm_owner_name', 'docker_registry_url', 'docker_main_repository', 'appliance_domain', 'update_url'];

const wrongArb: fc.Arbitrary<Wrong> = fc.oneof(
  fc.tuple(fc.constantFrom(...stringFields), anyNonString).map(([field, v]) => ({ field, path: field, value: () => v })),
  fc.tuple(fc.constantFrom('swarm_key', 'device_key'), fc.oneof(fc.string(), fc.double().filter((d) => !Number.isSafeInteger(d)), fc.boolean()))
    .map(([field, v]) => ({ field, path: field, value: () => v })),
  // Wrong values that carry the secret itself: it must still not be quoted.
  fc.constantFrom('swarm_key', 'device_key', 'environment', 'device_endpoint_url', 'serial_number').map((field) => ({
    field,
    path: field,
    value: (secret: string) => (field === 'serial_number' ? [secret] : `http://${secret}`),
  })),
  fc.tuple(fc.constantFrom('secret', 'serial_number'), fc.oneof(fc.constant(''), anyNonString)).map(([field, v]) => ({ field, path: field, value: () => v })),
  anyNonString.filter((v) => typeof v !== 'object' || Array.isArray(v)).map((v) => ({ field: 'board', path: 'board', value: () => v })),
  anyNonString.map((v) => ({ field: 'board', path: 'board.model', value: () => ({ model: v }) })),
  anyNonString.map((v) => ({ field: 'authentication', path: 'authentication.certificate', value: () => ({ key: 'k', certificate: v }) })),
  fc.nat(3).map((i) => ({ field: 'insecure-registries', path: `insecure-registries[${i}]`, value: () => [...Array(i).fill('ok'), 7] })),
);

test('property: a wrong-typed field is named exactly, in one line, without the secret', () => {
  fc.assert(
    fc.property(configArb, wrongArb, (config, wrong) => {
      const input = { ...config, [wrong.field]: wrong.value(config.secret) };
      const message = err(validateFlock(input, FILE));
      const named = /^device\.flock: field "([^"]+)"/.exec(message)?.[1];
      assert.equal(named, wrong.path, message);
      assert.ok(!message.includes(config.secret), message);
    }),
    { numRuns: 500 },
  );
});

test('property: broken JSON around the secret never quotes it', () => {
  fc.assert(
    fc.property(configArb, fc.nat(), fc.constantFrom('', ',', '}', '"', 'x', '\u0001'), (config, cut, junk) => {
      const json = JSON.stringify(config);
      const at = cut % json.length;
      // Some edits still leave valid JSON (a renamed optional key); only errors matter here.
      const result = loadFlockConfig(FILE, files({ [FILE]: json.slice(0, at) + junk + json.slice(at + 1) }));
      if (!result.ok) assert.ok(!result.error.includes(config.secret), result.error);
    }),
    { numRuns: 300 },
  );
});
