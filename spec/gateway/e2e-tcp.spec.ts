// End to end, as a user runs it: the built CLI as three processes
// (`reagent gateway`, `reagent start agent`, `reagent connect`) forwarding a
// local port through the agent to a TCP echo server and an HTTP server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { runReagent } from '../helpers/cli.js';
import { cleanEnv, removeDirs, startEchoServer, startGatewayProcess, startHttpServer, startProcess, tempDir, type Proc } from '../helpers/gateway-peer.js';

function echoThrough(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let got = 0;
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= data.length) s.end();
    });
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.write(data);
  });
}

describe('reagent connect through a connected agent', () => {
  const home = tempDir();
  const agentDir = tempDir();
  const procs: Proc[] = [];
  let gateway: Awaited<ReturnType<typeof startGatewayProcess>>;
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let http: Awaited<ReturnType<typeof startHttpServer>>;

  const connectProc = async (targetPort: number) => {
    const p = startProcess(['connect', 'edge-1', '--tcp', `127.0.0.1:${targetPort}`, '--listen', '127.0.0.1:0', '--gateway', gateway.grpc], cleanEnv(home));
    procs.push(p);
    const m = await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
    return Number(m[1]);
  };

  before(async () => {
    echo = await startEchoServer();
    http = await startHttpServer();
    gateway = await startGatewayProcess({ home });
    procs.push(gateway);
    const created = runReagent(['admin', 'create', 'agent', 'edge-1', '--api', gateway.api], cleanEnv(home));
    assert.equal(created.code, 0, created.stderr);
    const dsn = created.stdout.trim();
    assert.match(dsn, /^grpc:\/\/edge-1:xagt-[\w-]+@127\.0\.0\.1:\d+\?mode=standard$/);
    const agent = startProcess(['start', 'agent', '-agentDir', agentDir], cleanEnv(home, { HOOP_KEY: dsn }));
    procs.push(agent);
    await agent.waitFor(/mode=dsn, grpc_server=127\.0\.0\.1:\d+, tls=false - starting agent/);
    await agent.waitFor(/connected with success to the gateway/);
    assert.ok(!agent.output().includes(/:(xagt-[^@]+)@/.exec(dsn)![1]!), 'the agent never prints its secret');
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    await echo?.stop();
    await http?.stop();
    removeDirs(home, agentDir);
  });

  it('echoes bytes through agent and gateway, exactly', async () => {
    const port = await connectProc(echo.port);
    const data = randomBytes(3 * 1024 * 1024);
    const back = await echoThrough(port, data);
    assert.equal(back.length, data.length);
    assert.ok(back.equals(data));
  });

  it('serves HTTP through the forwarded port, keep-alive requests included', async () => {
    const port = await connectProc(http.port);
    for (const path of ['/one', '/two?x=1', '/three']) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-target'), 'reagent-test');
      assert.deepEqual(await res.json(), { path, method: 'GET' });
    }
  });

  it('carries many concurrent connections in one session, each in order', async () => {
    const port = await connectProc(echo.port);
    const before = echo.connections();
    const payloads = Array.from({ length: 48 }, (_, i) => Buffer.concat([Buffer.from(`conn-${i}:`), randomBytes(16 * 1024 + i * 997)]));
    const results = await Promise.all(payloads.map((p) => echoThrough(port, p)));
    results.forEach((r, i) => assert.ok(r.equals(payloads[i]!), `connection ${i} got its own bytes back, in order`));
    // One upstream connection per client connection (the session's liveness check came before).
    assert.equal(echo.connections() - before, payloads.length);
  });
});
