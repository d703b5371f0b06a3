// The development gateway behaves as hoop's gateway does towards an agent:
// origin required, bearer tokens (x-agt and DSN) checked, one live stream
// per agent, AgentGatewayConnectOK then GatewayFeatureFlagUpdate, session
// packets without `gateway.session_id` dropped; and it opens sessions with
// the gob-encoded parameters hoop's gateway sends. Raw grpc-js clients play
// the agent here, so nothing of ours on the agent side is assumed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client, credentials, Metadata, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { decodeConnectionParams } from '../../adapters/grpc/gob/connection-params.js';
import { decodeEmpty, decodeHealthCheckResponse, decodePacket, encodeEmpty, encodePacket, packet, type Packet } from '../../adapters/grpc/packet-codec.js';
import { AgentPacket, ClientPacket, GatewayPacket, SpecKey, TransportMethod } from '../../adapters/grpc/wire-names.js';
import { openSession, SessionError } from '../../gateway/client.js';
import { AgentStore } from '../../gateway/agents.js';
import { adminHeaders, clientEndpoint, removeDirs, startDevGateway, tempDir, waitUntil } from '../helpers/gateway-peer.js';

interface RawStream {
  call: ClientDuplexStream<Packet, Packet>;
  packets: Packet[];
  error: Promise<ServiceError | null>;
  close(): void;
}

