// Generated payloads thrown at every device procedure over the real router:
// whatever arrives, the answer is a result or a WAMP error, the daemon does
// not crash, and the link stays the same session.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { proc, sessionState, startHarness, until, type Harness } from './helpers/harness.js';
import { callOutcome } from './helpers/wamp-peer.js';
import { SYSTEM_USER } from './helpers/harness.js';

const PROCEDURES = [
  'request_app_state', 'write_data', 'device_handshake', 'get_images', 'prune_images', 'list_containers',
  'get_app_log_history', 'query_app_logs', 'query_device_logs', 'execute_cmd', 'get_storage_data',
  'get_agent_metadata', 'get_ipv4_addresses', 'get_network_metadata', 'list_ethernet_devices',
  'system_reboot', 'system_shutdown', 'system_restart_agent', 'wamp_connection_established',
  'list_wifi_networks', 'scan_wifi_networks', 'add_wifi_configuration', 'remove_wifi_configuration', 'select_wifi_network',
  'restart_wifi', 'update_ipv4_config',
];

const nearlyValid = fc.record(
  {
    containerName: fc.oneof(fc.constantFrom('prod_1_app', 'dev_2_x', '', '../x', 'a/b'), fc.jsonValue()),
    tail: fc.oneof(fc.integer({ min: -5, max: 10_000 }), fc.jsonValue()),
    offset: fc.jsonValue(),
    since: fc.oneof(fc.constantFrom('5m', '2024-01-01T00:00:00Z', '1700000000', 'nope'), fc.jsonValue()),
    until: fc.jsonValue(),
    level: fc.oneof(fc.constantFrom('info', 'warn', 'LOUD'), fc.jsonValue()),
    all: fc.jsonValue(),
    cmd: fc.oneof(fc.constantFrom('uptime', ''), fc.jsonValue()),
    blocking: fc.jsonValue(),
    args: fc.jsonValue(),
    timeout: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.jsonValue()),
    ssid: fc.oneof(fc.constantFrom('HomeNet', '', 'x'.repeat(33)), fc.jsonValue()),
    password: fc.oneof(fc.constantFrom('', 'short', 'long-enough-pass'), fc.jsonValue()),
    priority: fc.oneof(fc.integer({ min: -1, max: 1200 }), fc.jsonValue()),
    mac: fc.oneof(fc.constantFrom('00:11:22:33:44:55', '', 'zz'), fc.jsonValue()),
    security: fc.oneof(fc.constantFrom('wpa-psk', 'none', 'wpa-eap'), fc.jsonValue()),
    method: fc.oneof(fc.constantFrom('auto', 'manual'), fc.jsonValue()),
    interfaceName: fc.oneof(fc.constantFrom('eth0', ''), fc.jsonValue()),
    ipv4: fc.oneof(fc.constantFrom('10.0.0.2', '300.1.1.1'), fc.jsonValue()),
    prefix: fc.oneof(fc.integer({ min: -1, max: 40 }), fc.jsonValue()),
  },
  { requiredKeys: [] },
);

const requestLike = fc.record(
  {
    app_key: fc.oneof(fc.nat(), fc.jsonValue()),
    app_name: fc.oneof(fc.constantFrom('app', 'a.b', '-x', ''), fc.jsonValue()),
    stage: fc.oneof(fc.constantFrom('DEV', 'PROD'), fc.jsonValue()),
    target_state: fc.oneof(fc.constantFrom('RUNNING', 'PRESENT', 'REMOVED', 'BOGUS'), fc.jsonValue()),
    docker_credentials: fc.jsonValue(),
    environment: fc.jsonValue(),
    request_update: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

const writeArgs = fc.tuple(
  fc.oneof(fc.constantFrom('BEGIN', 'END', 'abcd', 'zz', ''), fc.jsonValue()),
  fc.oneof(fc.constantFrom('f.tgz', '../f', 'a/b'), fc.jsonValue()),
  fc.oneof(fc.constantFrom('dev_1_app', '/x'), fc.jsonValue()),
  fc.oneof(fc.nat(), fc.jsonValue()),
  fc.oneof(fc.constantFrom('t1', 't2'), fc.jsonValue()),
);

const arbCall = fc.record({
  name: fc.constantFrom(...PROCEDURES),
  args: fc.oneof(fc.array(fc.jsonValue(), { maxLength: 4 }), nearlyValid.map((o) => [o]), writeArgs.map((t) => [...t])),
  kwargs: fc.oneof(fc.constant({}), fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue(), { maxKeys: 4 }), requestLike),
  asSystem: fc.boolean(),
});

let h: Harness;
before(async () => {
  h = await startHarness();
  h.recordingApps!.containers = ['prod_1_app'];
  await until(() => JSON.stringify(sessionState(h.daemon)).includes('online'), 15_000, 'online');
});
after(async () => {
  await h?.stop();
});

test('property: every procedure answers any payload with a result or a WAMP error, and the link stays up', async () => {
  const studio = (await h.studio()).session;
  const system = (await h.studio(SYSTEM_USER)).session;
  const wampSession = h.link.session?.id;
  const seen = new Map<string, { ok: number; errors: Set<string> }>();
  await fc.assert(
    fc.asyncProperty(arbCall, async ({ name, args, kwargs, asSystem }) => {
      const o = await callOutcome(asSystem ? system : studio, proc(name), args, kwargs);
      const tally = seen.get(name) ?? { ok: 0, errors: new Set<string>() };
      seen.set(name, tally);
      if (o.ok) tally.ok++;
      else {
        assert.match(o.error, /^wamp\.error\.[a-z_]+$/, `${name}: error URI`);
        // fox-wamp carries the callee's error URI in args[0]; it must be one of ours.
        if (o.error === 'wamp.error.callee_failure') {
          assert.ok(['wamp.error.invalid_argument', 'wamp.error.not_authorized', 'wamp.error.canceled'].includes(String(o.args[0])), `${name}: ${String(o.args[0])}`);
          tally.errors.add(String(o.args[0]));
        } else tally.errors.add(o.error);
      }
    }),
    { numRuns: 600 },
  );
  assert.equal(h.link.session?.id, wampSession, 'no reconnect happened');
  assert.match(JSON.stringify(sessionState(h.daemon)), /online/);
  assert.ok(!h.logs.some((l) => /"msg":"(actor failed|command failed)"/.test(l)), 'no actor or command failed');
  assert.ok([...seen.values()].some((t) => t.errors.has('wamp.error.invalid_argument')), 'bad payloads were rejected');
  assert.ok([...seen.values()].some((t) => t.ok > 0), 'good payloads were answered');
  assert.equal(h.system.actions.every((a) => ['reboot', 'shutdown', 'restart-agent'].includes(a)), true, 'power went to the recording adapter');
});
