// What a gateway (or whoever speaks for it) can make the agent hold: a
// bounded number of sessions, bounded bytes waiting for sessions to open,
// bounded connections per session; `filesystem:` files of a killed run are
// removed at the next start; and a packet whose handling throws refuses
// that session (exit code 254), is logged, and leaves the agent running.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { encodeConnectionParams, emptyConnectionParams, type AgentConnectionParams } from '../../adapters/grpc/gob/connection-params.js';
import { packet, type Packet } from '../../adapters/grpc/packet-codec.js';
import { classifyPacket } from '../../adapters/grpc/packet-validation.js';
import { envFileDir, prepareEnvFileDir } from '../../adapters/grpc/sessions/env.js';
import { SessionManager } from '../../adapters/grpc/sessions/manager.js';
import { dialTcp } from '../../adapters/grpc/sessions/dial.js';
import { DEFAULT_LIMITS, type Dialer, type SessionLimits } from '../../adapters/grpc/sessions/types.js';
import { AgentPacket, ClientPacket, SpecKey } from '../../adapters/grpc/wire-names.js';
import { openSession, PortForward, runExec } from '../../gateway/client.js';
import { PassThrough } from 'node:stream';
import { connect } from 'node:net';
import { clientEndpoint, createDsnAgent, removeDirs, startDevGateway, startEchoServer, startLink, tempDir, waitUntil, type LinkHarness } from '../helpers/gateway-peer.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const sidSpec = (s: string): [string, Buffer] => [SpecKey.GatewaySessionID, Buffer.from(s)];

function harness(limits: Partial<SessionLimits>, dial: Dialer, envDir: string | null = null) {
  const sent: Packet[] = [];
  const rejected: string[] = [];
  const m = new SessionManager({
    sink: { send: (p) => (sent.push(p), true), writable: true, onceWritable: (fn) => fn() },
    gate: { block: () => {}, unblock: () => {} },
    recorder: { opening: () => {}, record: () => {}, closed: () => {}, rejected: (_t, _s, reason) => rejected.push(reason) },
    dial,
    spawn: () => {
      throw new Error('no processes in this test');
    },
    limits: { ...DEFAULT_LIMITS, ...limits },
    agentEnv: {},
    envDir,
  });
  const handle = (p: Packet) => m.handle(classifyPacket(p));
  const openTcp = (sid: string, port = 5432, extra: Partial<AgentConnectionParams> = {}) =>
    handle(
      packet(AgentPacket.SessionOpen, [
        sidSpec(sid),
        [
          SpecKey.AgentConnectionParams,
          Buffer.from(encodeConnectionParams({ ...emptyConnectionParams(), ConnectionType: 'tcp', EnvVars: { 'envvar:HOST': b64('127.0.0.1'), 'envvar:PORT': b64(String(port)) }, ...extra })),
        ],
      ]),
    );
  const write = (sid: string, conn: string, bytes: number) => handle(packet(AgentPacket.TCPConnectionWrite, [sidSpec(sid), [SpecKey.ClientConnectionID, Buffer.from(conn)]], Buffer.alloc(bytes, 1)));
  const closes = () =>
    sent
      .filter((p) => p.type === ClientPacket.SessionClose)
      .map((p) => ({ sid: p.spec.get(SpecKey.GatewaySessionID)!.toString(), code: p.spec.get(SpecKey.ClientExitCode)?.toString(), message: p.payload.toString() }));
  return { m, sent, rejected, handle, openTcp, write, closes };
}

/** Dials that never finish: the sessions stay "opening" for as long as the test needs. */
const hangingDial: Dialer = () => new Promise<Socket>(() => {});
const settle = () => new Promise((r) => setImmediate(r));

