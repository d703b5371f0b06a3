import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_DEPTH, REDACTED, Redactor, TOO_DEEP } from '../../adapters/log/redactor.js';
import { isEnvironmentName, isSecretName, nameWords } from '../../adapters/log/secret-names.js';

test('values of sensitive keys are replaced, whatever the case or the nesting', () => {
  const r = new Redactor();
  const out = r.scrub({
    user: 'ann',
    Token: 'abc',
    nested: [{ client_secret: 's', Password: 'p', passwd: 'q', Authorization: 'Basic x', credentials: { a: 1 } }],
    'api-key': 'k',
    apiKey: 'k2',
    private_key: 'pk',
    HOOP_KEY: 'dsn',
    dsn: 'd',
    cookie: 'c=1',
    hasToken: true,
    tokenCount: 3,
  });
  assert.deepEqual(out, {
    user: 'ann',
    Token: REDACTED,
    nested: [{ client_secret: REDACTED, Password: REDACTED, passwd: REDACTED, Authorization: REDACTED, credentials: REDACTED }],
    'api-key': REDACTED,
    apiKey: REDACTED,
    private_key: REDACTED,
    HOOP_KEY: REDACTED,
    dsn: REDACTED,
    cookie: REDACTED,
    // A flag says nothing secret; a number might.
    hasToken: true,
    tokenCount: REDACTED,
  });
});

test('strings lose bearer tokens, URL passwords and hoop agent tokens', () => {
  const r = new Redactor();
  assert.equal(r.scrubString('Authorization: Bearer eyJhbGciOi.abc.def'), `Authorization: Bearer ${REDACTED}`);
  assert.equal(r.scrubString('dial grpcs://dev:xagt-AbC_12-xyz@gw.example.com:8443?mode=standard'), `dial grpcs://dev:${REDACTED}@gw.example.com:8443?mode=standard`);
  assert.equal(r.scrubString('https://user:p%40ss@host/path'), `https://user:${REDACTED}@host/path`);
  assert.equal(r.scrubString('token x-agt-9b2c1d0e-aaaa-bbbb-cccc-0123456789ab ok'), `token x-agt-${REDACTED} ok`);
  assert.equal(r.scrubString('key xagt-Zm9vYmFy_-baz'), `key xagt-${REDACTED}`);
  // Not credentials: left alone.
  assert.equal(r.scrubString('https://gw.example.com:8443/a@b'), 'https://gw.example.com:8443/a@b');
  assert.equal(r.scrubString('mail ann@example.com'), 'mail ann@example.com');
});

test('registered secrets are hidden anywhere; too-short ones are ignored', () => {
  const r = new Redactor();
  r.addSecret('s3cr3t-value');
  r.addSecret('abc');
  r.addSecret(undefined);
  assert.equal(r.scrubString('x=s3cr3t-value;y=s3cr3t-value'), `x=${REDACTED};y=${REDACTED}`);
  assert.equal(r.scrubString('abc'), 'abc');
  assert.deepEqual(r.scrub({ ['id-s3cr3t-value']: 'note s3cr3t-value' }), { [`id-${REDACTED}`]: `note ${REDACTED}` });
});

test('a secret containing another is hidden whole', () => {
  const r = new Redactor();
  r.addSecret('abcd');
  r.addSecret('xxabcdxx');
  assert.equal(r.scrubString('[xxabcdxx]'), `[${REDACTED}]`);
});

test('Errors become {type, message, stack, ...} with causes, all scrubbed', () => {
  const r = new Redactor();
  r.addSecret('hunter2-hunter2');
  const cause = new TypeError('inner hunter2-hunter2');
  const e = Object.assign(new Error('outer Bearer abc.def', { cause }), { code: 'E_X', token: 'tok' });
  const out = r.scrub({ err: e }) as { err: Record<string, unknown> };
  assert.equal(out.err.type, 'Error');
  assert.equal(out.err.message, `outer Bearer ${REDACTED}`);
  assert.equal(out.err.code, 'E_X');
  assert.equal(out.err.token, REDACTED);
  assert.match(String(out.err.stack), /^Error: outer Bearer \[REDACTED\]/);
  assert.deepEqual((out.err.cause as Record<string, unknown>).message, `inner ${REDACTED}`);
  assert.equal((out.err.cause as Record<string, unknown>).type, 'TypeError');
  const agg = r.scrub(new AggregateError([new Error('one hunter2-hunter2')], 'many')) as { errors: { message: string }[] };
  assert.equal(agg.errors[0]?.message, `one ${REDACTED}`);
});

