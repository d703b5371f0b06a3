// hoop's credential load order as a statechart: auto registration, the DSN,
// the env pair, agent.toml, then (for `start agent`) local mode and web
// registration. The machine only decides; these tests play the adapter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ActorSystem } from '../../actors/system.js';
import { ManualClock } from '../../actors/clock.js';
import type { Command, Json } from '../../actors/types.js';
import { actorId, type PayloadArg } from '../../actors/contracts.js';
import { builtinMachines } from '../../machines/registry.js';
import type { CredentialsContext, CredentialsInbound, CredentialsInput, GatewayTarget } from '../../machines/credentials.js';
import { MemoryJournal } from '../helpers/memory-journal.js';

const ACTOR = actorId('credentials', 'gateway-credentials');

function harness(input: Partial<CredentialsInput> = {}) {
  const journal = new MemoryJournal();
  const clock = new ManualClock(1_000_000);
  const system = new ActorSystem({ journal, clock, registry: builtinMachines(), random: () => 0.5, run: 't' });
  const commands: Command[] = [];
  system.subscribe((t) => commands.push(...t.commands));
  const full: CredentialsInput = { gatewayOnly: false, webRegister: { intervalMs: 7000, maxAttempts: 30 }, autoRegisterRetryMs: 5000, ...input };
  system.spawn(ACTOR, 'credentials', full);
  system.send(ACTOR, 'test', 'START');
  return {
    system,
    clock,
    journal,
    commands,
    types: () => commands.map((c) => c.type),
    state: () => JSON.stringify(system.snapshot(ACTOR)!.value),
    ctx: () => system.snapshot(ACTOR)!.context as CredentialsContext,
    send: <T extends CredentialsInbound['type']>(type: T, ...payload: PayloadArg<CredentialsInbound, T>) => system.send(ACTOR, 'creds', type, ...payload),
  };
}

const target = (grpcServer: string, tls: boolean): GatewayTarget => ({ grpcServer, tls });
const T = (t: GatewayTarget) => t;
const none = { autoRegister: false, keyTarget: null, envPair: null };

test('auto registration comes first: it registers, then connects to the local gateway in plaintext', () => {
  const h = harness();
  assert.deepEqual(h.types(), ['creds.readEnv']);
  h.send('ENV_READ', { autoRegister: true, keyTarget: T(target('gw:1', true)), envPair: T(target('gw:2', true)) });
  assert.equal(h.state(), '"registering"');
  assert.equal(h.types().at(-1), 'creds.register');
  h.send('REGISTERED', { target: T(target('127.0.0.1:8010', false)) });
  assert.equal(h.state(), '"ready"');
  assert.deepEqual(h.commands.at(-1), { type: 'creds.ready', mode: 'auto-register', grpcServer: '127.0.0.1:8010', tls: false });
});

test('auto registration that fails is retried after a pause, not abandoned', () => {
  const h = harness({ autoRegisterRetryMs: 5000 });
  h.send('ENV_READ', { ...none, autoRegister: true });
  h.send('REGISTER_FAILED', { reason: 'ECONNREFUSED' });
  assert.equal(h.state(), '"waitingToRegister"');
  h.clock.advance(4999);
  assert.equal(h.types().filter((t) => t === 'creds.register').length, 1);
  h.clock.advance(1);
  assert.equal(h.state(), '"registering"');
  assert.equal(h.types().filter((t) => t === 'creds.register').length, 2);
});

test('the DSN (HOOP_KEY) comes before the env pair, and both before agent.toml', () => {
  const h = harness();
  h.send('ENV_READ', { autoRegister: false, keyTarget: T(target('gw:443', true)), envPair: T(target('gw:8443', true)) });
  assert.deepEqual(h.commands.at(-1), { type: 'creds.ready', mode: 'dsn', grpcServer: 'gw:443', tls: true });
  assert.ok(!h.types().includes('creds.readFile'));

  const e = harness();
  e.send('ENV_READ', { ...none, envPair: T(target('gw:8443', true)) });
  assert.deepEqual(e.commands.at(-1), { type: 'creds.ready', mode: 'env', grpcServer: 'gw:8443', tls: true });
  assert.ok(!e.types().includes('creds.readFile'));
});

test('agent.toml is read when the environment has nothing; a broken file is an error, not a fall-through', () => {
  const h = harness();
  h.send('ENV_READ', none);
  assert.equal(h.types().at(-1), 'creds.readFile');
  h.send('FILE_READ', { target: T(target('gw:8443', true)) });
  assert.deepEqual(h.commands.at(-1), { type: 'creds.ready', mode: 'file', grpcServer: 'gw:8443', tls: true });

  const bad = harness({ gatewayOnly: true });
  bad.send('ENV_READ', none);
  bad.send('FILE_INVALID', { reason: 'agent.toml: field "grpc_url" is missing' });
  assert.equal(bad.state(), '"failed"');
  assert.deepEqual(bad.commands.at(-1), { type: 'creds.failed', reason: 'agent.toml: field "grpc_url" is missing' });
});

test('the daemon stops after agent.toml; `start agent` walks on to local mode', () => {
  const daemon = harness({ gatewayOnly: false });
  daemon.send('ENV_READ', none);
  daemon.send('FILE_READ', { target: null });
  assert.equal(daemon.state(), '"none"');
  assert.equal(daemon.types().at(-1), 'creds.none');

  const agent = harness({ gatewayOnly: true });
  agent.send('ENV_READ', none);
  agent.send('FILE_READ', { target: null });
  assert.equal(agent.types().at(-1), 'creds.probeLocal');
  agent.send('LOCAL_PROBED', { target: T(target('127.0.0.1:8010', false)) });
  assert.deepEqual(agent.commands.at(-1), { type: 'creds.ready', mode: 'local', grpcServer: '127.0.0.1:8010', tls: false });
});