describe('session bounds', () => {
  it('refuses the session over the limit with 254 and a reason, and takes new ones once others end', async () => {
    const h = harness({ maxSessions: 2 }, hangingDial);
    h.openTcp('a');
    h.openTcp('b');
    h.openTcp('c');
    await settle();
    assert.deepEqual(h.closes(), [{ sid: 'c', code: '254', message: 'too many sessions: this agent runs at most 2 at once' }]);
    assert.equal(h.m.size, 2);
    h.handle(packet(AgentPacket.SessionClose, [sidSpec('a')]));
    h.openTcp('d');
    await settle();
    assert.equal(h.m.size, 2);
    assert.equal(h.closes().length, 1, 'd was taken');
  });

  it('bounds the bytes waiting for a session to open, per session and over all sessions', async () => {
    const h = harness({ maxEarlyBytes: 1000, maxEarlyBytesTotal: 1500, maxEarlyPackets: 100 }, hangingDial);
    h.openTcp('a');
    h.write('a', '1', 600);
    h.write('a', '1', 300);
    await settle();
    assert.deepEqual(h.closes(), []);
    h.write('a', '1', 200);
    assert.deepEqual(h.closes(), [{ sid: 'a', code: '254', message: 'too many bytes before the session was open (at most 1000)' }]);

    // a's bytes were released with it: b and c share the total.
    h.openTcp('b');
    h.openTcp('c');
    h.write('b', '1', 900);
    h.write('c', '1', 500);
    h.write('c', '1', 200);
    assert.deepEqual(h.closes().slice(1), [{ sid: 'c', code: '254', message: 'too many bytes waiting for sessions to open on this agent (at most 1500)' }]);
    h.handle(packet(AgentPacket.SessionClose, [sidSpec('b')]));
    h.openTcp('d');
    h.write('d', '1', 1000);
    assert.equal(h.closes().length, 2, 'closing b gave its bytes back');
  });

  it('bounds the packets waiting for a session to open', async () => {
    const h = harness({ maxEarlyPackets: 3 }, hangingDial);
    h.openTcp('a');
    for (let i = 0; i < 4; i++) h.write('a', '1', 1);
    assert.deepEqual(h.closes(), [{ sid: 'a', code: '254', message: 'too many packets before the session was open (at most 3)' }]);
  });

  it('bounds the connections of one TCP session; the one over the limit is closed with a reason', async () => {
    const echo = await startEchoServer();
    try {
      const h = harness({ maxConnectionsPerSession: 2 }, dialTcp);
      h.openTcp('s', echo.port);
      await waitUntil(() => h.sent.some((p) => p.type === ClientPacket.SessionOpenOK), 3000, 'the session to open');
      for (const id of ['1', '2', '3']) h.write('s', id, 10);
      const closed = h.sent.filter((p) => p.type === ClientPacket.TCPConnectionClose);
      assert.equal(closed.length, 1);
      assert.equal(closed[0]!.spec.get(SpecKey.ClientConnectionID)?.toString(), '3');
      assert.match(closed[0]!.payload.toString(), /too many connections in this session \(at most 2 at once\)/);
      await waitUntil(() => echo.connections() >= 3, 3000, 'two relayed connections plus the liveness check');
      assert.equal(echo.connections(), 3);
      h.m.stop('test over');
    } finally {
      await echo.stop();
    }
  });

  it('the default limits are bounded and sane', () => {
    assert.equal(DEFAULT_LIMITS.maxSessions, 128);
    assert.ok(DEFAULT_LIMITS.maxEarlyBytes <= DEFAULT_LIMITS.maxEarlyBytesTotal);
    assert.ok(DEFAULT_LIMITS.maxEarlyBytesTotal <= 64 * 1024 * 1024);
  });
});