test('toJSON is honoured, so a URL object with a password is scrubbed too', () => {
  const r = new Redactor();
  assert.deepEqual(r.scrub({ at: new URL('https://u:pw@h.example/x'), when: new Date(0) }), {
    at: `https://u:${REDACTED}@h.example/x`,
    when: '1970-01-01T00:00:00.000Z',
  });
});

test('cycles are cut, shared references are kept, the input is not mutated', () => {
  const r = new Redactor();
  const shared = { v: 1 };
  const a: Record<string, unknown> = { shared, again: shared, password: 'p' };
  a.self = a;
  const out = r.scrub(a) as Record<string, unknown>;
  assert.equal(out.self, '[Circular]');
  assert.deepEqual(out.shared, { v: 1 });
  assert.deepEqual(out.again, { v: 1 });
  assert.equal(a.password, 'p');
  const arr: unknown[] = [1];
  arr.push(arr);
  assert.deepEqual(r.scrub(arr), [1, '[Circular]']);
});

// Its speed is in `npm run bench` (redactor_scrub_us, against JSON.stringify), not timed here.
test('a small log object without secrets comes out of the scrub unchanged', () => {
  const r = new Redactor();
  r.addSecret('device-secret-1234');
  const obj = { msg: 'connected to wss://cbw.ironflock.com/ws-re-dev', app: { key: 12, name: 'temp', state: 'RUNNING' }, attempt: 3 };
  assert.deepEqual(r.scrub(obj), obj);
  assert.deepEqual(r.scrub({ ...obj, msg: 'sent device-secret-1234' }), { ...obj, msg: 'sent [REDACTED]' });
});


// The secret-name rule (adapters/log/secret-names.ts), name by name, both ways.
const SECRET_NAMES = [
  // fragments, anywhere
  'token', 'xAuthToken', 'client_secret', 'password', 'MYSQLPASSWORD', 'passwd', 'passphrase', 'config_passphrase', 'credentials',
  'Authorization', 'cookie', 'set-cookie', 'dsn', 'HOOP_DSN', 'apikey', 'privatekey',
  // whole words
  'pass', 'db_pass', 'PASS', 'pwd', 'MYSQL_PWD', 'dbPwd', 'pin', 'sim_pin', 'simPIN', 'PIN2', 'pinCode',
  'auth', 'x-auth', 'authHeader', 'authentication', 'authorizedKeys',
  // *_key
  'api_key', 'HOOP_KEY', 'signingKey', 'ssh_keys', 'AWS_SECRET_ACCESS_KEY', 'encryption_key', 'access_key',
  // session holding a string
  'session', 'user_session', 'SESSION',
];
const ORDINARY_NAMES = [
  'ping', 'pingInterval', 'mapping', 'spinner', 'shipping', 'pinned', 'passive', 'bypass', 'compass', 'passed',
  'author', 'authority', 'authid', 'caller_authid', 'authrole', 'authmethods', 'authextra',
  'PWD', 'OLDPWD', 'key', 'keys', 'keyCount', 'monkey', 'keyboard',
  'app_key', 'appKey', 'swarm_key', 'device_key', 'release_key', 'new_release_key', 'requestor_account_key',
  'requestorAccountKey', 'device_owner_account_key', 'device_to_app_key', 'instance_key', 'entity_key',
  'session_id', 'sessionId', 'sessions', 'gateway.session_id', 'message', 'name', 'state',
];

test('secret names: the listed names are secret, the ordinary look-alikes are not', () => {
  for (const name of SECRET_NAMES) assert.equal(isSecretName(name, 'x'), true, `${name} should be secret`);
  for (const name of ORDINARY_NAMES) assert.equal(isSecretName(name, 'x'), false, `${name} should not be secret`);
  // Value-dependent: booleans never, a session number is an id, a PIN number is a PIN.
  assert.equal(isSecretName('hasToken', true), false);
  assert.equal(isSecretName('session', 17), false);
  assert.equal(isSecretName('session', { user: 'u' }), true);
  assert.equal(isSecretName('pin', 1234), true);
  assert.deepEqual(nameWords('simPIN2_code'), ['sim', 'pin', '2', 'code']);
  assert.deepEqual(nameWords('HOOP_KEY'), ['hoop', 'key']);
});

