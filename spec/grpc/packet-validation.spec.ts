// Whatever a gateway sends, the agent classifies it and either handles it,
// closes the session cleanly (ClientSessionClose, exit code 254, a message
// naming the problem) or records and ignores it. It never throws, and every
// packet it sends carries `gateway.session_id`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { encodeConnectionParams, emptyConnectionParams } from '../../adapters/grpc/gob/connection-params.js';
import { packet, type Packet } from '../../adapters/grpc/packet-codec.js';
import { classifyPacket } from '../../adapters/grpc/packet-validation.js';
import { SessionManager } from '../../adapters/grpc/sessions/manager.js';
import { DEFAULT_LIMITS, type SessionRecorder } from '../../adapters/grpc/sessions/types.js';
import { AgentPacket, ClientPacket, GatewayPacket, SpecKey } from '../../adapters/grpc/wire-names.js';
import type { Json } from '../../actors/types.js';
import { removeDirs, tempDir } from '../helpers/gateway-peer.js';

interface Recorded {
  kind: string;
  sid: string | null;
  payload: Json;
}

function manager(tmp: string) {
  const sent: Packet[] = [];
  const recorded: Recorded[] = [];
  const recorder: SessionRecorder = {
    opening: (sid, input) => recorded.push({ kind: 'opening', sid, payload: JSON.parse(JSON.stringify(input)) }),
    record: (sid, { type, ...payload }) => recorded.push({ kind: type, sid, payload: JSON.parse(JSON.stringify(payload)) }),
    closed: (sid, reason, exitCode) => recorded.push({ kind: 'closed', sid, payload: { reason, exitCode } }),
    rejected: (type, sid, reason) => recorded.push({ kind: 'rejected', sid, payload: { type, reason } }),
  };
  const m = new SessionManager({
    sink: { send: (p) => (sent.push(p), true), writable: true, onceWritable: (fn) => fn() },
    gate: { block: () => {}, unblock: () => {} },
    recorder,
    // No real peers here: every dial is refused and no process is ever started.
    dial: () => Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })),
    spawn: () => {
      throw Object.assign(new Error('spawning is disabled in this test'), { code: 'ENOENT' });
    },
    limits: { ...DEFAULT_LIMITS, maxEarlyPackets: 4 },
    agentEnv: { PATH: '/usr/bin', HOOP_KEY: 'grpc://n:Zq9-agent-credential@h:1' },
    envDir: tmp,
  });
  return { m, sent, recorded, handle: (p: Packet) => m.handle(classifyPacket(p)) };
}

const settle = () => new Promise((r) => setImmediate(r));
const sid = (s: string): [string, Buffer] => [SpecKey.GatewaySessionID, Buffer.from(s)];
const closeOf = (p: Packet) => ({ code: p.spec.get(SpecKey.ClientExitCode)?.toString(), message: p.payload.toString() });

test('garbage in agent.connection_params closes that session with 254 and a message', async () => {
  const tmp = tempDir();
  try {
    const h = manager(tmp);
    h.handle(packet(AgentPacket.SessionOpen, [sid('s1'), [SpecKey.AgentConnectionParams, Buffer.from('not gob at all')]]));
    await settle();
    assert.equal(h.sent.length, 1);
    assert.equal(h.sent[0]!.type, ClientPacket.SessionClose);
    assert.equal(h.sent[0]!.spec.get(SpecKey.GatewaySessionID)?.toString(), 's1');
    const c = closeOf(h.sent[0]!);
    assert.equal(c.code, '254');
    assert.match(c.message, /^agent\.connection_params: /);
    assert.deepEqual(h.recorded.map((r) => r.kind), ['opening', 'OPEN_FAILED', 'closed']);
  } finally {
    removeDirs(tmp);
  }
});

test('refusals name the problem: unsupported type, missing HOST, target down, terminal, unknown session', async () => {
  const tmp = tempDir();
  try {
    const h = manager(tmp);
    const open = (s: string, p: Parameters<typeof encodeConnectionParams>[0]) =>
      h.handle(packet(AgentPacket.SessionOpen, [sid(s), [SpecKey.AgentConnectionParams, Buffer.from(encodeConnectionParams({ ...emptyConnectionParams(), ...p }))]]));
    open('ssh', { ConnectionType: 'ssh' });
    open('nohost', { ConnectionType: 'postgres' });
    open('down', { ConnectionType: 'tcp', EnvVars: { 'envvar:HOST': Buffer.from('127.0.0.1').toString('base64'), 'envvar:PORT': Buffer.from('1').toString('base64') } });
    open('nocmd', { ConnectionType: 'command-line' });
    h.handle(packet(AgentPacket.TCPConnectionWrite, [sid('ghost'), [SpecKey.ClientConnectionID, Buffer.from('1')]], Buffer.from('x')));
    await settle();
    const bySid = new Map(h.sent.map((p) => [p.spec.get(SpecKey.GatewaySessionID)!.toString(), closeOf(p)]));
    assert.match(bySid.get('ssh')!.message, /connection type "ssh" is not supported by this agent/);
    assert.match(bySid.get('nohost')!.message, /postgres: the connection has no HOST/);
    assert.match(bySid.get('down')!.message, /cannot connect to 127\.0\.0\.1:1: ECONNREFUSED/);
    assert.match(bySid.get('nocmd')!.message, /no command to run/);
    assert.match(bySid.get('ghost')!.message, /session not found on this agent/);
    for (const c of bySid.values()) assert.equal(c.code, '254');
    assert.ok(h.sent.every((p) => p.type === ClientPacket.SessionClose));
  } finally {
    removeDirs(tmp);
  }
});

