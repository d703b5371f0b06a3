// The gateway link's connection lifecycle on the shared statechart: what it
// sends when it connects, what counts as connected, keep-alives, and how
// each way of losing the stream is retried. A scripted grpc-js peer (same
// service definition as the development gateway) plays hoop's gateway where
// the test needs to misbehave on purpose; the development gateway where not.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createServer, Socket, type Server as NetServer } from 'node:net';
import os from 'node:os';
import { Server, ServerCredentials, status, type Metadata, type ServerDuplexStream } from '@grpc/grpc-js';
import { backoffDelay } from '../../machines/backoff.js';
import { GATEWAY_POLICY, WEB_REGISTER, DEFAULT_KEEPALIVE, KEEPALIVE_PACKET_MS } from '../../adapters/grpc/gateway-link.js';
import { goPlatform } from '../../adapters/grpc/metadata.js';
import { packet, type Packet } from '../../adapters/grpc/packet-codec.js';
import { AgentPacket, ClientPacket, GatewayPacket, SpecKey } from '../../adapters/grpc/wire-names.js';
import { transportService } from '../../gateway/service.js';
import { createDsnAgent, removeDirs, startDevGateway, startLink, tempDir, waitUntil, type LinkHarness } from '../helpers/gateway-peer.js';

type Call = ServerDuplexStream<Packet, Packet>;

/** A gateway that does what each test tells it for each stream. */
async function scriptedPeer() {
  const calls: Array<{ call: Call; metadata: Metadata; received: Packet[] }> = [];
  let script: (call: Call, index: number) => void = (call) => call.write(packet(AgentPacket.GatewayConnectOK));
  const server = new Server();
  server.addService(transportService, {
    Connect: (call: Call) => {
      const entry = { call, metadata: call.metadata, received: [] as Packet[] };
      calls.push(entry);
      call.on('data', (p: Packet) => entry.received.push(p));
      call.on('error', () => {});
      script(call, calls.length - 1);
    },
    HealthCheck: (_c: unknown, done: (e: null, r: { status: string }) => void) => done(null, { status: 'OK' }),
    PreConnect: (_c: unknown, done: (e: null, r: { status: string; message: string }) => void) => done(null, { status: 'BACKOFF', message: '' }),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return {
    port,
    calls,
    script: (fn: typeof script) => {
      script = fn;
    },
    stop: () => new Promise<void>((r) => server.tryShutdown(() => r())),
    force: () => server.forceShutdown(),
  };
}

const fastPolicy = { connectTimeoutMs: 3000, pingIntervalMs: 0, resetAfterMs: 60_000, backoff: { initialMs: 100, maxMs: 400, multiplier: 2, jitter: 0.2 } };
const dsnFor = (port: number) => `grpc://agent-one:xagt-secret-for-tests@127.0.0.1:${port}?mode=standard`;

describe('hoop defaults', () => {
  it('backs off 2, 4, 8, 8 s (minus at most 20% jitter), resets after 60 s connected, dials for 15 s', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(GATEWAY_POLICY.backoff, n, 0)), [2000, 4000, 8000, 8000, 8000]);
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(GATEWAY_POLICY.backoff, n, 0.999999)), [1600, 3200, 6400, 6400]);
    assert.equal(GATEWAY_POLICY.resetAfterMs, 60_000);
    assert.equal(GATEWAY_POLICY.connectTimeoutMs, 15_000);
    assert.equal(KEEPALIVE_PACKET_MS, 10_000);
    assert.deepEqual(WEB_REGISTER, { intervalMs: 7000, maxAttempts: 30 });
    assert.ok(DEFAULT_KEEPALIVE.timeMs > 0, 'HTTP/2 keepalive is on by default');
  });
});

