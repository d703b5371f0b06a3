// A router that sends what no well-behaved router would (scripts/wamp-router.mjs
// --inject writes raw frames to the agent's WebSocket), with -debugMessaging
// on: every frame is refused or answered alone, the session survives, and the
// traffic log stays bounded and redacted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEVICE_AUTHID, STUDIO_USER, proc, startHarness, until, type Harness } from './helpers/harness.js';
import { callOutcome, connectPeer } from './helpers/wamp-peer.js';

const deepText = (depth: number, leaf = '"bottom"') => `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
const online = (h: Harness) => JSON.stringify((h.daemon.system.snapshot('studio:session') as { value?: unknown }).value).includes('online');
const sessions = (h: Harness) => (h.daemon.system.snapshot('studio:connection') as { context: { sessions: number } }).context.sessions;

function registrationOf(h: Harness, procedure: string): number {
  // -debugMessaging logs REGISTER [64, req, opts, uri] and REGISTERED [65, req, id].
  const lines = h.logs.map((l) => JSON.parse(l) as { type?: string; message?: string });
  const register = lines.find((l) => l.type === 'REGISTER' && l.message?.includes(`"${procedure}"`));
  const req = (JSON.parse(register!.message!) as unknown[])[1];
  const registered = lines.find((l) => l.type === 'REGISTERED' && (JSON.parse(l.message!) as unknown[])[1] === req);
  return (JSON.parse(registered!.message!) as number[])[2]!;
}

test('hostile router: deep, malformed and unexpected frames are refused one by one; the session and the device API stay', async () => {
  const h = await startHarness({ inject: true, link: { debugMessaging: true } });
  const studio = await connectPeer(h.router.url, STUDIO_USER.authid, STUDIO_USER.secret);
  try {
    await until(() => online(h), 15_000, 'online');
    const inject = async (frames: Array<string | { binary: string }>) => {
      const r = await callOutcome(studio.session, 'test.inject', [], { authid: DEVICE_AUTHID, frames });
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.args[0], frames.length);
    };
    const handshake = proc('device_handshake');
    const reg = registrationOf(h, handshake);
    const refusedBefore = h.logs.filter((l) => l.includes('WAMP message from the router refused')).length;

    await inject([
      // Nested 100 000 deep: a JSON parse that V8 survives, then a walk that must not recurse.
      `[68, 9001, ${reg}, {"caller_authid": "${STUDIO_USER.authid}"}, [${deepText(100_000)}], {}]`,
      `[50, 123456, {}, [${deepText(5000)}]]`,
      `[36, 777, 1, {}, [${deepText(20_000, '{"password": "p"}')}]]`,
      'not json at all',
      '{"an": "object"}',
      '[]',
      '["CALL"]',
      '[68]',
      `[68, 9002, 424242, {}, []]`,
      `[68, 9003, ${reg}, "details", []]`,
      `[8, 48, 55555, {}, "wamp.error.x"]`,
      `[2, 1, {"roles": {}}]`,
      `[69, 1, {}]`,
      { binary: Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('base64') },
    ]);
    // The gate refused everything but the well-formed INVOCATION of a registration we hold, which was answered.
    await until(() => h.logs.filter((l) => l.includes('WAMP message from the router refused')).length - refusedBefore >= 13, 10_000, 'refusals logged');
    await until(() => h.logs.some((l) => l.includes('"wamp":"out"') && l.includes('9001')), 10_000, 'the deep INVOCATION answered');

    assert.equal(sessions(h), 1, 'never reconnected');
    assert.ok(online(h));
    const hs = await callOutcome(studio.session, handshake);
    assert.ok(hs.ok, 'the device API still answers');

    const traffic = h.logs.filter((l) => l.includes('"wamp":"in"') && l.includes('"type":"'));
    const deep = traffic.find((l) => l.includes('"type":"INVOCATION"') && l.includes('9001'));
    assert.ok(deep && deep.includes('[Too deep]'), 'the deep frame was logged, cut');
    for (const l of traffic) assert.ok(l.length < 6000, `a traffic line of ${l.length} chars`);
    assert.ok(!h.logs.some((l) => l.includes('"p"}')), 'the planted password was never logged');
  } finally {
    await studio.close();
    await h.stop();
  }
});

test("a caller's deep, huge or mistyped payload through the real router gets an error, and the link stays", async () => {
  const h = await startHarness({ link: { debugMessaging: true } });
  const studio = await connectPeer(h.router.url, STUDIO_USER.authid, STUDIO_USER.secret);
  try {
    await until(() => online(h), 15_000, 'online');
    let deep: unknown = { environment: { SECRET_ENV: 'planted-env-value' } };
    for (let i = 0; i < 3000; i++) deep = [deep];
    const cases: Array<[string, unknown[], Record<string, unknown>]> = [
      ['request_app_state', [], { app_key: 1, app_name: 'a', stage: 'DEV', target_state: 'RUNNING', docker_compose: { x: deep } }],
      ['request_app_state', [], { app_key: 1, app_name: 'a', stage: 'DEV', target_state: 'RUNNING', environment: { DB_PASSWORD: 'planted-env-value' }, ports: 'x' }],
      ['get_app_log_history', [deep], {}],
      ['query_app_logs', [{ containerName: 'x'.repeat(2_000_000) }], {}],
      ['write_data', [deep, 1, 2, 3, 4], {}],
      ['device_handshake', [deep], { deep }],
    ];
    for (const [name, args, kwargs] of cases) {
      const r = await callOutcome(studio.session, proc(name), args, kwargs);
      if (name === 'device_handshake') assert.ok(r.ok);
      else assert.equal(r.ok, false, `${name} refused`);
    }
    // fox-wamp passes the caller only the error URI; the agent's log has the reason.
    assert.ok(h.logs.some((l) => l.includes('field \\"docker_compose\\": expected JSON nested at most 32 levels deep')), 'the deep field named');
    assert.equal(sessions(h), 1);
    assert.ok(!h.logs.some((l) => l.includes('planted-env-value')), 'environment values never logged');
    assert.ok(h.logs.some((l) => l.includes('"type":"INVOCATION"') && l.includes('DB_PASSWORD')), 'environment names are');
  } finally {
    await studio.close();
    await h.stop();
  }
});

test('write_data through the router: refused at BEGIN when the disk guard says the disk is too full', async () => {
  const h = await startHarness({ link: { uploads: { diskMinBytes: Number.MAX_SAFE_INTEGER } } });
  const studio = await connectPeer(h.router.url, STUDIO_USER.authid, STUDIO_USER.secret);
  try {
    await until(() => online(h), 15_000, 'online');
    const r = await callOutcome(studio.session, proc('write_data'), ['BEGIN', 'app.tgz', 'dev_1_app', 10, 'u1']);
    assert.equal(r.ok, false);
    assert.ok(h.logs.some((l) => /write_data: disk: only .* free on the filesystem of .*uploads\/dev_1_app; an upload of 10 B must leave at least .* free \(REAGENT_DISK_MIN_MIB\)/.test(l)));
    assert.equal(h.link.session !== null, true);
  } finally {
    await studio.close();
    await h.stop();
  }
});