function rawAgent(port: number, md: Record<string, string>): RawStream {
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  const call = client.makeBidiStreamRequest<Packet, Packet>(TransportMethod.Connect, encodePacket, decodePacket, metadata, {});
  const packets: Packet[] = [];
  call.on('data', (p: Packet) => packets.push(p));
  const error = new Promise<ServiceError | null>((resolve) => {
    call.on('error', (e: ServiceError) => resolve(e));
    call.on('status', (s: { code: number }) => s.code === 0 && resolve(null));
  });
  return {
    call,
    packets,
    error,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

async function post(gw: { api: string; adminToken: string }, path: string, body: unknown, method = 'POST') {
  const res = await fetch(`${gw.api}${path}`, { method, headers: adminHeaders(gw), body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the development gateway, towards agents', () => {
  let gw: Awaited<ReturnType<typeof startDevGateway>>;
  let dsn: string;
  const streams: RawStream[] = [];
  const agent = (md: Record<string, string>) => {
    const s = rawAgent(gw.port, md);
    streams.push(s);
    return s;
  };

  before(async () => {
    gw = await startDevGateway({ offlineWaitMs: 300 });
    dsn = (await post(gw, '/api/agents', { name: 'raw' })).body['token'] as string;
  });
  after(async () => {
    for (const s of streams) s.close();
    await gw?.stop();
  });

  it('answers HealthCheck without authentication', async () => {
    const client = new Client(`127.0.0.1:${gw.port}`, credentials.createInsecure());
    const res = await new Promise<{ status: string }>((resolve, reject) =>
      client.makeUnaryRequest(TransportMethod.HealthCheck, encodeEmpty, decodeHealthCheckResponse, {}, (e, v) => (e ? reject(e) : resolve(v!))),
    );
    client.close();
    assert.deepEqual(res, { status: 'OK' });
    void decodeEmpty;
  });

  it('requires the origin metadata: InvalidArgument "missing client origin"', async () => {
    const e = await agent({ authorization: `Bearer ${dsn}` }).error;
    assert.deepEqual([e?.code, e?.details], [3, 'missing client origin']);
  });

  it('refuses unknown tokens, malformed bearers and a DSN whose name is not its agent: Unauthenticated "invalid authentication"', async () => {
    const other = (await post(gw, '/api/agents', { name: 'other' })).body['token'] as string;
    const secretOfOther = /:(xagt-[^@]+)@/.exec(other)![1]!;
    const cases = [
      `Bearer x-agt-${randomUUID()}`,
      `Bearer ${dsn.replace(/xagt-[^@]+@/, 'xagt-nope@')}`,
      `Bearer ${dsn.replace(/xagt-[^@]+@/, `${secretOfOther}@`)}`,
      `bearer ${dsn}`,
      `Bearer`,
      `Bearer a.b.c`,
    ];
    for (const authorization of cases) {
      const e = await agent({ authorization, origin: 'agent' }).error;
      assert.deepEqual([e?.code, e?.details], [16, 'invalid authentication'], authorization.slice(0, 20));
    }
  });

  it('accepts a DSN agent: AgentGatewayConnectOK, then GatewayFeatureFlagUpdate; a second stream gets FailedPrecondition', async () => {
    const first = agent({ authorization: `Bearer ${dsn}`, origin: 'agent', version: '1.2.3', hostname: 'box' });
    await waitUntil(() => first.packets.length >= 2, 3000, 'the welcome packets');
    assert.equal(first.packets[0]!.type, AgentPacket.GatewayConnectOK);
    assert.equal(first.packets[1]!.type, GatewayPacket.FeatureFlagUpdate);
    assert.deepEqual(JSON.parse(first.packets[1]!.spec.get(SpecKey.FeatureFlags)!.toString()), {});
    assert.deepEqual(gw.gateway.router.status('raw').metadata, { hostname: 'box', version: '1.2.3' });
    const second = await agent({ authorization: `Bearer ${dsn}`, origin: 'agent' }).error;
    assert.deepEqual([second?.code, second?.details], [9, 'agent already connected']);
    first.close();
    await waitUntil(() => !gw.gateway.router.status('raw').connected, 3000, 'the agent to be marked offline');
  });

  it('opens sessions with the gob parameters hoop sends, and drops agent packets without gateway.session_id', async () => {
    const token = `x-agt-${randomUUID()}`;
    assert.equal((await post(gw, '/api/agents', { name: 'legacy', token })).status, 201);
    const a = agent({ authorization: `Bearer ${token}`, origin: 'agent', version: '9.9.9' });
    await waitUntil(() => a.packets.length >= 2, 3000, 'the welcome packets');
    const opening = openSession(clientEndpoint(gw), 'legacy', { type: 'tcp', host: 'db.internal', port: 5432 });
    await waitUntil(() => a.packets.some((p) => p.type === AgentPacket.SessionOpen), 3000, 'AgentSessionOpen');
    const open = a.packets.find((p) => p.type === AgentPacket.SessionOpen)!;
    const sid = open.spec.get(SpecKey.GatewaySessionID)!.toString();
    assert.match(sid, /^[0-9a-f-]{36}$/);
    assert.equal(open.spec.get(SpecKey.ConnectionType)?.toString(), 'tcp');
    const params = decodeConnectionParams(open.spec.get(SpecKey.AgentConnectionParams)!);
    assert.ok(params.ok, params.ok ? '' : params.error);
    assert.equal(params.value.ConnectionType, 'tcp');
    assert.deepEqual(params.value.EnvVars, { 'envvar:HOST': Buffer.from('db.internal').toString('base64'), 'envvar:PORT': Buffer.from('5432').toString('base64') });
    assert.equal(params.value.ClientOrigin, 'client');

    a.call.write(packet(ClientPacket.SessionOpenOK, [[SpecKey.GatewaySessionID, Buffer.from(sid)]]));
    const session = await opening;
    assert.equal(session.sid, sid);
    const received: Packet[] = [];
    session.onPacket((p) => received.push(p));
    a.call.write(packet(ClientPacket.TCPConnectionWrite, [[SpecKey.ClientConnectionID, Buffer.from('1')]], Buffer.from('no session id: dropped')));
    a.call.write(packet(ClientPacket.TCPConnectionWrite, [[SpecKey.GatewaySessionID, Buffer.from(sid)], [SpecKey.ClientConnectionID, Buffer.from('1')]], Buffer.from('delivered')));
    await waitUntil(() => received.length >= 1, 3000, 'the delivered packet');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(received.map((p) => p.payload.toString()), ['delivered']);
    assert.match(gw.log.text(), /dropped an agent packet: missing session id spec/);

    // The client's packets reach the agent stamped with the session id, whatever the client claimed.
    session.send(AgentPacket.TCPConnectionWrite, [[SpecKey.ClientConnectionID, Buffer.from('1')], [SpecKey.GatewaySessionID, Buffer.from('forged')]], Buffer.from('hi'));
    await waitUntil(() => a.packets.some((p) => p.type === AgentPacket.TCPConnectionWrite), 3000, 'the forwarded write');
    assert.equal(a.packets.find((p) => p.type === AgentPacket.TCPConnectionWrite)!.spec.get(SpecKey.GatewaySessionID)!.toString(), sid);

    // ClientSessionClose from the agent ends the client's session with its exit code.
    const ended = new Promise<[number, string]>((r) => session.onEnd((c, m) => r([c, m])));
    a.call.write(packet(ClientPacket.SessionClose, [[SpecKey.GatewaySessionID, Buffer.from(sid)], [SpecKey.ClientExitCode, Buffer.from('3')]], Buffer.from('bye')));
    assert.deepEqual(await ended, [3, 'bye']);
    a.close();
  });

  it('tells a client when the agent is offline, after waiting for it', async () => {
    await assert.rejects(
      openSession(clientEndpoint(gw), 'nobody', { type: 'command-line', command: ['true'] }),
      (e: unknown) => e instanceof SessionError && /agent nobody is offline/.test(e.message),
    );
  });

  it('refuses a token-less agent by default; --allow-local-agent accepts one from this machine as agent "local", with a warning', async () => {
    const refused = await agent({ origin: 'agent' }).error;
    assert.deepEqual([refused?.code, refused?.details], [16, 'invalid authentication']);
    assert.ok(!gw.gateway.router.status('local').connected);
    const lax = await startDevGateway({ anonymousLocal: true });
    try {
      const s = rawAgent(lax.port, { origin: 'agent' });
      await waitUntil(() => s.packets.length >= 1, 3000, 'the local agent to be accepted');
      assert.ok(lax.gateway.router.status('local').connected);
      assert.match(lax.log.text(), /accepted an agent without a token as agent \\"local\\" \(--allow-local-agent\)/);
      s.close();
    } finally {
      await lax.stop();
    }
  });
});

describe('the development gateway HTTP API', () => {
  let gw: Awaited<ReturnType<typeof startDevGateway>>;
  let dataDir: string;

  before(async () => {
    dataDir = tempDir();
    gw = await startDevGateway({ dataDir });
  });
  after(async () => {
    await gw?.stop();
    removeDirs(dataDir);
  });

  it('registers legacy tokens as the webapp did, refusing duplicates and malformed tokens', async () => {
    const token = `x-agt-${randomUUID()}`;
    assert.equal((await post(gw, '/api/agents', { name: 'web', token })).status, 201);
    assert.equal((await post(gw, '/api/agents', { name: 'web', token: `x-agt-${randomUUID()}` })).status, 409);
    assert.equal((await post(gw, '/api/agents', { name: 'web2', token })).status, 409);
    const bad = await post(gw, '/api/agents', { name: 'web3', token: 'x-agt-not-a-uuid' });
    assert.deepEqual([bad.status, bad.body['message']], [400, 'token: expected x-agt-<uuid>']);
    assert.equal((await post(gw, '/api/agents', { name: 'bad name!', token: `x-agt-${randomUUID()}` })).status, 400);
  });

  it('creates DSN agents pointing at the gateway, and only keeps the sha256 of their secret', async () => {
    const created = await post(gw, '/api/agents', { name: 'dsn1', mode: 'embedded' });
    assert.equal(created.status, 201);
    const dsn = created.body['token'] as string;
    assert.match(dsn, new RegExp(`^grpc://dsn1:xagt-[A-Za-z0-9_-]{43}@127\\.0\\.0\\.1:${gw.port}\\?mode=embedded$`));
    assert.equal((await post(gw, '/api/agents', { name: 'dsn2', mode: 'turbo' })).status, 400);
    const file = join(dataDir, 'agents.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const stored = readFileSync(file, 'utf8');
    assert.ok(!stored.includes(/:(xagt-[^@]+)@/.exec(dsn)![1]!), 'the secret is not stored');
    // A restarted gateway on the same data dir knows its agents.
    assert.ok(new AgentStore(dataDir).byName('dsn1'));
  });

  it('PUT sets or replaces a token (auto registration); GET lists agents with their status', async () => {
    const first = await post(gw, '/api/agents/auto', { token: `x-agt-${randomUUID()}`, org: 'acme' }, 'PUT');
    const again = await post(gw, '/api/agents/auto', { token: `x-agt-${randomUUID()}`, org: 'acme' }, 'PUT');
    assert.deepEqual([first.status, again.status, first.body['id']], [200, 200, again.body['id']]);
    const list = (await (await fetch(`${gw.api}/api/agents`, { headers: adminHeaders(gw) })).json()) as Array<{ name: string; connected: boolean; org: string | null }>;
    assert.deepEqual(list.find((a) => a.name === 'auto'), { ...list.find((a) => a.name === 'auto')!, connected: false, org: 'acme' });
  });

  it('serves the registration page, escaped, and registers through its form (CSRF token and admin token)', async () => {
    const token = `x-agt-${randomUUID()}`;
    const page = await fetch(`${gw.api}/agents/new/${token}`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.ok(html.includes(token));
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
    assert.ok(csrf, html);
    const evil = await (await fetch(`${gw.api}/agents/new/%3Cscript%3E`)).text();
    assert.ok(!evil.includes('<script>') && evil.includes('&lt;script&gt;'));
    const form = await fetch(`${gw.api}/agents/new/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ name: 'from-form', csrf, admin_token: gw.adminToken }).toString(),
    });
    assert.equal(form.status, 201);
    assert.ok(gw.gateway.store.byName('from-form'));
    assert.equal((await fetch(`${gw.api}/nope`)).status, 404);
  });
});