describe('the link against a scripted gateway', () => {
  let peer: Awaited<ReturnType<typeof scriptedPeer>>;
  const dirs: string[] = [];
  const links: LinkHarness[] = [];
  const link = async (extra: Partial<Parameters<typeof startLink>[1]> = {}) => {
    const home = tempDir();
    dirs.push(home);
    const h = await startLink({ HOOP_KEY: dsnFor(peer.port) }, { home, policy: fastPolicy, ...extra });
    links.push(h);
    return h;
  };

  before(async () => {
    peer = await scriptedPeer();
  });
  after(async () => {
    for (const l of links) await l.stop();
    peer.force();
    removeDirs(...dirs);
  });

  it("sends hoop's Connect metadata: bearer token, origin, version, platform, hostname, machine-id, kernel-version, user agent", async () => {
    peer.script((call) => call.write(packet(AgentPacket.GatewayConnectOK)));
    const h = await link();
    await h.waitConnected();
    const md = peer.calls.at(-1)!.metadata;
    const get = (k: string) => String(md.get(k)[0] ?? '');
    assert.equal(get('authorization'), `Bearer ${dsnFor(peer.port)}`);
    assert.equal(get('origin'), 'agent');
    assert.equal(get('version'), '0.0.0-test');
    assert.equal(get('platform'), goPlatform());
    assert.match(get('platform'), /^(linux|darwin|windows)\/(amd64|arm64|arm|386)$/);
    assert.equal(get('hostname'), os.hostname());
    assert.equal(md.get('machine-id').length, 1, 'machine-id is sent, empty when unreadable');
    assert.ok(get('kernel-version').includes(os.release()));
    assert.match(get('user-agent'), /^hoopagent\/0\.0\.0-test reagent\/0\.0\.0-test grpc-node-js\//);
    assert.ok(!h.log.text().includes('xagt-secret-for-tests'));
    await h.stop();
  });

  it('is connected only once AgentGatewayConnectOK arrives; earlier packets are recorded and ignored', async () => {
    let release: () => void = () => {};
    peer.script((call) => {
      call.write(packet(ClientPacket.WriteStdout, [[SpecKey.GatewaySessionID, Buffer.from('early')]], Buffer.from('too soon')));
      release = () => call.write(packet(AgentPacket.GatewayConnectOK));
    });
    const h = await link();
    await waitUntil(() => h.journal.records.some((r) => r.type === 'PACKET_REJECTED'), 3000, 'the early packet to be recorded');
    assert.equal(h.state(), '"connecting"');
    release();
    await h.waitConnected();
    await h.stop();
  });

  it('sends GatewayKeepAlive on its interval once connected, without a session id', async () => {
    peer.script((call) => call.write(packet(AgentPacket.GatewayConnectOK)));
    const h = await link({ keepAlivePacketMs: 50 });
    await h.waitConnected();
    const entry = peer.calls.at(-1)!;
    await waitUntil(() => entry.received.filter((p) => p.type === GatewayPacket.KeepAlive).length >= 3, 3000, 'three keep-alives');
    for (const p of entry.received) assert.equal(p.spec.size, 0);
    await h.stop();
  });

  it('CANCELLED from the gateway means reconnect at once, without backoff', async () => {
    peer.script((call, i) => {
      call.write(packet(AgentPacket.GatewayConnectOK));
      if (i === peer.calls.length - 1 && !cancelledOnce) {
        cancelledOnce = true;
        setTimeout(() => call.emit('error', { code: status.CANCELLED, details: 'gateway cancelled the stream' }), 50);
      }
    });
    let cancelledOnce = false;
    const before = peer.calls.length;
    const h = await link();
    await waitUntil(() => peer.calls.length >= before + 2, 3000, 'the reconnect');
    const i = h.journal.records.findIndex((r) => r.type === 'DISCONNECTED');
    assert.ok(i >= 0);
    const d = h.journal.records[i]!;
    assert.deepEqual([(d.payload as { code: string }).code, (d.payload as { retryNow: boolean }).retryNow, d.state], ['CANCELLED', true, '"connecting"']);
    await h.waitConnected();
    await h.stop();
  });

  it('a stream the gateway ends (EOF) or fails is retried after a backoff within the policy', async () => {
    peer.script((call) => {
      call.write(packet(AgentPacket.GatewayConnectOK));
      setTimeout(() => call.end(), 30);
    });
    const h = await link();
    await waitUntil(() => h.journal.records.filter((r) => r.type === 'DISCONNECTED').length >= 3, 5000, 'three disconnects');
    const delays = h.journal.records.filter((r) => r.type === 'DISCONNECTED').map((r) => r.state);
    assert.ok(delays.every((s) => s === '"backoff"'));
    assert.match(h.log.text(), /disconnected from 127\.0\.0\.1:\d+, reason=OK: .*, retrying in 0\.\ds/);
    await h.stop();
  });
});

describe('the link against the development gateway', () => {
  let gw: Awaited<ReturnType<typeof startDevGateway>>;
  const dirs: string[] = [];
  before(async () => {
    gw = await startDevGateway();
  });
  after(async () => {
    await gw?.stop();
    removeDirs(...dirs);
  });
  const link = async (env: NodeJS.ProcessEnv, extra: Partial<Parameters<typeof startLink>[1]> = {}) => {
    const home = tempDir();
    dirs.push(home);
    return startLink(env, { home, policy: fastPolicy, ...extra });
  };

  it('Unauthenticated is said clearly and retried with growing delays, never given up', async () => {
    const good = await createDsnAgent(gw, 'unauth');
    const h = await link({ HOOP_KEY: good.replace(/xagt-[^@]+@/, 'xagt-wrong@') });
    await waitUntil(() => h.journal.records.filter((r) => r.type === 'CONNECT_FAILED').length >= 4, 8000, 'four refusals');
    const failed = h.journal.records.filter((r) => r.type === 'CONNECT_FAILED');
    assert.ok(failed.every((r) => (r.payload as { code: string }).code === 'UNAUTHENTICATED'));
    assert.match(h.log.text(), /"level":"error".*unauthenticated: the gateway at 127\.0\.0\.1:\d+ refused this agent's credentials \(check HOOP_KEY\); retrying in/);
    const backoffs = h.log.lines.filter((l) => l.includes('unauthenticated')).map((l) => (JSON.parse(l) as { backoff: number }).backoff);
    assert.ok(backoffs.every((b) => b >= 80 && b <= 400), `delays within the policy: ${backoffs.join(', ')}`);
    assert.ok(backoffs.at(-1)! > backoffs[0]!, 'the delay grows');
    await h.stop();
  });

  it('"agent already connected" is explained and retried until the other stream goes away', async () => {
    const dsn = await createDsnAgent(gw, 'twice');
    const first = await link({ HOOP_KEY: dsn });
    await first.waitConnected();
    const second = await link({ HOOP_KEY: dsn });
    await waitUntil(() => /the gateway says this agent is already connected/.test(second.log.text()), 5000, 'the explanation');
    assert.ok(second.journal.records.some((r) => r.type === 'CONNECT_FAILED' && (r.payload as { code: string }).code === 'FAILED_PRECONDITION'));
    await first.stop();
    await second.waitConnected();
    await second.stop();
  });

  it('HTTP/2 keepalive notices a link that silently stops carrying bytes', async () => {
    const dsn = await createDsnAgent(gw, 'blackholed');
    const proxy = await blackholeProxy(gw.port);
    const h = await link({ HOOP_KEY: dsn.replace(`:${gw.port}?`, `:${proxy.port}?`) }, { keepalive: { timeMs: 300, timeoutMs: 300 } });
    await h.waitConnected();
    proxy.blackhole();
    await waitUntil(() => h.journal.records.some((r) => r.type === 'DISCONNECTED'), 10_000, `the dead link to be noticed; log:\n${h.log.text()}`);
    const d = h.journal.records.find((r) => r.type === 'DISCONNECTED')!;
    assert.equal((d.payload as { code: string }).code, 'UNAVAILABLE');
    await h.stop();
    await proxy.stop();
  });
});

/** A TCP proxy that can stop forwarding without closing anything: a cable pulled somewhere else. */
async function blackholeProxy(targetPort: number): Promise<{ port: number; blackhole: () => void; stop: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let dead = false;
  const server: NetServer = createServer((client) => {
    const upstream = new Socket();
    upstream.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
    }
    client.on('data', (d: Buffer) => dead || upstream.write(d));
    upstream.on('data', (d: Buffer) => dead || client.write(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    blackhole: () => {
      dead = true;
    },
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
