// Regression tests for "uid 65534 listens on the gateway's loopback port
// first and receives a root agent": the squatter is a tiny TCP server run
// as uid 65534 that records every connection and byte. The root agent (the
// built CLI) must refuse it with one line naming the port and uid 65534 and
// send it nothing; a root-owned gateway on the same kind of address is
// accepted. Local mode never sends HOOP_TOKEN, to anyone.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { Server, ServerCredentials, type Metadata, type ServerDuplexStream } from '@grpc/grpc-js';
import { packet, type Packet } from '../../adapters/grpc/packet-codec.js';
import { AgentPacket } from '../../adapters/grpc/wire-names.js';
import { transportService } from '../../gateway/service.js';
import { runReagent } from '../helpers/cli.js';
import {
  adminHeaders,
  cleanEnv,
  closedPort,
  registerLegacyToken,
  removeDirs,
  startGatewayProcess,
  startLink,
  startProcess,
  tempDir,
  waitUntil,
  type LinkHarness,
  type Proc,
} from '../helpers/gateway-peer.js';
import { skipUnlessUnprivileged, startNobodyListener, type NobodyListener } from '../helpers/unprivileged.js';

const refusalLine = (port: number) => new RegExp(`refusing to connect to 127\\.0\\.0\\.1:${port} without TLS: the socket listening there belongs to uid 65534, not root or this process's uid 0`);

function errorLines(output: string, re: RegExp): string[] {
  return output.split('\n').filter((l) => l.includes('"level":"error"') && re.test(l));
}

