// Sessions through the link, in this process: a TCP relay with several
// connections, an exec, a target that stops reading, and what the journal
// keeps of it all (lifecycle and byte counts, never the bytes).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, createServer, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { openSession, PortForward, runExec } from '../../gateway/client.js';
import { SESSION_ACTOR_PREFIX } from '../../adapters/grpc/gateway-link.js';
import { clientEndpoint, createDsnAgent, removeDirs, startDevGateway, startEchoServer, startLink, tempDir, waitUntil, type LinkHarness } from '../helpers/gateway-peer.js';

function roundTrip(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let got = 0;
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= data.length) {
        s.end();
        resolve(Buffer.concat(chunks));
      }
    });
    s.on('error', reject);
    s.write(data);
  });
}

describe('sessions through the gateway link', () => {
  let gw: Awaited<ReturnType<typeof startDevGateway>>;
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let h: LinkHarness;
  const dirs: string[] = [];
  const endpoint = () => clientEndpoint(gw);

  before(async () => {
    gw = await startDevGateway();
    echo = await startEchoServer();
    const home = tempDir();
    dirs.push(home);
    h = await startLink({ HOOP_KEY: await createDsnAgent(gw, 'relay') }, { home, limits: { highWaterBytes: 64 * 1024, stallMs: 400 } });
    await h.waitConnected();
  });

  after(async () => {
    await h?.stop();
    await gw?.stop();
    await echo?.stop();
    removeDirs(...dirs);
  });

  it('relays TCP connections in order, and journals lifecycle and byte counts but not the bytes', async () => {
    const session = await openSession(endpoint(), 'relay', { type: 'tcp', host: '127.0.0.1', port: echo.port });
    const forward = new PortForward(session);
    const port = await forward.listen('127.0.0.1', 0);
    const marker = 'PAYLOAD-MARKER-7f3a';
    const payloads = [0, 1, 2].map((i) => Buffer.concat([Buffer.from(`${marker}-${i}-`), Buffer.alloc(200_000 + i, i + 1)]));
    const echoed = await Promise.all(payloads.map((p) => roundTrip(port, p)));
    echoed.forEach((e, i) => assert.ok(e.equals(payloads[i]!), `connection ${i} echoed in order`));
    session.close();
    forward.shutdown();

    const actor = `${SESSION_ACTOR_PREFIX}${session.sid}`;
    await waitUntil(() => h.journal.records.some((r) => r.actor === actor && r.type === 'CLOSED'), 3000, 'the session to be closed in the journal');
    await waitUntil(() => h.journal.records.filter((r) => r.actor === actor && r.type === 'CONNECTION_CLOSED').length === 3, 3000, 'three closed connections');
    const records = h.journal.records.filter((r) => r.actor === actor);
    const types = records.map((r) => r.type);
    assert.equal(types[0], '@runtime.spawn');
    assert.equal((records[0]!.payload as { machine: string }).machine, 'gateway-session');
    assert.deepEqual(types.filter((t) => t === 'OPENED' || t === 'CONNECTION_OPENED').length, 4);
    const closed = records.filter((r) => r.type === 'CONNECTION_CLOSED').map((r) => r.payload as { bytesIn: number; bytesOut: number });
    assert.deepEqual(closed.map((c) => c.bytesIn).sort(), payloads.map((p) => p.length).sort());
    assert.deepEqual(closed.map((c) => c.bytesOut).sort(), payloads.map((p) => p.length).sort());
    assert.ok(!JSON.stringify(h.journal.records).includes(marker), 'relayed bytes are not journaled');
    assert.equal(records.at(-1)!.type, '@runtime.stop');
  });

  it('runs an exec with stdin, stdout, stderr and exit code, and journals its exit', async () => {
    const session = await openSession(endpoint(), 'relay', { type: 'command-line', command: ['sh', '-c', 'tr a-z A-Z; echo oops >&2; exit 7'] });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    stdout.on('data', (d: Buffer) => out.push(d));
    stderr.on('data', (d: Buffer) => err.push(d));
    const stdin = new PassThrough();
    stdin.end('hello through the agent\n');
    const result = await runExec(session, { stdin, stdout, stderr });
    assert.equal(result.code, 7);
    assert.equal(Buffer.concat(out).toString(), 'HELLO THROUGH THE AGENT\n');
    assert.equal(Buffer.concat(err).toString(), 'oops\n');
    const actor = `${SESSION_ACTOR_PREFIX}${session.sid}`;
    await waitUntil(() => h.journal.records.some((r) => r.actor === actor && r.type === 'EXEC_EXITED'), 3000, 'the exit in the journal');
    const exited = h.journal.records.find((r) => r.actor === actor && r.type === 'EXEC_EXITED')!.payload as Record<string, number>;
    assert.deepEqual(exited, { exitCode: 7, stdinBytes: 24, stdoutBytes: 24, stderrBytes: 5 });
  });

  it('a target that stops reading loses its connection, with a reason; the session and its other connections go on', async () => {
    const stuck: Socket[] = [];
    let first = true;
    const sink = createServer((s) => {
      s.on('error', () => {});
      // The liveness check's connection comes first and closes at once; then the victim.
      if (stuck.length === 0 && !first) {
        // Reads nothing, ever: the kernel buffers fill, then the agent's.
        s.pause();
        stuck.push(s);
      } else s.pipe(s);
      first = false;
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
    const sinkPort = (sink.address() as { port: number }).port;
    try {
      const session = await openSession(endpoint(), 'relay', { type: 'tcp', host: '127.0.0.1', port: sinkPort });
      const forward = new PortForward(session);
      const port = await forward.listen('127.0.0.1', 0);
      const victim = connect(port, '127.0.0.1');
      victim.on('error', () => {});
      const closed = new Promise<void>((r) => victim.on('close', () => r()));
      const chunk = Buffer.alloc(1024 * 1024, 1);
      const pump = () => {
        while (!victim.destroyed && victim.write(chunk)) {
          /* until the local socket pushes back */
        }
      };
      victim.on('drain', pump);
      pump();
      await closed;
      const actor = `${SESSION_ACTOR_PREFIX}${session.sid}`;
      await waitUntil(() => h.journal.records.some((r) => r.actor === actor && r.type === 'CONNECTION_CLOSED'), 3000, 'the closed connection in the journal');
      const reason = (h.journal.records.find((r) => r.actor === actor && r.type === 'CONNECTION_CLOSED')!.payload as { reason: string }).reason;
      assert.match(reason, /the target stopped reading for 0 s|queue overflow/);
      // Same session, next connection (the sink echoes this one): the stream is flowing again.
      const again = Buffer.from('still flowing');
      assert.ok((await roundTrip(port, again)).equals(again));
      assert.ok(h.state() === '{"connected":"alive"}', 'the link stayed up');
      session.close();
      forward.shutdown();
    } finally {
      for (const s of stuck) s.destroy();
      await new Promise<void>((r) => sink.close(() => r()));
    }
  });
});