test('secret names through scrub: values hidden under secret names, kept under ordinary ones', () => {
  const r = new Redactor();
  const input = Object.fromEntries([...SECRET_NAMES, ...ORDINARY_NAMES].map((n) => [n, `value-of-${n}`]));
  const out = r.scrub(input) as Record<string, unknown>;
  for (const name of SECRET_NAMES) assert.equal(out[name], REDACTED, name);
  for (const name of ORDINARY_NAMES) assert.equal(out[name], `value-of-${name}`, name);
  assert.deepEqual(r.scrub({ session: 3, wampSession: 12345, session_id: 'abc', app_key: 12, pin: 1234 }), { session: 3, wampSession: 12345, session_id: 'abc', app_key: 12, pin: REDACTED });
});

test('an app environment keeps its names and loses its values, wherever the key appears', () => {
  const r = new Redactor();
  assert.equal(isEnvironmentName('environment_template'), true);
  assert.equal(isEnvironmentName('environmentTemplate'), true);
  assert.equal(isEnvironmentName('env'), true);
  assert.equal(isEnvironmentName('environments_count'), false);
  // request_app_state kwargs, as -debugMessaging logs them
  const kwargs = {
    app_key: 12,
    app_name: 'pump',
    environment: { DB_URL: 'postgres://db/x', MODE: { value: 'fast' }, N: 3, EMPTY: null },
    environment_template: { DB_URL: { type: 'string', defaultValue: 'postgres://x' } },
    docker_compose: { services: { web: { image: 'w', environment: ['A=1', 'B=two=2', 'C'] } } },
  };
  assert.deepEqual(r.scrub(kwargs), {
    app_key: 12,
    app_name: 'pump',
    environment: { DB_URL: REDACTED, MODE: REDACTED, N: REDACTED, EMPTY: null },
    environment_template: { DB_URL: REDACTED },
    docker_compose: { services: { web: { image: 'w', environment: [`A=${REDACTED}`, `B=${REDACTED}`, REDACTED] } } },
  });
  // The journal's REQUEST payload keeps the parsed environment under spec.env.
  assert.deepEqual(r.scrub({ target: 'RUNNING', spec: { registry: 'r', env: { TOKENLESS: 'v' }, ports: [] } }), { target: 'RUNNING', spec: { registry: 'r', env: { TOKENLESS: REDACTED }, ports: [] } });
  // The .flock's `environment` is an update channel, not an app's variables.
  assert.deepEqual(r.scrub({ environment: 'production' }), { environment: 'production' });
});

test('a peer payload nested thousands deep is cut at MAX_DEPTH, not followed into a stack overflow', () => {
  const r = new Redactor();
  for (const depth of [5000, 100_000]) {
    let deep: unknown = 'bottom';
    for (let i = 0; i < depth; i++) deep = i % 2 ? [deep] : { password: 'p', next: deep };
    const out = r.scrub([48, 1, {}, 're.mgmt.x.write_data', [deep]]);
    const text = JSON.stringify(out);
    assert.ok(text.includes(TOO_DEEP));
    assert.ok(!text.includes('bottom'));
    // The frame's own top levels are intact.
    assert.deepEqual((out as unknown[]).slice(0, 4), [48, 1, {}, 're.mgmt.x.write_data']);
  }
  // Exactly MAX_DEPTH levels survive; the next one is cut.
  let v: unknown = 'leaf';
  for (let i = 0; i < MAX_DEPTH; i++) v = [v];
  assert.equal(JSON.stringify(r.scrub(v)).includes('leaf'), true);
  assert.equal(JSON.stringify(r.scrub([v])).includes('leaf'), false);
});

test('a registered secret of any length is hidden, and registering one never throws', () => {
  for (const size of [32 * 1024 + 1, 256 * 1024, 4 * 1024 * 1024]) {
    const r = new Redactor();
    const secret = Array.from({ length: size }, (_, i) => 'abcdefghijklmnopqrstuvwxyz0123456789+/'[(i * 7919) % 38]).join('');
    r.addSecret(secret);
    r.addSecret('short-secret');
    assert.equal(r.scrubString(`a ${secret} b short-secret c`), `a ${REDACTED} b ${REDACTED} c`);
    const logged = JSON.stringify(r.scrub({ msg: `dsn=${secret}`, nested: [secret.slice(0, 10)] }));
    assert.ok(!logged.includes(secret.slice(0, 64)), 'no part of the long secret logged');
    assert.ok(logged.length < 200);
  }
});

// ---- properties ----