/** A root-owned gRPC peer that records the metadata of every Connect and accepts it. */
async function recordingGateway() {
  const seen: Metadata[] = [];
  const server = new Server();
  server.addService(transportService, {
    Connect: (call: ServerDuplexStream<Packet, Packet>) => {
      seen.push(call.metadata);
      call.on('error', () => {});
      call.on('data', () => {});
      call.write(packet(AgentPacket.GatewayConnectOK));
    },
    HealthCheck: (_c: unknown, done: (e: null, r: { status: string }) => void) => done(null, { status: 'OK' }),
    PreConnect: (_c: unknown, done: (e: null, r: { status: string; message: string }) => void) => done(null, { status: 'BACKOFF', message: '' }),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, seen, stop: () => server.forceShutdown() };
}

describe('plaintext to a loopback gateway goes only to root or the agent itself', () => {
  const skip = skipUnlessUnprivileged();
  const dirs: string[] = [];
  const procs: Proc[] = [];
  const squatters: NobodyListener[] = [];
  const links: LinkHarness[] = [];
  const dir = () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
  const squat = async () => {
    const s = await startNobodyListener('127.0.0.1');
    squatters.push(s);
    return s;
  };

  after(async () => {
    for (const l of links) await l.stop();
    for (const p of procs.reverse()) await p.stop();
    for (const s of squatters) await s.stop();
    removeDirs(...dirs);
  });

  it('local mode: the root agent refuses a uid 65534 listener with one line, retries, and sends it nothing', { skip }, async () => {
    const squatter = await squat();
    const token = `x-agt-${randomUUID()}`;
    const agent = startProcess(['start', 'agent', '--debug', '-agentDir', dir()], cleanEnv(dir(), { REAGENT_LOCAL_GATEWAY: `127.0.0.1:${squatter.port}`, HOOP_TOKEN: token }));
    procs.push(agent);
    await agent.waitFor(new RegExp(`mode=local, grpc_server=127\\.0\\.0\\.1:${squatter.port}, tls=false - starting agent`));
    await agent.waitFor(refusalLine(squatter.port));
    // The next attempt (hoop's backoff: 2 s) is refused again, quietly (debug), not as another error line.
    await agent.waitFor(new RegExp(`"level":"debug".*${refusalLine(squatter.port).source}`), 15_000);
    assert.equal(errorLines(agent.output(), refusalLine(squatter.port)).length, 1, agent.output());
    assert.equal(squatter.connections(), 0, 'local mode probed the kernel table instead of dialling');
    assert.equal(squatter.received().length, 0);
    assert.ok(!agent.output().includes(token));
    await agent.stop();
  });

  it('HOOP_GRPCURL to a loopback port held by uid 65534: refused, and HOOP_TOKEN never reaches it', { skip }, async () => {
    const squatter = await squat();
    const token = `x-agt-${randomUUID()}`;
    const agent = startProcess(['start', 'agent', '-agentDir', dir()], cleanEnv(dir(), { HOOP_GRPCURL: `127.0.0.1:${squatter.port}`, HOOP_TOKEN: token }));
    procs.push(agent);
    await agent.waitFor(refusalLine(squatter.port));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(squatter.received().length, 0);
    assert.ok(!squatter.received().toString('latin1').includes(token));
    await agent.stop();
  });

  it('reagent exec does not hand the admin token to a uid 65534 listener', { skip }, async () => {
    const squatter = await squat();
    const r = runReagent(['exec', 'runner', '--gateway', `127.0.0.1:${squatter.port}`, '--', 'id'], cleanEnv(dir(), { REAGENT_GATEWAY_TOKEN: `rgw_${'A'.repeat(43)}` }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, refusalLine(squatter.port));
    assert.equal(squatter.connections(), 0);
  });

  it('AUTO_REGISTER does not send the admin token to an API port held by uid 65534', { skip }, async () => {
    const squatter = await squat();
    const admin = `rgw_${'B'.repeat(43)}`;
    const h = await startLink(
      { AUTO_REGISTER: 'acme', API_URL: `http://127.0.0.1:${squatter.port}`, REAGENT_GATEWAY_TOKEN: admin },
      { home: dir(), localGateway: { host: '127.0.0.1', port: await closedPort() }, autoRegisterRetryMs: 60_000 },
    );
    links.push(h);
    await waitUntil(() => h.journal.records.some((r) => r.type === 'REGISTER_FAILED'), 5000, `a refused registration; log:\n${h.log.text()}`);
    const failed = h.journal.records.find((r) => r.type === 'REGISTER_FAILED')!;
    assert.match(JSON.stringify(failed.payload), new RegExp(`127\\.0\\.0\\.1:${squatter.port} without TLS: .*uid 65534`));
    assert.equal(squatter.connections(), 0);
    assert.ok(!h.log.text().includes(admin));
  });

  it('positive control: a root-owned development gateway on a loopback port is accepted in local mode, without the token', async () => {
    const home = dir();
    const port = await closedPort();
    const gw = await startGatewayProcess({ home, listen: `127.0.0.1:${port}`, extra: ['--allow-local-agent'] });
    procs.push(gw);
    const token = `x-agt-${randomUUID()}`;
    await registerLegacyToken(gw, 'token-agent', token);
    const agent = startProcess(['start', 'agent', '-agentDir', dir()], cleanEnv(dir(), { REAGENT_LOCAL_GATEWAY: `127.0.0.1:${port}`, HOOP_TOKEN: token }));
    procs.push(agent);
    await agent.waitFor(/connected with success to the gateway/);
    assert.ok(!/refusing to connect/.test(agent.output()));
    const agents = (await (await fetch(`${gw.api}/api/agents`, { headers: adminHeaders(gw) })).json()) as Array<{ name: string; connected: boolean }>;
    // Had HOOP_TOKEN been sent, the gateway would have taken the agent for token-agent.
    assert.deepEqual(
      agents.map((a) => [a.name, a.connected]).sort(),
      [
        ['local', true],
        ['token-agent', false],
      ],
    );
    await agent.stop();
  });

  it('local mode sends no authorization at all; the env pair does (same root-owned peer)', async () => {
    const peer = await recordingGateway();
    try {
      const local = await startLink({ HOOP_TOKEN: 'x-agt-must-not-travel' }, { home: dir(), gatewayOnly: true, localGateway: { host: '127.0.0.1', port: peer.port } });
      links.push(local);
      await local.waitConnected();
      assert.equal(peer.seen.length, 1);
      assert.deepEqual(peer.seen[0]!.get('authorization'), []);
      assert.deepEqual(peer.seen[0]!.get('origin'), ['agent']);
      const env = await startLink({ HOOP_GRPCURL: `127.0.0.1:${peer.port}`, HOOP_TOKEN: 'x-agt-meant-for-this' }, { home: dir() });
      links.push(env);
      await env.waitConnected();
      assert.deepEqual(peer.seen[1]!.get('authorization'), ['Bearer x-agt-meant-for-this']);
    } finally {
      peer.stop();
    }
  });
});
