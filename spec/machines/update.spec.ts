// The self-update's pure parts: version order, the update channel, the start
// guard's count and rollback, the state file's parser, and the statechart.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createActor } from 'xstate';
import { compareSemver, guardAtStart, isNewer, updateChannel, type UpdateState } from '../../machines/update-rules.js';
import { updateMachine, type UpdateInput } from '../../machines/update.js';
import { parseUpdateState } from '../../adapters/update/state-file.js';
import { parseChecksum, pickVersion } from '../../adapters/update/updater.js';
import { refuseUpdateUrl } from '../../adapters/update/fetch.js';

const triple = fc.tuple(fc.nat(50), fc.nat(50), fc.nat(50));

describe('update rules', () => {
  it('semver order matches numeric order of x.y.z, is antisymmetric, and puts a pre-release first', () => {
    fc.assert(
      fc.property(triple, triple, ([a, b, c], [x, y, z]) => {
        const expected = Math.sign(a - x || b - y || c - z);
        assert.equal(compareSemver(`${a}.${b}.${c}`, `${x}.${y}.${z}`), expected);
        assert.equal(compareSemver(`${x}.${y}.${z}`, `${a}.${b}.${c}`), -expected || 0);
      }),
    );
    assert.equal(compareSemver('1.0.0-rc.1', '1.0.0'), -1);
    assert.equal(compareSemver('1.0.0-alpha', '1.0.0-alpha.1'), -1);
    assert.equal(compareSemver('1.0.0-2', '1.0.0-10'), -1);
    assert.equal(compareSemver('1.0.0+b1', '1.0.0+b2'), 0);
    assert.equal(compareSemver('01.0.0', '1.0.0'), null);
    assert.equal(isNewer('0.20.20', '0.3.9'), true);
    assert.equal(isNewer('unknown', '0.1.0'), false);
  });

  it("the channel: .flock environment, then -env when given, then the Reagent's endpoint rules", () => {
    assert.equal(updateChannel({ flockEnvironment: 'test', endpoint: 'wss://x.record-evolution.com', envFlag: 'local', envFlagGiven: true }), 'test');
    assert.equal(updateChannel({ endpoint: 'wss://x.datapods.io', envFlag: 'local', envFlagGiven: true }), 'local');
    assert.equal(updateChannel({ endpoint: 'wss://cbw.datapods.io', envFlag: 'production', envFlagGiven: false }), 'test');
    assert.equal(updateChannel({ endpoint: 'wss://cbw.record-evolution.com', envFlag: 'production', envFlagGiven: false }), 'production');
    assert.equal(updateChannel({ endpoint: 'wss://cbw.ironflock.com', envFlag: 'production', envFlagGiven: false }), 'local');
    assert.equal(updateChannel({ envFlag: 'test', envFlagGiven: false }), 'test');
  });

  const probation: UpdateState = { phase: 'probation', from: '0.1.0', to: '0.2.0', at: 't', attempts: 0, lastInvocation: null, probationMs: 1000, links: [], linksMode: 'any', blacklist: [], reason: null };

  it('the guard counts each start once (per systemd invocation) and rolls back after 3', () => {
    let state: UpdateState = probation;
    const start = (role: 'daemon' | 'guard', invocation: string | null) => guardAtStart({ state, role, version: '0.2.0', invocation, currentTarget: '0.2.0', now: 'n' });
    for (let i = 1; i <= 3; i++) {
      const g = start('guard', `inv${i}`);
      assert.equal(g.kind, 'probation');
      state = (g as { state: UpdateState }).state;
      const d = start('daemon', `inv${i}`);
      assert.equal(d.kind, 'probation');
      assert.equal((d as { state: UpdateState }).state.attempts, i, 'the daemon does not count the start the guard counted');
    }
    const last = start('guard', 'inv4');
    assert.equal(last.kind, 'rollback');
    assert.deepEqual((last as { state: UpdateState }).state.blacklist, ['0.2.0']);
    // Outside systemd every start counts.
    state = probation;
    assert.equal((start('daemon', null) as { state: UpdateState }).state.attempts, 1);
    // Another version starting while 0.2.0 is on probation decides nothing.
    assert.equal(guardAtStart({ state: probation, role: 'daemon', version: '0.1.0', invocation: null, currentTarget: '0.2.0', now: 'n' }).kind, 'bystander');
    // An interrupted swap: whichever way the link points decides.
    assert.equal(guardAtStart({ state: { ...probation, phase: 'swapping' }, role: 'daemon', version: '0.2.0', invocation: null, currentTarget: '0.2.0', now: 'n' }).kind, 'probation');
    const undone = guardAtStart({ state: { ...probation, phase: 'swapping' }, role: 'daemon', version: '0.1.0', invocation: null, currentTarget: '0.1.0', now: 'n' });
    assert.equal(undone.kind === 'none' && undone.state?.phase, 'rolled back');
  });

  it('the state file parser never throws and accepts only what it wrote', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => void parseUpdateState(v)));
    assert.deepEqual(parseUpdateState(JSON.parse(JSON.stringify(probation))), { ok: true, state: probation });
    assert.deepEqual(parseUpdateState({ ...probation, to: '../../etc' }), { ok: false, error: 'field "to": expected a version x.y.z' });
  });

  it('manifest, checksum and URL rules', () => {
    assert.equal(pickVersion('{"production":"1.2.3","all":"1.0.0"}', 'production', 'm'), '1.2.3');
    assert.equal(pickVersion('{"production":"1.2.3","all":"1.0.0"}', 'test', 'm'), '1.0.0');
    assert.throws(() => pickVersion('{"production":"latest"}', 'production', 'm'), /field "production": expected a version/);
    assert.throws(() => pickVersion('[]', 'production', 'm'), /expected an object/);
    assert.equal(parseChecksum(`${'A'.repeat(64)}  reagent\n`), 'a'.repeat(64));
    assert.throws(() => parseChecksum('deadbeef'), /64 hexadecimal/);
    assert.equal(refuseUpdateUrl('https://storage.googleapis.com'), null);
    assert.equal(refuseUpdateUrl('http://127.0.0.1:8080'), null);
    assert.match(String(refuseUpdateUrl('http://updates.example.com')), /needs https/);
    assert.match(String(refuseUpdateUrl('https://u:p@example.com')), /user name or password/);
  });
});