describe('filesystem: session files', () => {
  const dirs: string[] = [];
  after(() => removeDirs(...dirs));

  it('go to a 0700 directory of this agent dir; what an earlier run left there is removed, nothing else', () => {
    const base = tempDir();
    dirs.push(base);
    const dir = envFileDir(base, '/opt/reagent');
    assert.equal(dir, envFileDir(base, '/opt/reagent/'), 'one directory per agent dir');
    assert.notEqual(dir, envFileDir(base, '/opt/other'));
    assert.equal(prepareEnvFileDir(dir), 0);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const leftovers = [0, 1, 2].map(() => join(dir, `${randomUUID()}.envfs`));
    for (const f of leftovers) writeFileSync(f, 'secret', { mode: 0o600 });
    writeFileSync(join(dir, 'keep-me.txt'), 'not ours');
    assert.equal(prepareEnvFileDir(dir), 3);
    assert.deepEqual(readdirSync(dir), ['keep-me.txt']);

    const elsewhere = join(base, 'elsewhere');
    mkdirSync(elsewhere);
    const link = join(base, 'linked');
    symlinkSync(elsewhere, link);
    assert.throws(() => prepareEnvFileDir(link), /not a directory \(a link\?\)/);
  });

  it('a session writes its file there, and the link removes leftovers when it starts', async () => {
    const base = tempDir();
    const agentDir = tempDir();
    dirs.push(base, agentDir);
    const dir = envFileDir(base, agentDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const leftover = join(dir, `${randomUUID()}.envfs`);
    writeFileSync(leftover, 'from a killed run', { mode: 0o600 });
    const gw = await startDevGateway();
    const h = await startLink({ HOOP_KEY: await createDsnAgent(gw, 'files') }, { home: agentDir, tmpdir: base });
    try {
      assert.ok(!existsSync(leftover), 'removed at start');
      assert.match(h.log.text(), /removed 1 session file\(s\) left by an earlier run/);
      const fileOpen = (sid: string) =>
        packet(AgentPacket.SessionOpen, [
          sidSpec(sid),
          [SpecKey.AgentConnectionParams, Buffer.from(encodeConnectionParams({ ...emptyConnectionParams(), ConnectionType: 'command-line', CmdList: ['cat'], EnvVars: { 'filesystem:KEY': b64('x') } }))],
        ]);
      const withDir = harness({}, hangingDial, dir);
      withDir.handle(fileOpen('g'));
      await settle();
      const written = readdirSync(dir).filter((f) => f.endsWith('.envfs'));
      assert.equal(written.length, 1);
      assert.equal(statSync(join(dir, written[0]!)).mode & 0o777, 0o600);
      withDir.handle(packet(AgentPacket.SessionClose, [sidSpec('g')]));
      assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.envfs')), [], 'removed when the session ends');

      // Without a private directory, filesystem: values are refused rather than written to the shared temp dir.
      const noDir = harness({}, hangingDial, null);
      noDir.handle(fileOpen('f'));
      await settle();
      assert.match(noDir.closes()[0]!.message, /filesystem:KEY": this agent has no private directory for session files/);
    } finally {
      await h.stop();
      await gw.stop();
    }
  });
});

describe('a packet handler that throws', () => {
  let gw: Awaited<ReturnType<typeof startDevGateway>>;
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let h: LinkHarness;
  const dirs: string[] = [];
  let dials = 0;
  let throwOnDial = false;

  before(async () => {
    gw = await startDevGateway();
    echo = await startEchoServer();
    const home = tempDir();
    dirs.push(home);
    // The liveness check at open dials normally; the relay's own dial then throws synchronously, as a bug would.
    const dial: Dialer = (host, port, timeoutMs) => {
      dials++;
      if (throwOnDial) throw new TypeError('a bug in the dialer');
      throwOnDial = true;
      return dialTcp(host, port, timeoutMs);
    };
    h = await startLink({ HOOP_KEY: await createDsnAgent(gw, 'fragile') }, { home, dial });
    await h.waitConnected();
  });
  after(async () => {
    await h?.stop();
    await gw?.stop();
    await echo?.stop();
    removeDirs(...dirs);
  });

  it('refuses that session with ClientSessionClose 254, logs it, and the agent stays connected and serves the next session', async () => {
    const session = await openSession(clientEndpoint(gw), 'fragile', { type: 'tcp', host: '127.0.0.1', port: echo.port });
    const ended = new Promise<[number, string]>((resolve) => session.onEnd((code, message) => resolve([code, message])));
    const forward = new PortForward(session);
    const port = await forward.listen('127.0.0.1', 0);
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.write('hello');
    const [code, message] = await ended;
    forward.shutdown();
    s.destroy();
    assert.equal(code, 254);
    assert.match(message, /internal error while handling AgentTCPConnectionWrite: a bug in the dialer/);
    assert.equal(dials, 2);
    assert.match(h.log.text(), /"level":"error".*refused a packet from the gateway: internal error while handling AgentTCPConnectionWrite: a bug in the dialer/);
    assert.equal(h.state(), '{"connected":"alive"}', 'the stream is still up');

    const exec = await openSession(clientEndpoint(gw), 'fragile', { type: 'command-line', command: ['echo', 'still here'] });
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    const result = await runExec(exec, { stdin: null, stdout, stderr: new PassThrough() });
    assert.deepEqual([result.code, out], [0, 'still here\n']);
  });
});