test('web registration: banner once on the first refusal, 30 attempts every 7 s, then it gives up', () => {
  const h = harness({ gatewayOnly: true });
  h.send('ENV_READ', none);
  h.send('FILE_READ', { target: null });
  h.send('LOCAL_PROBED', { target: null });
  assert.equal(h.types().at(-1), 'creds.mint');
  h.send('MINTED', { target: T(target('app.hoop.dev:8443', true)) });
  assert.deepEqual(h.commands.at(-1), { type: 'creds.ready', mode: 'web-register', grpcServer: 'app.hoop.dev:8443', tls: true, retryMs: 7000 });
  h.send('ATTEMPT_FAILED', { code: 'UNAVAILABLE', reason: 'connection refused' });
  assert.ok(!h.types().includes('creds.banner'), 'no banner for a gateway that is down');
  for (let i = 2; i <= 29; i++) h.send('ATTEMPT_FAILED', { code: 'UNAUTHENTICATED', reason: 'invalid authentication' });
  assert.equal(h.types().filter((t) => t === 'creds.banner').length, 1);
  assert.equal(h.state(), '"webRegister"');
  h.send('ATTEMPT_FAILED', { code: 'UNAUTHENTICATED', reason: 'invalid authentication' });
  assert.equal(h.state(), '"gaveUp"');
  assert.deepEqual(h.commands.at(-1), { type: 'creds.giveUp', attempts: 30 });
});

test('web registration: the first accepted connect saves the token, once', () => {
  const h = harness({ gatewayOnly: true, webRegister: { intervalMs: 50, maxAttempts: 3 } });
  h.send('ENV_READ', none);
  h.send('FILE_READ', { target: null });
  h.send('LOCAL_PROBED', { target: null });
  h.send('MINTED', { target: T(target('127.0.0.1:9443', true)) });
  assert.equal(h.commands.at(-1)!.retryMs, 50, 'the interval is the injected one');
  h.send('ATTEMPT_FAILED', { code: 'UNAUTHENTICATED', reason: 'x' });
  h.send('ACCEPTED');
  assert.equal(h.types().at(-1), 'creds.persist');
  h.send('PERSISTED');
  assert.equal(h.state(), '"registered"');
  h.send('ACCEPTED');
  h.send('ATTEMPT_FAILED', { code: 'UNAUTHENTICATED', reason: 'x' });
  assert.equal(h.types().filter((t) => t === 'creds.persist').length, 1);
  assert.ok(!h.types().includes('creds.giveUp'));
});

test('STOP ends the machine from any state', () => {
  const h = harness({ gatewayOnly: true });
  h.send('ENV_READ', none);
  h.send('STOP');
  assert.equal(h.state(), '"stopped"');
});

test('property: whatever is configured, the first source in hoop order wins, and no secret is journaled', () => {
  const order = ['auto-register', 'dsn', 'env', 'file', 'local', 'web-register'] as const;
  fc.assert(
    fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), (auto, dsn, pair, file, local, gatewayOnly) => {
      const h = harness({ gatewayOnly });
      h.send('ENV_READ', { autoRegister: auto, keyTarget: dsn ? T(target('d:1', true)) : null, envPair: pair ? T(target('e:1', true)) : null });
      if (h.state() === '"registering"') h.send('REGISTERED', { target: T(target('127.0.0.1:8010', false)) });
      if (h.state() === '"readingFile"') h.send('FILE_READ', { target: file ? T(target('f:1', true)) : null });
      if (h.state() === '"probingLocal"') h.send('LOCAL_PROBED', { target: local ? T(target('127.0.0.1:8010', false)) : null });
      if (h.state() === '"minting"') h.send('MINTED', { target: T(target('w:1', true)) });
      const available = { 'auto-register': auto, dsn, env: pair, file, local: gatewayOnly && local, 'web-register': gatewayOnly };
      const expected = order.find((m) => available[m]) ?? null;
      const ready = h.commands.find((c) => c.type === 'creds.ready');
      assert.equal(ready?.mode ?? null, expected);
      if (expected === null) assert.equal(h.state(), '"none"');
      assert.ok(!JSON.stringify(h.journal.records).includes('x-agt-'));
    }),
    { numRuns: 200 },
  );
});

test('the context keeps the token fingerprint, never anything else under that name; the bug report scrubber leaves it alone', async () => {
  const { Redactor } = await import('../../adapters/log/redactor.js');
  const h = harness();
  const fp = 'sha256:0123456789abcdef';
  h.send('ENV_READ', { autoRegister: false, keyTarget: T(target('gw:443', true)), keyFingerprint: fp, envPair: null, pairFingerprint: null });
  assert.equal(h.ctx().fingerprint, fp);
  const tricked = harness();
  tricked.send('ENV_READ', { ...none, keyTarget: T(target('gw:443', true)), keyFingerprint: 'x-agt-the-token-itself' });
  assert.equal(tricked.ctx().fingerprint, null, 'a value that is not a fingerprint is not kept');
  // What made v1 diverge after a bug report: a field named like a secret (`dsn`) got redacted.
  const r = new Redactor();
  for (const rec of h.journal.records) assert.deepEqual(r.scrub(rec.payload), rec.payload, `${rec.type} is unchanged by the scrubber`);
  assert.deepEqual(r.scrub(h.ctx()), JSON.parse(JSON.stringify(h.ctx())));
});
