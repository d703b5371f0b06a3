// fast-check generators for the daemon fuzz test: WAMP call payloads and raw
// WAMP frames as JSON *text* (so they can be nested deeper than
// JSON.stringify allows), and hoop transport packets.
import fc from 'fast-check';
import { encodeConnectionParams, emptyConnectionParams } from '../../../adapters/grpc/gob/connection-params.js';
import type { WirePacket } from './hostile-gateway.js';

/** A JSON text nested `depth` levels deep around `leaf`, lists with an object every third level. */
export function deepText(depth: number, leaf = '0'): string {
  const opens: string[] = [];
  const closes: string[] = [];
  for (let i = 0; i < depth; i++) {
    const object = i % 3 === 2;
    opens.push(object ? '{"password":"p","n":' : '[');
    closes.push(object ? '}' : ']');
  }
  return `${opens.join('')}${leaf}${closes.reverse().join('')}`;
}

const text = (v: unknown) => JSON.stringify(v);

/** Names a caller might use that mean something to our validators or the redactor. */
const KEYS = ['app_key', 'app_name', 'stage', 'target_state', 'environment', 'environment_template', 'docker_compose', 'ports', 'docker_credentials', 'containerName', 'tail', 'offset', 'since', 'until', 'level', 'cmd', 'args', 'blocking', 'timeout', 'all', 'password', 'token', 'session', 'pin', '__proto__', 'constructor', 'toString'];

const odd = fc.constantFrom('1e308', '-0', '9007199254740993', '-1', '0.5', 'true', 'null', '""', '"\\u0000"', '"\\ud800"', '[]', '{}', '"../../etc/passwd"', '"DEV"', '"PROD"', '"RUNNING"', '"BEGIN"', '"END"', '"abcd"');

/**
 * One JSON value as text: ordinary, deep (up to `maxDepth`), big, or odd. Big
 * and deep values are rare so that thousands of frames stay a few hundred MiB.
 */
export function jsonText(opts: { maxDepth: number }): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 30, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(text) },
    { weight: 15, arbitrary: odd },
    { weight: 3, arbitrary: fc.integer({ min: 32, max: 400 }).map((d) => deepText(d)) },
    { weight: 1, arbitrary: fc.integer({ min: 400, max: opts.maxDepth }).map((d) => deepText(d)) },
    { weight: 1, arbitrary: fc.integer({ min: 4 * 1024, max: 256 * 1024 }).map((n) => text('x'.repeat(n))) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => `[${'7,'.repeat(n)}7]`) },
    { weight: 6, arbitrary: fc.dictionary(fc.constantFrom(...KEYS), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 }).map(text) },
  );
}

/** An object text with the keys our validators read, holding values of any type. */
function shapedObject(valueText: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.array(fc.tuple(fc.constantFrom(...KEYS), valueText), { maxLength: 8 }).map((pairs) => `{${pairs.map(([k, v]) => `${text(k)}:${v}`).join(',')}}`);
}

export interface CallText {
  args: string;
  kwargs: string;
}

/** CALL arguments for any procedure: mostly well-typed containers of wrong things, sometimes not even that. */
export function callText(opts: { maxDepth: number }): fc.Arbitrary<CallText> {
  const value = jsonText(opts);
  const list = fc.array(fc.oneof(value, shapedObject(value)), { maxLength: 5 }).map((items) => `[${items.join(',')}]`);
  const dict = fc.oneof({ weight: 3, arbitrary: fc.constant('{}') }, { weight: 3, arbitrary: shapedObject(value) }, { weight: 1, arbitrary: value });
  const writeData = fc
    .tuple(fc.oneof(fc.constantFrom('"BEGIN"', '"END"', '"zz"', '"abcd"'), value), fc.oneof(fc.constantFrom('"app.tgz"', '"../x"', '".hidden"'), value), fc.oneof(fc.constantFrom('"dev_1_app"', '"prod_2_x"'), value), value, fc.oneof(fc.nat(20).map(String), value))
    .map((a) => `[${a.join(',')}]`);
  return fc.record({ args: fc.oneof({ weight: 5, arbitrary: list }, { weight: 2, arbitrary: writeData }, { weight: 1, arbitrary: value }), kwargs: dict });
}

