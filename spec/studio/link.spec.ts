// The studio link in a real daemon against the real router process (fox-wamp
// with WAMP-CRA) and the backend simulator; the apps side is recorded.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEVICE,
  DEVICE_AUTHID,
  OTHER_USER,
  STUDIO_USER,
  SYSTEM_USER,
  proc,
  sessionState,
  startHarness,
  startPeers,
  until,
  type Harness,
} from './helpers/harness.js';
import { applicationError, callOutcome, type CallOutcome } from './helpers/wamp-peer.js';
import { RecordingApps } from './helpers/recording-apps.js';
import { runReplay } from '../../cli/replay-command.js';
import { builtinMachines } from '../../machines/registry.js';
import { AppId } from '../../machines/app-id.js';

const ok = (o: CallOutcome): { args: unknown[]; kwargs: Record<string, unknown> } => {
  assert.ok(o.ok, `expected a result, got ${JSON.stringify(o)}`);
  return o;
};

describe('a connected device (JSON)', () => {
  let h: Harness;
  let apps: RecordingApps;
  before(async () => {
    h = await startHarness();
    apps = h.recordingApps!;
    apps.containers = ['prod_12_weather', 'dev_3_blink'];
    await h.backend.until(() => h.backend.statuses().includes('CONNECTED'), 15_000, 'status CONNECTED');
    await until(() => JSON.stringify(sessionState(h.daemon)).includes('online'), 5000, 'session online');
  });
  after(async () => {
    await h?.stop();
  });

  test('connects with WAMP-CRA as <swarm_key>-<device_key> and runs the on-connect sequence in order', async () => {
    const order = h.backend.calls.map((c) =>
      c.procedure === 'reswarm.devices.update_device_status' ? `status:${String((c.args[0] as { status: string }).status)}` : c.procedure,
    );
    const first = (name: string) => order.indexOf(name);
    assert.deepEqual(order.slice(0, 7), [
      'wamp.session.add_testament',
      'status:CONFIGURING',
      'reswarm.devices.read_device_metadata',
      'reswarm.devices.update_device_architecture',
      'reswarm.devices.get_app_cred_key',
      'reswarm.containers.get_requested_app_states',
      'status:CONNECTED',
    ]);
    assert.ok(first('wamp.session.add_testament') < first('status:CONFIGURING'));
    for (const c of h.backend.calls) assert.equal(c.caller, DEVICE_AUTHID, `${c.procedure} called by the device's authid`);
    const testament = h.backend.callsTo('wamp.session.add_testament')[0]!;
    assert.equal(testament.args[0], 'reswarm.api.testament_device');
    assert.deepEqual(Object.keys((testament.args[1] as unknown[])[0] as object).sort(), ['device_key', 'serial_number', 'swarm_key', 'wamp_session_id']);
    const status = h.backend.callsTo('reswarm.devices.update_device_status')[0]!.args[0] as Record<string, unknown>;
    assert.equal(status.swarm_key, DEVICE.swarm_key);
    assert.equal(status.device_key, DEVICE.device_key);
    assert.equal(typeof (status.stats as Record<string, unknown>).memory_total, 'number');
    assert.equal(apps.credentialKey, 'app-cred-key-for-tests', 'the app credential key reached the apps link');
    assert.match(JSON.stringify(sessionState(h.daemon)), /online/);
  });

  test('the duplicate-serial guard procedure answers "Hello :-)"', async () => {
    const s = await h.studio();
    assert.deepEqual(ok(await callOutcome(s.session, proc('wamp_connection_established'))).args, ['Hello :-)']);
  });

  test('heartbeats: update_device_status CONNECTED keeps coming', async () => {
    const n = h.backend.statuses().length;
    await h.backend.until(() => h.backend.statuses().length >= n + 2, 10_000, 'two more heartbeats');
    assert.deepEqual(h.backend.statuses().slice(n), ['CONNECTED', 'CONNECTED', ...h.backend.statuses().slice(n + 2)]);
  });

  test('device_handshake, storage, metadata and network procedures answer in the Reagent\'s shapes', async () => {
    const s = (await h.studio()).session;
    const hs = ok(await callOutcome(s, proc('device_handshake')));
    assert.equal(hs.kwargs.id, DEVICE.serial_number);
    assert.ok(Math.abs(Date.parse(String(hs.kwargs.utp)) - Date.now()) < 60_000);
    const storage = ok(await callOutcome(s, proc('get_storage_data'))).args[0] as Record<string, unknown>;
    assert.deepEqual(Object.keys(storage).sort(), [
      'cpu_count', 'cpu_usage', 'docker_apps_free', 'docker_apps_mounted', 'docker_apps_total', 'docker_apps_used',
      'memory_available', 'memory_total', 'memory_used', 'storage_free', 'storage_total', 'storage_used',
    ]);
    const meta = ok(await callOutcome(s, proc('get_agent_metadata'))).args[0] as Record<string, unknown>;
    assert.equal(meta.serialNumber, DEVICE.serial_number);
    assert.equal(meta.version, '0.0.0-test');
    for (const k of ['os', 'arch', 'variant', 'canUpdate', 'OSVersion', 'tunnelCapable', 'latestVersion', 'latestTunnelVersion', 'latestAgentVersion', 'hasLatest']) assert.ok(k in meta, k);
    const ipv4 = ok(await callOutcome(s, proc('get_ipv4_addresses'))).args;
    assert.equal(ipv4.length, 1);
    assert.ok(Array.isArray(ipv4[0]));
    const net = ok(await callOutcome(s, proc('get_network_metadata'))).args as Array<Record<string, unknown>>;
    assert.ok(net.some((a) => a.IP === '127.0.0.1' && a.Mask === Buffer.from([255, 0, 0, 0]).toString('base64')));
    // No NetworkManager was given to this link: the network procedures say so (spec/network/ covers them).
    assert.equal(applicationError(await callOutcome(s, proc('list_ethernet_devices'))), 'wamp.error.canceled');
    assert.ok(h.logs.some((l) => l.includes('device API call rejected: network management unavailable on this device')));
  });

  test('apps and engine procedures go to the apps link with validated payloads', async () => {
    const s = (await h.studio()).session;
    assert.deepEqual(ok(await callOutcome(s, proc('list_containers'))).args.length, 1);
    assert.equal((ok(await callOutcome(s, proc('get_images'))).args[0] as { id: string }).id, 'sha256:abc');
    assert.deepEqual(ok(await callOutcome(s, proc('get_app_log_history'), [{ containerName: 'prod_12_weather' }])).args, [['history of prod_12_weather']]);
    const q = ok(await callOutcome(s, proc('query_app_logs'), [{ containerName: 'prod_12_weather', tail: 9999, since: '10m' }])).args[0] as Record<string, unknown>;
    assert.equal(q.source, 'docker');
    const asked = apps.logQueries.at(-1)!;
    assert.equal(asked.tail, 5000, 'tail is capped at 5000');
    assert.equal(asked.timestamps, true);
    assert.ok(asked.since !== undefined && Math.abs(asked.since - (Date.now() / 1000 - 600)) < 60);
    ok(await callOutcome(s, proc('prune_images'), [{ all: true }]));
    ok(await callOutcome(s, proc('prune_images')));
    assert.deepEqual(apps.prunes.slice(-2), [{ all: true }, { all: false }]);
    ok(await callOutcome(s, proc('request_app_state'), [], { app_key: 12, app_name: 'weather', stage: 'PROD', target_state: 'RUNNING', version: '1.0.0' }));
    const r = apps.requests.at(-1)!;
    assert.equal(r.origin, 'studio');
    assert.deepEqual([r.request.appKey, r.request.stage, r.request.targetState, r.request.version], [12, 'PROD', 'RUNNING', '1.0.0']);
  });

  test('query_device_logs reads the agent\'s own log file', async () => {
    const s = (await h.studio()).session;
    const r = ok(await callOutcome(s, proc('query_device_logs'), [{ tail: 5, level: 'info' }])).args[0] as { lines: string[]; returned: number; files_scanned: number };
    assert.equal(r.files_scanned, 1);
    assert.ok(r.returned > 0 && r.returned <= 5);
    for (const l of r.lines) assert.ok(['info', 'warn', 'error', 'fatal'].includes(JSON.parse(l).level));
    assert.ok(!readFileSync(h.logFile, 'utf8').includes(DEVICE.secret), 'the device secret never reaches the log');
  });

  test('execute_cmd and the power procedures go through the system adapter; nothing really reboots', async () => {
    const s = (await h.studio()).session;
    assert.deepEqual(ok(await callOutcome(s, proc('execute_cmd'), [{ cmd: 'uptime', blocking: true, args: ['-p'] }])).args, ['ran uptime -p']);
    const outputs: unknown[] = [];
    await s.subscribe(`re.mgmt.${DEVICE.serial_number}.cmd_output_4242`, (args?: unknown[]) => void outputs.push(args?.[0]));
    assert.deepEqual(ok(await callOutcome(s, proc('execute_cmd'), [{ cmd: 'sleep', args: ['5'], timeout: 50 }])).args, [{ pid: 4242 }]);
    await until(() => outputs.length === 2, 5000, 'command output published');
    assert.deepEqual(outputs, ['line one', 'line two']);
    for (const name of ['system_reboot', 'system_shutdown', 'system_restart_agent']) ok(await callOutcome(s, proc(name)));
    await until(() => h.system.actions.length === 3, 5000, 'power actions');
    assert.deepEqual(h.system.actions, ['reboot', 'shutdown', 'restart-agent']);
  });

  test('write_data uploads a build archive in hex chunks into the app\'s own <appsDir>/uploads/<containerName>', async () => {
    const s = (await h.studio()).session;
    const data = Buffer.from('tgz bytes '.repeat(100));
    const call = (chunk: string) => callOutcome(s, proc('write_data'), [chunk, 'blink.tgz', 'dev_3_blink', data.length, 'up-1']);
    ok(await call('BEGIN'));
    ok(await call(data.subarray(0, 500).toString('hex')));
    ok(await call(data.subarray(500).toString('hex')));
    ok(await call('END'));
    assert.deepEqual(readFileSync(join(h.agentDir, 'apps', 'uploads', 'dev_3_blink', 'blink.tgz')), data);
    assert.equal(applicationError(await callOutcome(s, proc('write_data'), ['BEGIN', '../evil', 'dev_3_blink', 1, 'x'])), 'wamp.error.invalid_argument');
    // The container name says whose upload it is: it must name an app (stage, key, name).
    for (const container of ['blink', 'pub_3_blink', 'dev__blink', 'dev_3_']) {
      assert.equal(applicationError(await callOutcome(s, proc('write_data'), ['BEGIN', 'blink.tgz', container, 1, 'x'])), 'wamp.error.invalid_argument', container);
    }
  });

  test('every procedure checks the caller\'s privilege, including those the Reagent left unchecked; a denied caller gets not_authorized', async () => {
    const other = (await h.studio(OTHER_USER)).session;
    const before = h.backend.callsTo('reswarm.devices.check_privilege').length;
    for (const name of ['request_app_state', 'execute_cmd', 'get_network_metadata', 'get_ipv4_addresses', 'device_handshake', 'list_containers', 'system_reboot']) {
      const o = await callOutcome(other, proc(name), [{ cmd: 'id', blocking: true }], { app_key: 1, app_name: 'x', stage: 'PROD', target_state: 'RUNNING' });
      assert.equal(applicationError(o), 'wamp.error.not_authorized', name);
    }
    const checks = h.backend.callsTo('reswarm.devices.check_privilege').slice(before);
    assert.equal(checks.length, 7);
    assert.deepEqual(checks[0]!.args[0], { privilege: 'DEVELOP', entity: 'DEVICE', entity_key: DEVICE.device_key, requestor_account_key: OTHER_USER.authid, swarm_key: DEVICE.swarm_key });
    assert.deepEqual(checks.map((c) => (c.args[0] as { privilege: string }).privilege), ['DEVELOP', 'MAINTAIN', 'READ', 'READ', 'READ', 'READ', 'MAINTAIN']);
    assert.equal(h.system.runs.filter((r) => r.cmd === 'id').length, 0, 'the denied command never ran');
  });

  test('"system" (the backend relay) is checked as the requestor it names, and allowed as itself', async () => {
    const system = (await h.studio(SYSTEM_USER)).session;
    const kw = { app_key: 5, app_name: 'relay', stage: 'PROD', target_state: 'PRESENT' };
    ok(await callOutcome(system, proc('request_app_state'), [], kw));
    assert.equal(apps.requests.at(-1)?.request.appKey, 5);
    assert.equal(applicationError(await callOutcome(system, proc('request_app_state'), [], { ...kw, requestor_account_key: OTHER_USER.authid })), 'wamp.error.not_authorized');
    ok(await callOutcome(system, proc('request_app_state'), [], { ...kw, requestor_account_key: STUDIO_USER.authid }));
    ok(await callOutcome(system, proc('get_app_log_history'), [{ containerName: 'prod_12_weather', requestor_account_key: STUDIO_USER.authid }]));
  });

  test('"system" naming its requestor badly is refused with invalid_argument, before any check; account_id is checked like requestor_account_key', async () => {
    const system = (await h.studio(SYSTEM_USER)).session;
    const kw = { app_key: 6, app_name: 'relay2', stage: 'PROD', target_state: 'PRESENT' };
    const checks = () => h.backend.callsTo('reswarm.devices.check_privilege').length;
    const applied = () => apps.requests.filter((r) => r.request.appKey === 6).length;
    const before = checks();
    for (const bad of ['', true, {}, [], -1, 1.5, 'two words']) {
      for (const field of ['requestor_account_key', 'account_id']) {
        assert.equal(applicationError(await callOutcome(system, proc('request_app_state'), [], { ...kw, [field]: bad })), 'wamp.error.invalid_argument', `${field}: ${JSON.stringify(bad)}`);
        assert.equal(applicationError(await callOutcome(system, proc('get_app_log_history'), [{ containerName: 'prod_12_weather', [field]: bad }])), 'wamp.error.invalid_argument', `args[0].${field}: ${JSON.stringify(bad)}`);
      }
    }
    assert.equal(checks(), before, 'a malformed requestor is refused before the backend is asked');
    assert.equal(applied(), 0, 'and nothing was applied');
    // The alias names an account to check, not "the backend itself".
    assert.equal(applicationError(await callOutcome(system, proc('request_app_state'), [], { ...kw, account_id: OTHER_USER.authid })), 'wamp.error.not_authorized');
    assert.equal(applicationError(await callOutcome(system, proc('execute_cmd'), [{ cmd: 'id', blocking: true, account_id: Number(OTHER_USER.authid) }])), 'wamp.error.not_authorized');
    // Two different accounts in one call: which one was meant is not guessed.
    assert.equal(applicationError(await callOutcome(system, proc('request_app_state'), [], { ...kw, requestor_account_key: STUDIO_USER.authid, account_id: OTHER_USER.authid })), 'wamp.error.invalid_argument');
    // Controls: the rightful requestor, through either name, and the backend itself are served.
    ok(await callOutcome(system, proc('request_app_state'), [], { ...kw, account_id: STUDIO_USER.authid }));
    ok(await callOutcome(system, proc('request_app_state'), [], { ...kw, requestor_account_key: null }));
    assert.equal(apps.requests.filter((r) => r.request.appKey === 6).at(0)?.request.requestorAccountKey, Number(STUDIO_USER.authid));
    assert.equal(applied(), 2);
    assert.equal(h.system.runs.filter((r) => r.cmd === 'id').length, 0, 'the denied command never ran');
  });

  test('a privilege check that fails or does not answer denies', async () => {
    const s = (await h.studio()).session;
    h.backend.failures.set('reswarm.devices.check_privilege', 1);
    assert.equal(applicationError(await callOutcome(s, proc('device_handshake'))), 'wamp.error.not_authorized');
    ok(await callOutcome(s, proc('device_handshake')));
  });

  test('malformed payloads get errors naming the field, and the link stays up', async () => {
    const s = (await h.studio()).session;
    const wampSession = h.link.session?.id;
    const bad: Array<[string, unknown[], Record<string, unknown>]> = [
      ['get_app_log_history', [{ containerName: 5 }], {}],
      ['get_app_log_history', ['not an object'], {}],
      ['query_app_logs', [{ containerName: 'prod_12_weather', since: 'yesterday' }], {}],
      ['query_device_logs', [{ level: 'loud' }], {}],
      ['request_app_state', [], { app_key: 'x', app_name: 'a', stage: 'PROD', target_state: 'RUNNING' }],
      ['execute_cmd', [{ cmd: '' }], {}],
      ['prune_images', [{ all: 'yes' }], {}],
      ['write_data', [42], {}],
    ];
    for (const [name, args, kwargs] of bad) assert.equal(applicationError(await callOutcome(s, proc(name), args, kwargs)), 'wamp.error.invalid_argument', name);
    // fox-wamp forwards only the error URI; the message naming the field is in our log (and in Crossbar's ERROR args).
    assert.ok(h.logs.some((l) => l.includes('field \\"args[0].containerName\\": expected a Docker container name')), 'the field is named');
    ok(await callOutcome(s, proc('device_handshake')));
    assert.equal(h.link.session?.id, wampSession, 'same WAMP session: nothing reconnected');
  });

  test('app logs are published only while someone subscribes, with the drop marker', async () => {
    const s = (await h.studio()).session;
    const topic = `reswarm.logs.${DEVICE.serial_number}.prod_12_weather`;
    assert.deepEqual(apps.following(), [], 'nobody listens yet');
    const got: unknown[] = [];
    const sub = await s.subscribe(topic, (args?: unknown[]) => void got.push(args?.[0]));
    await until(() => apps.following().includes('prod_12_weather'), 5000, 'publisher follows the container');
    assert.ok(apps.emit('prod_12_weather', ['line 1', 'line 2'], 3));
    await until(() => got.length === 1, 5000, 'a batch arrives');
    assert.equal(got[0], 'line 1\nline 2\n… 3 log line(s) dropped (rate limit)');
    await s.unsubscribe(sub);
    await until(() => !apps.following().includes('prod_12_weather'), 5000, 'publisher stops following');
    assert.equal(apps.emit('prod_12_weather', ['unseen']), false);
  });

  test('a log subscription that existed before the session is found with wamp.subscription.match', async () => {
    const s = (await h.studio()).session;
    const topic = `reswarm.logs.${DEVICE.serial_number}.dev_3_blink`;
    const got: unknown[] = [];
    await s.subscribe(topic, (args?: unknown[]) => void got.push(args?.[0]));
    await until(() => apps.following().includes('dev_3_blink'), 5000, 'following');
    // Drop the device's session: the next one must find the subscription by asking the router.
    h.link.session!.terminate('test: drop the link');
    await until(() => !apps.following().includes('dev_3_blink'), 5000, 'stopped with the session');
    await until(() => apps.following().includes('dev_3_blink'), 15_000, 'found again after reconnect');
    apps.emit('dev_3_blink', ['after reconnect']);
    await until(() => got.includes('after reconnect'), 5000, 'published again');
  });
});