// Secrets that could overlap the marker ("[REDACTED]") cannot be told apart
// from it, so they are excluded; any other printable secret of 4+ characters is fair game.
const secretArb = fc.string({ minLength: 4, maxLength: 24 }).filter((s) => !/[[\]]/.test(s) && !REDACTED.includes(s));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Puts `planted` somewhere in `value`, steered by `path` (a list of choices). */
function plant(value: Json, planted: string, path: number[], asKey: boolean): Json {
  const [step = 0, ...rest] = path;
  if (Array.isArray(value) && value.length > 0 && rest.length > 0) {
    const i = step % (value.length + 1);
    if (i < value.length) return value.map((v, j) => (j === i ? plant(v, planted, rest, asKey) : v));
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const i = step % (keys.length + 1);
    const key = keys[i];
    if (key !== undefined && rest.length > 0) return { ...value, [key]: plant(value[key] ?? null, planted, rest, asKey) };
    return asKey ? { ...value, [planted]: 1 } : { ...value, note: planted };
  }
  if (typeof value === 'string') return `${value.slice(0, step % (value.length + 1))}${planted}${value.slice(step % (value.length + 1))}`;
  return asKey ? { [planted]: value } : [value, planted];
}

function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  }
  return out;
}

test('property: a registered secret planted anywhere in nested JSON never survives', () => {
  fc.assert(
    fc.property(
      fc.jsonValue() as fc.Arbitrary<Json>,
      secretArb,
      fc.string({ maxLength: 8 }),
      fc.string({ maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      fc.boolean(),
      (json, secret, before, after, path, asKey) => {
        const r = new Redactor();
        r.addSecret(secret);
        const out = r.scrub(plant(json, `${before}${secret}${after}`, path, asKey));
        for (const s of strings(out)) assert.ok(!s.includes(secret), `${JSON.stringify(s)} holds ${JSON.stringify(secret)}`);
        assert.ok(!JSON.stringify(out).includes(JSON.stringify(secret).slice(1, -1)));
      },
    ),
    { numRuns: 500 },
  );
});

test('property: a planted secret inside a free string never survives scrubString', () => {
  fc.assert(
    fc.property(secretArb, fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 5 }), (secret, parts) => {
      const r = new Redactor();
      r.addSecret(secret);
      assert.ok(!r.scrubString(parts.join(secret)).includes(secret));
    }),
    { numRuns: 500 },
  );
});

test('property: hoop tokens and URL passwords are hidden without registering them', () => {
  const token = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 8, maxLength: 43 });
  fc.assert(
    fc.property(token, fc.constantFrom('xagt-', 'x-agt-'), fc.domain(), fc.string({ maxLength: 10 }), (body, prefix, host, context) => {
      const r = new Redactor();
      const line = `${context} grpcs://agent:${prefix}${body}@${host}:8443 and Bearer ${prefix}${body} ${context}`;
      assert.ok(!r.scrubString(line).includes(body), r.scrubString(line));
    }),
    { numRuns: 300 },
  );
});

test('property: literal hiding matches the single regular expression it replaced (leftmost, longest first)', () => {
  const alphabet = fc.constantFrom(...'abAB-:x');
  fc.assert(
    fc.property(fc.array(fc.string({ unit: alphabet, minLength: 4, maxLength: 8 }), { minLength: 1, maxLength: 5 }), fc.string({ unit: alphabet, maxLength: 60 }), (secrets, text) => {
      const r = new Redactor();
      for (const s of secrets) r.addSecret(s);
      const sorted = [...new Set(secrets)].sort((a, b) => b.length - a.length);
      const reference = text.replace(new RegExp(sorted.map((s) => s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')).join('|'), 'g'), REDACTED);
      assert.equal(r.scrubString(text), reference);
    }),
    { numRuns: 1000 },
  );
});

test('property: any nesting, any shape: scrub never throws and its output is at most MAX_DEPTH deep', () => {
  const depthOf = (v: unknown): number => {
    let max = 0;
    const stack: Array<[unknown, number]> = [[v, 0]];
    while (stack.length) {
      const [x, d] = stack.pop()!;
      if (x === null || typeof x !== 'object') continue;
      max = Math.max(max, d + 1);
      for (const c of Array.isArray(x) ? x : Object.values(x)) stack.push([c, d + 1]);
    }
    return max;
  };
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 20_000 }), fc.array(fc.constantFrom('list', 'object', 'environment', 'password', 'error'), { minLength: 1, maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), (depth, kinds, leaf) => {
      let v: unknown = leaf;
      for (let i = 0; i < depth; i++) {
        const kind = kinds[i % kinds.length];
        v = kind === 'list' ? [v] : kind === 'object' ? { v } : kind === 'environment' ? { environment: { A: v } } : kind === 'password' ? { password: v, next: v } : new Error('e', { cause: v });
      }
      const out = new Redactor().scrub(v);
      assert.ok(depthOf(out) <= MAX_DEPTH + 1);
      JSON.stringify(out);
    }),
    { numRuns: 200 },
  );
});