describe('update statechart', () => {
  const input = (over: Partial<UpdateInput> = {}): UpdateInput => ({ current: '0.1.0', cannotUpdate: null, blacklist: [], probation: null, restartDelayMs: 5, ...over });
  function run(i: UpdateInput) {
    const actor = createActor(updateMachine, { input: i });
    const emitted: Array<{ type: string; [k: string]: unknown }> = [];
    actor.on('*', (e) => void emitted.push(e));
    actor.start();
    return { actor, emitted, send: (e: Record<string, unknown>) => actor.send({ at: 0, rand: 0, ...e } as never) };
  }

  it('checks, downloads a newer version, answers, swaps and hands over; a busy check is answered at once', async () => {
    const { actor, emitted, send } = run(input());
    send({ type: 'CHECK', trigger: 'studio' });
    send({ type: 'CHECK', trigger: 'studio' });
    send({ type: 'MANIFEST', latest: '0.2.0' });
    send({ type: 'DOWNLOADED', version: '0.2.0', bytes: 10 });
    send({ type: 'SWAPPED' });
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(emitted.map((e) => e.type), ['update.check', 'update.result', 'update.download', 'update.result', 'update.swap', 'update.handover']);
    assert.equal(emitted[1]!.inProgress, true);
    assert.deepEqual([emitted[3]!.didUpdate, emitted[3]!.totalBytes, emitted[3]!.latest], [true, 10, '0.2.0']);
    actor.stop();
  });

  it('refuses a blacklisted version, says up to date, and explains when it cannot update', () => {
    const a = run(input({ blacklist: ['0.2.0'] }));
    a.send({ type: 'CHECK', trigger: 'start' });
    a.send({ type: 'MANIFEST', latest: '0.2.0' });
    assert.match(String(a.emitted.at(-1)!.message), /failed its probation/);
    a.send({ type: 'CHECK', trigger: 'start' });
    a.send({ type: 'MANIFEST', latest: '0.1.0' });
    assert.match(String(a.emitted.at(-1)!.message), /is the latest/);
    const b = run(input({ cannotUpdate: 'it runs from a checkout' }));
    b.send({ type: 'CHECK', trigger: 'studio' });
    assert.deepEqual(b.emitted.map((e) => e.type), ['update.result']);
    assert.match(String(b.emitted[0]!.message), /cannot update itself: it runs from a checkout/);
  });

  it('probation: ready and the links commit; a timeout rolls back and hands over', async () => {
    const p = { from: '0.1.0', to: '0.2.0', probationMs: 20, links: ['studio', 'gateway'], linksMode: 'all' as const };
    const ok = run(input({ current: '0.2.0', probation: p }));
    ok.send({ type: 'READY' });
    ok.send({ type: 'LINK', name: 'studio', up: true });
    assert.deepEqual(ok.emitted.map((e) => e.type), []);
    ok.send({ type: 'LINK', name: 'gateway', up: true });
    assert.deepEqual(ok.emitted.map((e) => e.type), ['update.commit']);
    await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(ok.emitted.map((e) => e.type), ['update.commit'], 'no rollback after the commit');
    const bad = run(input({ current: '0.2.0', probation: p }));
    bad.send({ type: 'READY' });
    bad.send({ type: 'LINK', name: 'studio', up: true });
    await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(bad.emitted.map((e) => e.type), ['update.rollback', 'update.handover']);
    assert.match(String(bad.emitted[0]!.reason), /0\.2\.0 did not become ready with its links \(studio, gateway\) up within 0 s/);
    ok.actor.stop();
    bad.actor.stop();
  });
});
