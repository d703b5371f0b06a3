import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { REDACTED, Redactor } from '../../adapters/log/redactor.js';

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

test('small objects scrub fast', () => {
  const r = new Redactor();
  r.addSecret('device-secret-1234');
  const obj = { msg: 'connected to wss://cbw.ironflock.com/ws-re-dev', app: { key: 12, name: 'temp', state: 'RUNNING' }, attempt: 3 };
  const start = process.hrtime.bigint();
  for (let i = 0; i < 20_000; i++) r.scrub(obj);
  const perCallUs = Number(process.hrtime.bigint() - start) / 1000 / 20_000;
  assert.ok(perCallUs < 50, `${perCallUs.toFixed(2)} µs per scrub`);
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
