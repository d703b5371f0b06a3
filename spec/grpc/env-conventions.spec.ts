// hoop's session environment conventions: `envvar:NAME` and
// `filesystem:NAME` keys with standard base64 values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, readFileSync, statSync } from 'node:fs';
import fc from 'fast-check';
import { decodeStdBase64, ENV_NAME, materializeEnv, parseEnvVars, removeEnvFiles, SYSTEM_AGENT_ENVS } from '../../adapters/grpc/sessions/env.js';
import type { EnvVarValue } from '../../adapters/grpc/gob/connection-params.js';
import { removeDirs, tempDir } from '../helpers/gateway-peer.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

test('envvar: values become variables, filesystem: values become 0600 files', () => {
  const dir = tempDir();
  try {
    const parsed = parseEnvVars({ 'envvar:HOST': b64('db.internal'), 'envvar:PASS': b64('s3cr3t'), 'filesystem:KEY_FILE': b64('-----BEGIN KEY-----\n') });
    assert.deepEqual(parsed.problems, []);
    const env = materializeEnv(parsed, { dir, agentEnv: {} });
    assert.deepEqual(env.problems, []);
    assert.equal(env.vars['HOST'], 'db.internal');
    // PASS is mirrored for the database clients that read their own variable.
    assert.deepEqual([env.vars['PGPASSWORD'], env.vars['MYSQL_PWD'], env.vars['SQLCMDPASSWORD']], ['s3cr3t', 's3cr3t', 's3cr3t']);
    const file = env.vars['KEY_FILE']!;
    assert.match(file, /\.envfs$/);
    assert.equal(readFileSync(file, 'utf8'), '-----BEGIN KEY-----\n');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    removeEnvFiles(env.files);
    assert.ok(!existsSync(file));
  } finally {
    removeDirs(dir);
  }
});

test('bad keys and values are named, never their values', () => {
  const secret = 'hunter2hunter2';
  const parsed = parseEnvVars({
    HOST: b64('x'),
    'secret:HOST': b64('x'),
    'envvar:1BAD': b64('x'),
    'envvar:NOT_B64': `${secret}!`,
    'envvar:NUMBER': 5,
    'envvar:NIL': null,
  });
  assert.equal(parsed.entries.length, 0);
  assert.equal(parsed.problems.length, 6);
  assert.ok(parsed.problems.some((p) => /"HOST": expected a key "envvar:NAME"/.test(p)));
  assert.ok(parsed.problems.some((p) => /"envvar:NOT_B64": expected standard padded base64/.test(p)));
  assert.ok(parsed.problems.some((p) => /"envvar:NUMBER": expected a base64 string, got number/.test(p)));
  assert.ok(parsed.problems.some((p) => /"envvar:NIL": expected a base64 string, got nil/.test(p)));
  assert.ok(!parsed.problems.join('\n').includes(secret));
});

test('secret-store references are refused; system.agent.envs reads the agent env, but never its credentials', () => {
  const dir = tempDir();
  try {
    const env = materializeEnv(
      parseEnvVars({ 'envvar:A': b64('_aws:prod/db:password'), 'envvar:REGION': b64(SYSTEM_AGENT_ENVS), 'envvar:HOOP_KEY': b64(SYSTEM_AGENT_ENVS), 'envvar:MISSING': b64(SYSTEM_AGENT_ENVS) }),
      { dir, agentEnv: { REGION: 'eu-1', HOOP_KEY: 'grpc://a:b@c:1' } },
    );
    assert.equal(env.vars['REGION'], 'eu-1');
    assert.equal(env.vars['HOOP_KEY'], undefined);
    assert.equal(env.vars['A'], undefined);
    assert.equal(env.problems.length, 3);
    assert.ok(!env.problems.join('\n').includes('grpc://a:b@c:1'));
  } finally {
    removeDirs(dir);
  }
});

test("Go's strict base64: padding required, no whitespace, standard alphabet only", () => {
  assert.deepEqual(decodeStdBase64('aGk='), Buffer.from('hi'));
  for (const bad of ['aGk', 'aG k=', 'a-_=', 'aGk==', '====']) assert.equal(decodeStdBase64(bad), null, bad);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => assert.deepEqual(decodeStdBase64(Buffer.from(bytes).toString('base64')), Buffer.from(bytes))));
});

const arbValue: fc.Arbitrary<EnvVarValue> = fc.oneof(
  fc.string().map((s) => b64(s)),
  fc.string(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);

test('property: any map is split into entries and problems, one per key, without throwing', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.oneof(fc.string({ maxLength: 20 }), fc.stringMatching(/^(envvar|filesystem):[A-Za-z_][A-Za-z0-9_]{0,10}$/)), arbValue, { maxKeys: 8 }), (vars) => {
      const parsed = parseEnvVars(vars);
      assert.equal(parsed.entries.length + parsed.problems.length, Object.keys(vars).length);
      for (const e of parsed.entries) {
        assert.ok(ENV_NAME.test(e.name));
        assert.deepEqual(e.value, Buffer.from(vars[`${e.kind}:${e.name}`] as string, 'base64'));
      }
    }),
    { numRuns: 500 },
  );
});