describe('serializers, credentials and modes', () => {
  test('MessagePack with the PBKDF2-salted WAMP-CRA variant; the recording replays', async () => {
    const h = await startHarness({ salted: true, serializers: ['msgpack'] });
    try {
      await h.backend.until(() => h.backend.statuses().includes('CONNECTED'), 15_000, 'CONNECTED over msgpack');
      assert.ok(h.logs.some((l) => l.includes('"serializer":"msgpack"') && l.includes('studio link connected')));
      const s = (await h.studio()).session;
      assert.equal((await callOutcome(s, proc('device_handshake'))).ok, true);
      await until(() => JSON.stringify(sessionState(h.daemon)).includes('online'), 5000, 'online');
      await h.stopDaemon();
      const out: string[] = [];
      const code = runReplay({ file: join(h.agentDir, 'reagent.db'), json: false }, builtinMachines(), { out: (t) => out.push(t), err: (t) => out.push(t) });
      assert.equal(code, 0, `replay reproduces the studio actors: ${out.join('\n')}`);
    } finally {
      await h.stop();
    }
  });

  test('a router without the subscription meta API: every app log is published, and a warning says why', async () => {
    const apps = new RecordingApps();
    apps.containers = ['prod_1_a', 'prod_2_b'];
    const h = await startHarness({ meta: false, apps });
    try {
      await until(() => apps.following().length === 2, 15_000, 'following every app');
      assert.ok(h.logs.some((l) => l.includes('the router has no subscription meta API')));
    } finally {
      await h.stop();
    }
  });

  test('a wrong secret is reported as an authentication failure and retried with growing backoff; the daemon lives on', async () => {
    const h = await startHarness({ secret: 'not-the-device-secret' });
    try {
      await until(() => h.logs.filter((l) => l.includes("refused the device's WAMP-CRA credentials")).length >= 3, 15_000, 'three refused attempts');
      const refused = h.logs.filter((l) => l.includes("refused the device's WAMP-CRA credentials")).map((l) => JSON.parse(l) as { level: string; retryInMs?: number; attempt: number });
      assert.ok(refused.every((r) => r.level === 'error'));
      assert.deepEqual(refused.slice(0, 3).map((r) => r.attempt), [1, 2, 3]);
      assert.ok(refused[1]!.retryInMs! >= refused[0]!.retryInMs! * 0.9 || refused[1]!.retryInMs === 1000, 'backoff does not shrink');
      assert.equal(h.backend.statuses().length, 0, 'never got in');
      assert.ok(!h.logs.join('').includes('not-the-device-secret'), 'the secret is not logged');
      const conn = h.daemon.system.snapshot('studio:connection') as { value: unknown };
      assert.ok(['backoff', 'connecting'].includes(String(conn.value)));
    } finally {
      await h.stop();
    }
  });

  test('a second agent with the same serial is kept out by the duplicate-serial guard and gives up (exit 1); the first keeps serving', async () => {
    const peers = await startPeers();
    const first = await startHarness({ peers });
    let second: Harness | undefined;
    try {
      await peers.backend.until(() => peers.backend.statuses().includes('CONNECTED'), 15_000, 'first online');
      second = await startHarness({ peers });
      const end = await Promise.race([second.link.finished, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
      assert.ok(end, 'the second link gave up');
      assert.equal(end.exitCode, 1);
      assert.match(end.reason, new RegExp(`another device is connected with serial ${DEVICE.serial_number}`));
      assert.equal(second.logs.filter((l) => l.includes(`a WAMP connection for ${DEVICE.serial_number} already exists`)).length, 8, 'eight refusals');
      const error = second.logs.map((l) => JSON.parse(l) as { level: number | string; msg: string }).find((l) => l.msg.includes('another device is connected'));
      assert.ok(error, 'an error names the cause');
      assert.ok(error.level === 50 || error.level === 'error', `logged as an error (level ${String(error.level)})`);
      await until(() => String((second!.daemon.system.snapshot('studio:connection') as { value: unknown }).value) === 'idle', 5000, 'the second stops connecting');
      assert.equal(JSON.stringify(sessionState(second.daemon)), '"duplicate"');
      const s = (await first.studio()).session;
      assert.equal((await callOutcome(s, proc('device_handshake'))).ok, true);
      assert.match(JSON.stringify(sessionState(first.daemon)), /online/);
    } finally {
      await second?.stop();
      await first.stop();
      await peers.backend.stop();
      await peers.router.stop();
    }
  });

  test('-offline: no connection attempt at all, and app reports are kept in the outbox', async () => {
    const h = await startHarness({ link: { offline: true } });
    try {
      h.daemon.system.spawn(AppId.format('PROD', '12'), 'app', { appKey: '12', appName: 'weather', stage: 'PROD', version: '1.0.0', initial: 'PRESENT', policy: { retry: { initialMs: 1000, maxMs: 1000, multiplier: 1, jitter: 0 }, maxFailures: 1, healthyResetMs: 1000, startTimeoutMs: 1000 } });
      await h.daemon.system.flush();
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(h.link.reports!.pending().map((r) => r.report.state), ['PRESENT']);
      assert.equal(h.backend.calls.length, 0);
      assert.equal(h.daemon.system.has('studio:connection'), false);
      assert.ok(h.logs.some((l) => l.includes('studio link offline (-offline)')));
    } finally {
      await h.stop();
    }
  });

  test('-debugMessaging logs WAMP traffic with the signature and credentials redacted', async () => {
    const h = await startHarness({ link: { debugMessaging: true } });
    try {
      await h.backend.until(() => h.backend.statuses().includes('CONNECTED'), 15_000, 'CONNECTED');
      const s = (await h.studio()).session;
      await callOutcome(s, proc('request_app_state'), [], {
        app_key: 9, app_name: 'creds', stage: 'PROD', target_state: 'PRESENT', docker_credentials: { 'r.example': { username: 'u', password: 'registry-pass-123' } },
      });
      const traffic = h.logs.filter((l) => l.includes('"wamp":'));
      assert.ok(traffic.some((l) => l.includes('AUTHENTICATE') && l.includes('[REDACTED]')));
      assert.ok(traffic.some((l) => l.includes('INVOCATION') && l.includes('request_app_state') === false && l.includes('creds')));
      const all = h.logs.join('');
      assert.ok(!all.includes('registry-pass-123'), 'registry password redacted');
      assert.ok(!all.includes(DEVICE.secret), 'device secret redacted');
    } finally {
      await h.stop();
    }
  });
});