test('packets without a usable session id are recorded and ignored: nothing is sent', () => {
  const tmp = tempDir();
  try {
    const h = manager(tmp);
    h.handle(packet(AgentPacket.SessionOpen, [[SpecKey.AgentConnectionParams, Buffer.from('x')]]));
    h.handle(packet(AgentPacket.ExecWriteStdin, [[SpecKey.GatewaySessionID, Buffer.from('has space')]]));
    h.handle(packet('', []));
    h.handle(packet('SysBareExecRequest', [sid('s')]));
    h.handle(packet('SomethingNew', []));
    assert.equal(h.sent.length, 0);
    const reasons = h.recorded.filter((r) => r.kind === 'rejected').map((r) => (r.payload as { reason: string }).reason);
    assert.match(reasons[0]!, /spec "gateway\.session_id" is missing/);
    assert.match(reasons[1]!, /spec "gateway\.session_id": expected 1 to 128 printable ASCII/);
    assert.match(reasons[2]!, /field "type": expected 1 to 128 printable ASCII characters/);
    assert.match(reasons[3]!, /system requests are not supported/);
    assert.match(reasons[4]!, /unknown packet type/);
  } finally {
    removeDirs(tmp);
  }
});

// ---------------------------------------------------------------- fuzz

const KNOWN_TYPES = [
  ...Object.values(AgentPacket),
  GatewayPacket.KeepAlive,
  GatewayPacket.FeatureFlagUpdate,
  'SysBareExecRequest',
  ClientPacket.SessionOpenOK,
];
const SIDS = ['s1', 's2', 's3', '', 'bad sid', 'x'.repeat(200)];
const b64 = (s: string) => Buffer.from(s).toString('base64');

const arbParams = fc
  .record({
    ConnectionType: fc.constantFrom('tcp', 'postgres', 'mysql', 'command-line', 'ssh', 'httpproxy', ''),
    EnvVars: fc.option(
      fc.dictionary(
        fc.constantFrom('envvar:HOST', 'envvar:PORT', 'filesystem:CERT', 'envvar:PASS', 'bogus', 'envvar:X-Y'),
        fc.oneof(fc.constantFrom(b64('127.0.0.1'), b64('5432'), b64('99999'), b64('_aws:x:y'), 'not base64'), fc.string().map(b64)),
        { maxKeys: 4 },
      ),
      { nil: null },
    ),
    CmdList: fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
    ClientArgs: fc.array(fc.string({ maxLength: 10 }), { maxLength: 2 }),
  })
  .map((p) => Buffer.from(encodeConnectionParams({ ...emptyConnectionParams(), ...p })));

const arbSpec = fc
  .record(
    {
      [SpecKey.GatewaySessionID]: fc.constantFrom(...SIDS).map((s) => Buffer.from(s)),
      [SpecKey.ClientConnectionID]: fc.constantFrom('1', '2', '', 'a b').map((s) => Buffer.from(s)),
      [SpecKey.AgentConnectionParams]: fc.oneof(arbParams, fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))),
      [SpecKey.ConnectionType]: fc.constantFrom('tcp', 'command-line', 'postgres').map((s) => Buffer.from(s)),
      [SpecKey.FeatureFlags]: fc.oneof(fc.constant(Buffer.from('{"a":true}')), fc.uint8Array({ maxLength: 10 }).map((a) => Buffer.from(a))),
      [SpecKey.TCPServerConnect]: fc.constant(Buffer.from('1')),
      other: fc.uint8Array({ maxLength: 10 }).map((a) => Buffer.from(a)),
    },
    { requiredKeys: [] },
  )
  .map((r) => new Map(Object.entries(r) as Array<[string, Buffer]>));

const arbPacket: fc.Arbitrary<Packet> = fc.record({
  type: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KNOWN_TYPES) }, { weight: 1, arbitrary: fc.string({ maxLength: 150 }) }),
  spec: arbSpec,
  payload: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
});

const ALLOWED_REPLIES = new Set<string>([ClientPacket.SessionOpenOK, ClientPacket.SessionClose, ClientPacket.TCPConnectionClose, ClientPacket.WriteStdout, ClientPacket.WriteStderr]);

test('property: random packets never crash the agent; every reply is clean and names its session', async () => {
  const tmp = tempDir();
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(arbPacket, { minLength: 1, maxLength: 25 }), async (packets) => {
        const h = manager(tmp);
        for (const p of packets) {
          h.handle(p);
          // Let dials and decodes finish between some packets (chosen by the data, so a failure replays).
          if (p.payload.length % 3 === 0) await settle();
        }
        await settle();
        await settle();
        h.m.closeAll('test over');
        for (const p of h.sent) {
          assert.ok(ALLOWED_REPLIES.has(p.type), `unexpected reply ${p.type}`);
          const s = p.spec.get(SpecKey.GatewaySessionID);
          assert.ok(s && s.length > 0 && s.length <= 128, 'every reply carries gateway.session_id');
          if (p.type === ClientPacket.SessionClose) {
            assert.match(p.spec.get(SpecKey.ClientExitCode)?.toString() ?? '', /^\d+$/);
            assert.ok(p.payload.length > 0, 'a refusal says why');
          }
        }
        assert.equal(h.m.size, 0);
        // Journal payloads are JSON, and the agent's own credential never reaches them.
        assert.ok(!JSON.stringify(h.recorded).includes('Zq9-agent-credential'));
      }),
      { numRuns: 300 },
    );
    assert.deepEqual(readdirSync(tmp), [], 'filesystem: env files are removed with their session');
  } finally {
    removeDirs(tmp);
  }
});
