import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatDsn, hasGatewayCredentials, parseDsn, readHoopEnv, type HoopDsn, type HoopEnv, type HoopEnvResult } from '../../config/hoop-env.js';

const SECRET = 'xagt-Q2hhbmdlIG1lIHBsZWFzZSAxMjM0NTY3ODkw';

function ok(result: HoopEnvResult): HoopEnv {
  if (!result.ok) assert.fail(result.error);
  return result.value;
}

function err(result: HoopEnvResult): string {
  if (result.ok) assert.fail(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.error;
}

test('an empty environment gives hoop defaults and no credentials', () => {
  const env = ok(readHoopEnv({}));
  assert.deepEqual(env, {
    grpcUrl: null,
    token: null,
    key: null,
    tlsServerName: null,
    tlsCa: null,
    tlsSkipVerify: false,
    grpcInsecure: false,
    autoRegister: null,
    gatewayAdminToken: null,
    logEncoding: 'json',
    logLevel: 'info',
    logGrpc: 0,
  });
  assert.equal(hasGatewayCredentials(env, false), false);
  assert.equal(hasGatewayCredentials(env, true), true);
});

test('HOOP_GRPCURL takes host:port or scheme://host:port', () => {
  assert.deepEqual(ok(readHoopEnv({ HOOP_GRPCURL: '127.0.0.1:8010' })).grpcUrl, { raw: '127.0.0.1:8010', scheme: null, host: '127.0.0.1', port: 8010 });
  assert.deepEqual(ok(readHoopEnv({ HOOP_GRPCURL: 'grpcs://gw.example.com:8443' })).grpcUrl, { raw: 'grpcs://gw.example.com:8443', scheme: 'grpcs', host: 'gw.example.com', port: 8443 });
  assert.equal(ok(readHoopEnv({ HOOP_GRPCURL: 'https://[::1]:443/' })).grpcUrl?.host, '::1');
  assert.match(err(readHoopEnv({ HOOP_GRPCURL: 'ftp://gw:21' })), /^HOOP_GRPCURL: expected host:port or scheme:\/\/host:port .*got another value \(not shown\)$/);
  assert.match(err(readHoopEnv({ HOOP_GRPCURL: 'gw.example.com' })), /^HOOP_GRPCURL: /);
  assert.match(err(readHoopEnv({ HOOP_GRPCURL: 'gw:70000' })), /^HOOP_GRPCURL: /);
});

test('a credential pasted into HOOP_GRPCURL is not echoed', () => {
  const message = err(readHoopEnv({ HOOP_GRPCURL: `grpcs://a:${SECRET}@gw:8443` }));
  assert.ok(!message.includes(SECRET), message);
});

test('HOOP_TOKEN wins over TOKEN; with HOOP_GRPCURL it is a credential', () => {
  assert.equal(ok(readHoopEnv({ TOKEN: 'x-agt-1' })).token, 'x-agt-1');
  assert.equal(ok(readHoopEnv({ TOKEN: 'x-agt-1', HOOP_TOKEN: 'x-agt-2' })).token, 'x-agt-2');
  assert.equal(hasGatewayCredentials(ok(readHoopEnv({ HOOP_TOKEN: 'x-agt-2' })), false), false);
  assert.equal(hasGatewayCredentials(ok(readHoopEnv({ HOOP_TOKEN: 'x-agt-2', HOOP_GRPCURL: 'gw:8010' })), false), true);
  assert.equal(hasGatewayCredentials(ok(readHoopEnv({ AUTO_REGISTER: 'default' })), false), true);
});

test('HOOP_KEY (or HOOP_DSN) is parsed as a DSN; TLS only for grpcs, https and wss', () => {
  const raw = `grpcs://dev:${SECRET}@gw.example.com:8443?mode=standard`;
  const env = ok(readHoopEnv({ HOOP_KEY: raw }));
  assert.deepEqual(env.key, { raw, variable: 'HOOP_KEY', scheme: 'grpcs', name: 'dev', secret: SECRET, host: 'gw.example.com', port: 8443, mode: 'standard', tls: true });
  assert.equal(hasGatewayCredentials(env, false), true);
  const legacy = ok(readHoopEnv({ HOOP_DSN: 'grpc://dev:s3cr3t@127.0.0.1:8010?mode=embedded' })).key;
  assert.equal(legacy?.variable, 'HOOP_DSN');
  assert.equal(legacy?.tls, false);
  assert.equal(legacy?.mode, 'embedded');
  assert.equal(ok(readHoopEnv({ HOOP_KEY: 'http://a:bcde@h:80', HOOP_GRPC_INSECURE: 'true' })).key?.mode, 'standard');
  assert.equal(ok(readHoopEnv({ HOOP_KEY: 'wss://a:bcde@h:443?mode=multi-connection' })).key?.tls, true);
});

test('DSN errors name the variable and never quote the secret', () => {
  const cases = [
    `grpcs://dev:${SECRET}@gw.example.com?mode=standard`,
    `grpcs://dev:${SECRET}@gw.example.com:8443?mode=${SECRET}`,
    `grpcs://dev${SECRET}@gw.example.com:8443`,
    `ftp://dev:${SECRET}@gw:21`,
    `grpcs://gw:8443/${SECRET}`,
    SECRET,
    `grpcs://dev:${SECRET}%zz@gw:1`,
  ];
  for (const raw of cases) {
    const message = err(readHoopEnv({ HOOP_KEY: raw }));
    assert.match(message, /^HOOP_KEY: /);
    assert.ok(!message.includes(SECRET), message);
    assert.ok(!message.includes(SECRET.slice(5)), message);
  }
});

test('HOOP_TLSCA is classified, not read', () => {
  assert.deepEqual(ok(readHoopEnv({ HOOP_TLSCA: 'file:///etc/ssl/ca.pem' })).tlsCa, { kind: 'file', path: '/etc/ssl/ca.pem' });
  assert.deepEqual(ok(readHoopEnv({ HOOP_TLSCA: 'base64://LS0tLS1CRUdJTg==' })).tlsCa, { kind: 'base64', data: 'LS0tLS1CRUdJTg==' });
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
  assert.deepEqual(ok(readHoopEnv({ HOOP_TLSCA: pem })).tlsCa, { kind: 'pem', pem });
  assert.match(err(readHoopEnv({ HOOP_TLSCA: '/etc/ssl/ca.pem' })), /^HOOP_TLSCA: expected an inline PEM/);
});

test('TLS knobs: server name (either spelling) and skip-verify', () => {
  assert.equal(ok(readHoopEnv({ TLS_SERVER_NAME: 'gw.local' })).tlsServerName, 'gw.local');
  assert.equal(ok(readHoopEnv({ HOOP_TLSSERVERNAME: 'gw.local' })).tlsServerName, 'gw.local');
  assert.equal(ok(readHoopEnv({ HOOP_TLS_SKIP_VERIFY: 'TRUE' })).tlsSkipVerify, true);
  assert.equal(err(readHoopEnv({ HOOP_TLS_SKIP_VERIFY: 'yes' })), 'HOOP_TLS_SKIP_VERIFY: expected true or false, got another value (not shown)');
});

test('log variables: encoding, level and gRPC logging', () => {
  assert.equal(ok(readHoopEnv({ LOG_ENCODING: 'console' })).logEncoding, 'console');
  assert.equal(ok(readHoopEnv({ LOG_ENCODING: 'HUMAN' })).logEncoding, 'console');
  assert.equal(ok(readHoopEnv({ LOG_ENCODING: 'verbose' })).logEncoding, 'console');
  assert.equal(err(readHoopEnv({ LOG_ENCODING: 'xml' })), 'LOG_ENCODING: expected json or console, got another value (not shown)');
  assert.equal(ok(readHoopEnv({ LOG_LEVEL: 'TRACE' })).logLevel, 'debug');
  assert.equal(ok(readHoopEnv({ LOG_LEVEL: 'Debug' })).logLevel, 'debug');
  assert.equal(ok(readHoopEnv({ LOG_LEVEL: 'WARN' })).logLevel, 'warn');
  assert.equal(ok(readHoopEnv({ LOG_LEVEL: 'error' })).logLevel, 'error');
  assert.equal(err(readHoopEnv({ LOG_LEVEL: 'loud' })), 'LOG_LEVEL: expected DEBUG, TRACE, INFO, WARN or ERROR, got another value (not shown)');
  assert.equal(ok(readHoopEnv({ LOG_GRPC: '2' })).logGrpc, 2);
  assert.equal(err(readHoopEnv({ LOG_GRPC: '3' })), 'LOG_GRPC: expected 0, 1 or 2, got another value (not shown)');
});

test('every problem is reported at once', () => {
  const message = err(readHoopEnv({ LOG_GRPC: '9', LOG_LEVEL: 'x', HOOP_GRPCURL: 'nope' }));
  assert.match(message, /^HOOP_GRPCURL: .*\nLOG_LEVEL: .*\nLOG_GRPC: [^\n]*$/, 'one line per problem');
});

test('plaintext to another machine is refused up front: grpc://, http:// or ws:// to a host that is not loopback', () => {
  const remote = `grpc://dev:${SECRET}@gw.example.com:8010?mode=standard`;
  const refused = err(readHoopEnv({ HOOP_KEY: remote }));
  assert.equal(
    refused,
    'HOOP_KEY: grpc:// to a host that is not this machine would send the credential without TLS; use grpcs:// (or set TLS_SERVER_NAME), or set HOOP_GRPC_INSECURE=true to allow plaintext',
  );
  assert.ok(!refused.includes(SECRET));
  assert.match(err(readHoopEnv({ HOOP_DSN: `ws://dev:${SECRET}@10.1.2.3:80` })), /^HOOP_DSN: ws:\/\/ to a host that is not this machine.*use wss:\/\//);
  assert.match(err(readHoopEnv({ HOOP_GRPCURL: 'http://gw.example.com:8010', HOOP_TOKEN: 'x-agt-1' })), /^HOOP_GRPCURL: http:\/\/ to a host that is not this machine.*use https:\/\//);
  // Allowed: loopback, TLS schemes, a bare host:port (TLS), TLS_SERVER_NAME, or HOOP_GRPC_INSECURE=true.
  assert.equal(ok(readHoopEnv({ HOOP_KEY: `grpc://dev:${SECRET}@127.0.0.1:8010` })).key?.host, '127.0.0.1');
  assert.equal(ok(readHoopEnv({ HOOP_KEY: `grpc://dev:${SECRET}@[::1]:8010` })).key?.host, '::1');
  assert.equal(ok(readHoopEnv({ HOOP_KEY: `grpcs://dev:${SECRET}@gw.example.com:8443` })).key?.tls, true);
  assert.equal(ok(readHoopEnv({ HOOP_GRPCURL: 'gw.example.com:8010', HOOP_TOKEN: 'x-agt-1' })).grpcUrl?.host, 'gw.example.com');
  assert.equal(ok(readHoopEnv({ HOOP_KEY: remote, TLS_SERVER_NAME: 'gw.example.com' })).key?.host, 'gw.example.com');
  const insecure = ok(readHoopEnv({ HOOP_KEY: remote, HOOP_GRPC_INSECURE: 'true' }));
  assert.equal(insecure.grpcInsecure, true);
  assert.equal(err(readHoopEnv({ HOOP_GRPC_INSECURE: 'yes' })), 'HOOP_GRPC_INSECURE: expected true or false, got another value (not shown)');
});

test('a token or DSN that cannot travel as gRPC metadata is one line naming the variable, never a fragment of it', () => {
  const fragments = (secret: string) => Array.from({ length: Math.max(1, secret.length - 7) }, (_, i) => secret.slice(i, i + 8));
  const cases: Array<[NodeJS.ProcessEnv, RegExp, string]> = [
    [{ HOOP_TOKEN: 'x-agt-ümlaut-secretpart', HOOP_GRPCURL: 'gw:1' }, /^HOOP_TOKEN: contains characters that cannot be sent as gRPC metadata/, 'x-agt-ümlaut-secretpart'],
    [{ TOKEN: 'x-agt-with space-secretpart' }, /^TOKEN: contains characters that cannot be sent/, 'x-agt-with space-secretpart'],
    [{ HOOP_TOKEN: 'x-agt-tab	secretpart' }, /^HOOP_TOKEN: contains characters/, 'x-agt-tab	secretpart'],
    [{ HOOP_TOKEN: `x-agt-${'s'.repeat(40 * 1024)}` }, /^HOOP_TOKEN: 40966 bytes is too long to send as gRPC metadata \(at most 8192\)$/, `x-agt-${'s'.repeat(40 * 1024)}`],
    [{ HOOP_KEY: `grpcs://dev:${'k'.repeat(33 * 1024)}@gw:443` }, /^HOOP_KEY: \d+ bytes is too long to send as gRPC metadata/, 'k'.repeat(33 * 1024)],
    [{ HOOP_KEY: `grpcs://dev:sécrét-value@gw:443` }, /^HOOP_KEY: contains characters that cannot be sent/, 'sécrét-value'],
    [{ HOOP_KEY: `grpcs://dev:bell\x07secret@gw:443` }, /^HOOP_KEY: contains characters/, 'bell\x07secret'],
    [{ REAGENT_GATEWAY_TOKEN: 'rgw_\nsecret-admin' }, /^REAGENT_GATEWAY_TOKEN: contains characters/, 'secret-admin'],
  ];
  for (const [env, expected, secret] of cases) {
    const message = err(readHoopEnv(env));
    assert.match(message, expected);
    assert.equal(message.split('\n').length, 1, message);
    for (const f of fragments(secret)) assert.ok(!message.includes(f), `${message} quotes ${JSON.stringify(f)}`);
  }
  // A percent-encoded secret is plain ASCII on the wire: fine.
  assert.equal(ok(readHoopEnv({ HOOP_KEY: 'grpcs://dev:s%C3%A9cret@gw:443' })).key?.secret, 'sécret');
});

test('empty variables count as unset, as with os.Getenv', () => {
  const env = ok(readHoopEnv({ HOOP_KEY: '', HOOP_TOKEN: '  ', LOG_LEVEL: '' }));
  assert.equal(env.key, null);
  assert.equal(env.token, null);
  assert.equal(env.logLevel, 'info');
});

// ---- properties ----

const hostArb = fc.oneof(
  fc.domain(),
  fc.ipV4(),
  fc.ipV6(),
);
const dsnArb: fc.Arbitrary<Omit<HoopDsn, 'tls'>> = fc.record({
  scheme: fc.constantFrom('grpc' as const, 'grpcs' as const, 'http' as const, 'https' as const, 'ws' as const, 'wss' as const),
  name: fc.string({ minLength: 1, maxLength: 20 }),
  secret: fc.string({ minLength: 1, maxLength: 60 }),
  host: hostArb,
  port: fc.integer({ min: 1, max: 65535 }),
  mode: fc.constantFrom('standard' as const, 'embedded' as const, 'multi-connection' as const),
});

test('property: DSN format then parse round-trips', () => {
  fc.assert(
    fc.property(dsnArb, (dsn) => {
      const parsed = parseDsn(formatDsn(dsn));
      if (!parsed.ok) assert.fail(`${parsed.error} for ${formatDsn(dsn)}`);
      assert.deepEqual(parsed.value, { ...dsn, tls: ['grpcs', 'https', 'wss'].includes(dsn.scheme) });
      // Any host: plaintext to another machine is allowed here, the property is about parsing.
      const env = ok(readHoopEnv({ HOOP_KEY: formatDsn(dsn), HOOP_GRPC_INSECURE: 'true' }));
      assert.equal(env.key?.secret, dsn.secret);
    }),
    { numRuns: 500 },
  );
});

test('property: a broken DSN never leaks its secret into the error', () => {
  const secretArb = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 16, maxLength: 40 });
  const breakArb = fc.constantFrom(
    (s: string) => s.replace(/:\d+\?/, '?'),
    (s: string) => s.replace('?mode=', '?mode=x'),
    (s: string) => s.replace('://', ':/'),
    (s: string) => s.replace('@', ''),
    (s: string) => s.replace(/^[a-z]+/, 'ftp'),
    (s: string) => `${s}#frag`,
  );
  fc.assert(
    fc.property(dsnArb, secretArb, breakArb, (dsn, secret, breakIt) => {
      const result = readHoopEnv({ HOOP_KEY: breakIt(formatDsn({ ...dsn, secret })) });
      if (!result.ok) assert.ok(!result.error.includes(secret), result.error);
    }),
    { numRuns: 300 },
  );
});
