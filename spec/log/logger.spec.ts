import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { createLogger, type LogEncoding } from '../../adapters/log/logger.js';
import { Redactor } from '../../adapters/log/redactor.js';
import { consoleRenderer } from '../../adapters/log/console-render.js';

function capture() {
  const chunks: string[] = [];
  return { chunks, write: (chunk: string) => void chunks.push(chunk), text: () => chunks.join('') };
}

const T0 = Date.UTC(2024, 10, 29, 16, 7, 48);

test('JSON lines carry the level label, an ISO time and msg, and nothing else by default', () => {
  const out = capture();
  const log = createLogger({ level: 'info', encoding: 'json', pretty: false, stdout: out, redactor: new Redactor(), now: () => T0 });
  log.info('hello');
  log.warn({ app: 'temp' }, 'careful %s', 'now');
  log.debug('hidden');
  const lines = out.chunks.map((c) => JSON.parse(c) as Record<string, unknown>);
  assert.deepEqual(lines, [
    { level: 'info', time: '2024-11-29T16:07:48.000Z', msg: 'hello' },
    { level: 'warn', time: '2024-11-29T16:07:48.000Z', app: 'temp', msg: 'careful now' },
  ]);
});

test('an Error logs as err {type, message, stack} with its message as msg', () => {
  const out = capture();
  const log = createLogger({ level: 'debug', encoding: 'json', pretty: false, stdout: out, redactor: new Redactor() });
  log.error(new RangeError('out of range'));
  log.error({ err: new Error('inner') }, 'wrapped');
  const [first, second] = out.chunks.map((c) => JSON.parse(c) as { msg: string; err: Record<string, unknown> });
  assert.equal(first?.msg, 'out of range');
  assert.equal(first?.err.type, 'RangeError');
  assert.match(String(first?.err.stack), /^RangeError: out of range/);
  assert.equal(second?.msg, 'wrapped');
  assert.equal(second?.err.message, 'inner');
});

test('console encoding renders one readable line; pretty renders colours', async () => {
  const plain = capture();
  createLogger({ level: 'info', encoding: 'console', pretty: false, render: await consoleRenderer(false), stdout: plain, redactor: new Redactor() }).info({ app: 'temp' }, 'started');
  assert.match(plain.text(), /INFO.*: started \{"app":"temp"\}\n$/);
  assert.equal(plain.text().split('\n').length, 2);
  assert.throws(() => JSON.parse(plain.text()));
  const pretty = capture();
  createLogger({ level: 'info', encoding: 'json', pretty: true, render: await consoleRenderer(true), stdout: pretty, redactor: new Redactor() }).info('started');
  assert.match(pretty.text(), /\u001b\[/);
  assert.throws(() => createLogger({ level: 'info', encoding: 'console', pretty: false, stdout: capture(), redactor: new Redactor() }), /options\.render/);
});

test('a file, when asked for, gets the same lines as JSON, whatever the console encoding', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reagent-log-'));
  try {
    const out = capture();
    const file = join(dir, 'sub', 'reagent.log');
    const log = createLogger({ level: 'info', encoding: 'console', pretty: false, render: await consoleRenderer(false), stdout: out, redactor: new Redactor(), file });
    log.info({ n: 1 }, 'to both');
    const line = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    assert.equal(line.msg, 'to both');
    assert.equal(line.n, 1);
    assert.match(out.text(), /to both/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a log file that cannot be opened is reported on stdout, and logging goes on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reagent-log-'));
  try {
    const out = capture();
    // The "file" is an existing directory.
    const log = createLogger({ level: 'info', encoding: 'json', pretty: false, stdout: out, redactor: new Redactor(), file: dir });
    log.info('still here');
    assert.match(out.text(), /"level":"error".*log file/);
    assert.match(out.text(), /still here/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sensitive keys, bearer tokens, DSN passwords and child bindings never reach the output', () => {
  const out = capture();
  const log = createLogger({ level: 'info', encoding: 'json', pretty: false, stdout: out, redactor: new Redactor() });
  log.child({ token: 'child-binding-token' }).info({ password: 'hunter2hunter2', headers: { authorization: 'Basic Zm9v' } }, 'auth Bearer abc.def.ghi');
  log.info('dsn %s', 'grpcs://dev:xagt-SeCrEt_value-1@gw:8443');
  log.info('cfg %j', { secret: 'json-arg-secret' });
  const text = out.text();
  for (const leaked of ['child-binding-token', 'hunter2hunter2', 'Zm9v', 'abc.def.ghi', 'SeCrEt_value-1', 'json-arg-secret']) {
    assert.ok(!text.includes(leaked), `${leaked} leaked: ${text}`);
  }
});

test('a secret split across format arguments is still caught', () => {
  const out = capture();
  const redactor = new Redactor();
  redactor.addSecret('split-secret-value');
  createLogger({ level: 'info', encoding: 'json', pretty: false, stdout: out, redactor }).info('x %s%s', 'split-secret', '-value');
  assert.ok(!out.text().includes('split-secret-value'), out.text());
});

// ---- property ----

const secretArb = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.'), minLength: 8, maxLength: 32 });
const encodingArb = fc.constantFrom<[LogEncoding, boolean]>(['json', false], ['console', false], ['json', true], ['console', true]);

test('property: planted secrets in the message, a nested field and an Error never reach any encoding', async () => {
  const renderers = { plain: await consoleRenderer(false), pretty: await consoleRenderer(true) };
  fc.assert(
    fc.property(secretArb, fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), fc.constantFrom('a', 'b.c', 'deep'), encodingArb, (secret, before, after, key, [encoding, pretty]) => {
      const planted = `${before}${secret}${after}`;
      const out = capture();
      const redactor = new Redactor();
      redactor.addSecret(secret);
      const render = pretty ? renderers.pretty : renderers.plain;
      const log = createLogger({ level: 'debug', encoding, pretty, render, stdout: out, redactor });
      log.info(`message ${planted}`);
      log.info({ outer: { [key]: { list: [1, planted] } } }, 'nested');
      log.error(new Error(`failed with ${planted}`));
      log.error({ err: Object.assign(new Error('wrapped'), { detail: planted }) }, 'with %s', planted);
      log.child({ session: planted }).warn('child');
      assert.equal(out.chunks.length, 5);
      assert.ok(!out.text().includes(secret), out.text());
    }),
    { numRuns: 200 },
  );
});