/** A raw frame for a hostile router to write to the agent's WebSocket. */
export function rawFrame(registrations: readonly number[]): fc.Arbitrary<string | { binary: string }> {
  const id = fc.oneof(fc.nat(50).map(String), fc.constantFrom('-1', '1.5', '"7"', 'null', '9007199254740993', '{}'));
  const reg = registrations.length > 0 ? fc.oneof(fc.constantFrom(...registrations.map(String)), id) : id;
  // GOODBYE (6) and ABORT (3) are left out: they end the session, as they should.
  const type = fc.constantFrom(2, 4, 8, 16, 17, 32, 33, 35, 36, 48, 50, 65, 67, 68, 69, 70, 99, -1);
  const anyValue = jsonText({ maxDepth: 5000 });
  return fc.oneof(
    { weight: 80, arbitrary: fc.tuple(type, fc.array(fc.oneof(id, anyValue), { maxLength: 6 })).map(([t, rest]) => `[${[String(t), ...rest].join(',')}]`) },
    { weight: 80, arbitrary: fc.tuple(fc.nat(1_000_000), reg, fc.oneof(fc.constant('{"caller_authid":"1001"}'), anyValue), anyValue, anyValue).map(([r, g, d, a, k]) => `[68,${r + 1},${g},${d},[${a}],{"x":${k}}]`) },
    // Deeper than any router would forward: 1 frame in ~200.
    { weight: 1, arbitrary: fc.integer({ min: 10_000, max: 200_000 }).map((d) => `[68,1,${registrations[0] ?? 1},{},[${deepText(d)}]]`) },
    { weight: 20, arbitrary: fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('{"a":1}', '"str"', '42', '[', ']]]', '')) },
    { weight: 20, arbitrary: fc.uint8Array({ maxLength: 512 }).map((b) => ({ binary: Buffer.from(b).toString('base64') })) },
  );
}

const AGENT_TYPES = [
  'AgentGatewayConnectOK', 'AgentSessionOpen', 'AgentSessionClose', 'AgentExecWriteStdin', 'AgentTerminalWriteStdin', 'AgentTerminalResizeTTY',
  'AgentTerminalClose', 'AgentCloseTCPConnection', 'AgentTCPConnectionWrite', 'AgentPGConnectionWrite', 'AgentMySQLConnectionWrite',
  'AgentMSSQLConnectionWrite', 'AgentMongoDBConnectionWrite', 'AgentSSHConnectionWrite', 'GatewayKeepAlive', 'GatewayFeatureFlagUpdate',
  'SysBareExecRequest', 'SysRunbookHookRequestType', 'ClientSessionOpenOK',
];

export interface PacketContext {
  /** A TCP echo server on loopback that valid sessions may dial. */
  echoPort: number;
  /** A loopback port with nothing listening. */
  closedPort: number;
}

/** A gateway packet: known and unknown types, random specs and sizes, gob garbage in agent.connection_params. */
export function gatewayPacket(ctx: PacketContext): fc.Arbitrary<WirePacket> {
  const sid = fc.oneof(fc.constantFrom('s1', 's2', 's3', 's4', 's5'), fc.string({ maxLength: 200 }), fc.uuid());
  const payload = fc.oneof(
    { weight: 400, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)) },
    { weight: 10, arbitrary: fc.integer({ min: 4096, max: 1024 * 1024 }).map((n) => Buffer.alloc(n, 0x61)) },
    { weight: 1, arbitrary: fc.integer({ min: 2 * 1024 * 1024, max: 8 * 1024 * 1024 }).map((n) => Buffer.alloc(n, 0x62)) },
  );
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const validParams = fc.constantFrom(ctx.echoPort, ctx.closedPort).map((port) =>
    Buffer.from(encodeConnectionParams({ ...emptyConnectionParams(), ConnectionType: 'tcp', EnvVars: { 'envvar:HOST': b64('127.0.0.1'), 'envvar:PORT': b64(String(port)) } })),
  );
  const params = fc.oneof(
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)) },
    { weight: 2, arbitrary: fc.tuple(validParams, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 })).map(([v, flips]) => {
      const b = Buffer.from(v);
      for (const [at, byte] of flips) b[at % b.length] = byte;
      return b;
    }) },
    { weight: 2, arbitrary: validParams },
  );
  const extraSpec = fc.dictionary(
    fc.oneof(fc.constantFrom('client.connection_id', 'gateway.connection_type', 'tcp.server_connect', 'terminal.args', 'client.request_port', 'feature-flags'), fc.string({ maxLength: 300 })),
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    { maxKeys: 6 },
  );
  const open = fc.record({ sid, params, extra: extraSpec }).map(({ sid: s, params: p, extra }) => ({
    type: 'AgentSessionOpen',
    // Never exec: a connection type is always given, and never "command-line".
    spec: { ...extra, 'gateway.session_id': Buffer.from(s), 'gateway.connection_type': Buffer.from('tcp'), 'agent.connection_params': p },
    payload: Buffer.alloc(0),
  }));
  const other = fc.record({
    type: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...AGENT_TYPES.filter((t) => t !== 'AgentSessionOpen')) }, { weight: 1, arbitrary: fc.string({ maxLength: 200 }) }),
    sid,
    extra: extraSpec,
    payload,
  }).map(({ type, sid: s, extra, payload: p }) => ({ type, spec: { ...extra, 'gateway.session_id': Buffer.from(s) }, payload: p }));
  return fc.oneof({ weight: 1, arbitrary: open }, { weight: 3, arbitrary: other });
}
