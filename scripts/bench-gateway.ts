// Gateway link throughput and footprint, each next to a baseline measured in
// the same run on the same machine:
//   - a direct loopback TCP copy (the ceiling);
//   - a raw grpc-js bidi stream of Packets between two processes (the
//     transport the agent cannot beat);
//   - bulk TCP through `reagent connect` -> `reagent gateway` -> `reagent
//     start agent` -> a sink (the built CLI as three processes: two gRPC hops
//     and two TCP hops);
//   - resident memory per open relayed connection, agent and gateway.
// Needs `npm run build` (dist/).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LIMITS } from '../adapters/grpc/sessions/types.js';

const MAIN = new URL('../dist/cli/main.cjs', import.meta.url).pathname;
const SERVICE = new URL('../dist/gateway/service.js', import.meta.url).href;
const CODEC = new URL('../dist/adapters/grpc/packet-codec.js', import.meta.url).href;
const ROOT = new URL('..', import.meta.url).pathname;
const CHUNK = 64 * 1024;

export interface GatewayBench {
  bytes: number;
  tcpMiBps: number;
  grpcMiBps: number;
  agentMiBps: number;
  /** agent throughput / raw gRPC stream throughput. */
  ratio: number;
  connections: number;
  agentKiBPerConnection: number;
  gatewayKiBPerConnection: number;
  /** CPU time each process spent during the measured run through the agent. */
  cpuSeconds: Record<string, number>;
  /** CPU milliseconds per relayed MiB: the raw stream (sender + receiver) and the relay (every process). */
  rawCpuMsPerMiB: number;
  relayCpuMsPerMiB: number;
}

interface Proc {
  child: ChildProcess;
  out: () => string;
  waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  stop(): Promise<void>;
}

function start(args: string[], env: NodeJS.ProcessEnv, node: string[] = [MAIN]): Proc {
  // The repository root as cwd: the raw peer (`node -e`) resolves @grpc/grpc-js from there.
  const child = spawn(process.execPath, [...node, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    out: () => out,
    waitFor(re, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const t0 = Date.now();
        const poll = setInterval(() => {
          const m = re.exec(out);
          if (m) {
            clearInterval(poll);
            resolve(m);
          } else if (Date.now() - t0 > ms || child.exitCode !== null) {
            clearInterval(poll);
            reject(new Error(`waiting for ${re}:\n${out}`));
          }
        }, 20);
      });
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** A TCP server that counts what it receives and reports when `expect` bytes arrived. */
async function sink(): Promise<{ server: Server; port: number; until: (expect: number) => Promise<number> }> {
  let received = 0;
  let waiter: { expect: number; resolve: (t: number) => void } | null = null;
  const server = createServer((s) => {
    s.on('data', (d: Buffer) => {
      received += d.length;
      if (waiter && received >= waiter.expect) {
        const w = waiter;
        waiter = null;
        w.resolve(performance.now());
      }
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    server,
    port: (server.address() as { port: number }).port,
    until: (expect) =>
      new Promise((resolve) => {
        received = 0;
        waiter = { expect, resolve };
      }),
  };
}

/** Writes `bytes` into a TCP connection as fast as it takes them; resolves when the sink has them all. */
async function pushThrough(port: number, bytes: number, done: Promise<number>): Promise<number> {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const chunk = Buffer.alloc(CHUNK, 0x5a);
  const t0 = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      resolve();
    };
    pump();
  });
  const t1 = await done;
  socket.destroy();
  return bytes / (1024 * 1024) / ((t1 - t0) / 1000);
}

/** A raw Connect stream between this process and a child: Packets of 64 KiB, counted by the server. */
const RAW_PEER = `
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { transportService } from '${SERVICE}';
const server = new Server({ 'grpc.max_receive_message_length': 17 * 1024 * 1024 });
server.addService(transportService, {
  Connect: (call) => {
    let n = 0;
    call.on('data', (p) => { n += p.payload.length; if (n >= Number(process.env.EXPECT)) { call.write({ type: 'done', spec: new Map(), payload: Buffer.alloc(0) }); n = 0; } });
    call.on('end', () => call.end());
  },
  HealthCheck: (_c, cb) => cb(null, { status: 'OK' }),
  PreConnect: (_c, cb) => cb(null, { status: 'BACKOFF', message: '' }),
});
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, port) => {
  // The same 2 MiB windows the development gateway and the agent use, so the baseline is tuned alike.
  for (const h of server.http2Servers.keys()) h.on('session', (s) => { s.settings({ initialWindowSize: 2 * 1024 * 1024 }); s.once('connect', () => s.setLocalWindowSize(2 * 1024 * 1024)); });
  console.log('port=' + port);
});
`;

async function rawGrpc(bytes: number, env: NodeJS.ProcessEnv): Promise<{ mibps: number; cpuSeconds: number }> {
  const peer = start(['--input-type=module', '-e', RAW_PEER], { ...env, EXPECT: String(bytes) }, []);
  try {
    const port = Number((await peer.waitFor(/port=(\d+)/))[1]);
    const grpc = await import('@grpc/grpc-js');
    const { encodePacket, decodePacket } = (await import(CODEC)) as typeof import('../adapters/grpc/packet-codec.js');
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 17 * 1024 * 1024,
      'grpc-node.flow_control_window': 2 * 1024 * 1024,
    });
    const call = client.makeBidiStreamRequest('/protobuf.Transport/Connect', encodePacket, decodePacket, new grpc.Metadata(), {});
    call.on('error', () => {});
    const done = new Promise<number>((r) => call.once('data', () => r(performance.now())));
    const spec = new Map([
      ['gateway.session_id', Buffer.from('00000000-0000-4000-8000-000000000000')],
      ['client.connection_id', Buffer.from('1')],
    ]);
    const payload = Buffer.alloc(CHUNK, 0x5a);
    const peerCpu0 = cpuSeconds(peer.child.pid!);
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    let sent = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (sent < bytes) {
          sent += payload.length;
          if (!call.write({ type: 'AgentTCPConnectionWrite', spec, payload })) return void call.once('drain', pump);
        }
        resolve();
      };
      pump();
    });
    const t1 = await done;
    const self = process.cpuUsage(self0);
    const cpu = cpuSeconds(peer.child.pid!) - peerCpu0 + (self.user + self.system) / 1e6;
    call.end();
    client.close();
    return { mibps: bytes / (1024 * 1024) / ((t1 - t0) / 1000), cpuSeconds: cpu };
  } finally {
    await peer.stop();
  }
}

export async function benchGateway(opts: { quick?: boolean } = {}): Promise<GatewayBench> {
  const bytes = (opts.quick ? 64 : 256) * 1024 * 1024;
  // Within the agent's cap on connections per session (sessions/types.ts): the
  // 257th of the 400 this measured before the cap was refused, and the bench waited forever.
  const connections = opts.quick ? 100 : Math.min(400, DEFAULT_LIMITS.maxConnectionsPerSession);
  const home = mkdtempSync(join(tmpdir(), 'reagent-bench-gw-'));
  const agentDir = mkdtempSync(join(tmpdir(), 'reagent-bench-gw-agent-'));
  const env = { PATH: process.env.PATH, HOME: home };
  const procs: Proc[] = [];
  const target = await sink();
  const echo = createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const echoPort = (echo.address() as { port: number }).port;
  try {
    const tcpMiBps = await pushThrough(target.port, bytes, target.until(bytes));
    const raw = await rawGrpc(bytes, env);
    const grpcMiBps = raw.mibps;

    const gw = start(['gateway', '--listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0'], env);
    procs.push(gw);
    const [, grpcAddr, api, dataDir] = await gw.waitFor(/"grpc":"([^"]+)","api":"([^"]+)".*"data_dir":"([^"]+)"/);
    // The gateway's admin token, as `reagent connect` under the same HOME reads it too.
    const adminToken = readFileSync(join(dataDir!, 'admin.token'), 'utf8').trim();
    const res = await fetch(`${api}/api/agents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ name: 'bench' }),
    });
    const dsn = ((await res.json()) as { token: string }).token;
    const agent = start(['start', 'agent', '-agentDir', agentDir], { ...env, HOOP_KEY: dsn });
    procs.push(agent);
    await agent.waitFor(/connected with success/);
    const fwd = start(['connect', 'bench', '--tcp', `127.0.0.1:${target.port}`, '--gateway', grpcAddr!], env);
    procs.push(fwd);
    const port = Number((await fwd.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    // Warm-up (JIT, HTTP/2 windows), then the measured run.
    await pushThrough(port, 8 * 1024 * 1024, target.until(8 * 1024 * 1024));
    const pids = { connect: fwd.child.pid!, gateway: gw.child.pid!, agent: agent.child.pid! };
    const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
    const self0 = process.cpuUsage();
    const agentMiBps = await pushThrough(port, bytes, target.until(bytes));
    const selfCpu = process.cpuUsage(self0);
    const cpu = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid) - cpu0[k]!]));
    cpu['bench (writer + sink)'] = (selfCpu.user + selfCpu.system) / 1e6;

    // Memory per open connection: many idle relayed connections to an echo server.
    const echoFwd = start(['connect', 'bench', '--tcp', `127.0.0.1:${echoPort}`, '--gateway', grpcAddr!], env);
    procs.push(echoFwd);
    const echoLocal = Number((await echoFwd.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    await new Promise((r) => setTimeout(r, 1000));
    const agentBefore = rssKiB(agent.child.pid!);
    const gwBefore = rssKiB(gw.child.pid!);
    const sockets: Socket[] = [];
    for (let i = 0; i < connections; i++) {
      const s = connect(echoLocal, '127.0.0.1');
      sockets.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('data', () => resolve());
        s.once('close', () => reject(new Error(`relayed connection ${i + 1} of ${connections} closed before its echo`)));
        s.once('error', reject);
        s.write('ping');
      });
    }
    await new Promise((r) => setTimeout(r, 1000));
    const agentAfter = rssKiB(agent.child.pid!);
    const gwAfter = rssKiB(gw.child.pid!);
    for (const s of sockets) s.destroy();

    return {
      bytes,
      tcpMiBps,
      grpcMiBps,
      agentMiBps,
      ratio: agentMiBps / grpcMiBps,
      connections,
      agentKiBPerConnection: (agentAfter - agentBefore) / connections,
      gatewayKiBPerConnection: (gwAfter - gwBefore) / connections,
      cpuSeconds: cpu,
      rawCpuMsPerMiB: (raw.cpuSeconds * 1000) / (bytes / 1048576),
      relayCpuMsPerMiB: (Object.values(cpu).reduce((a, b) => a + b, 0) * 1000) / (bytes / 1048576),
    };
  } finally {
    for (const p of procs.reverse()) await p.stop();
    target.server.close();
    echo.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(agentDir, { recursive: true, force: true });
  }
}

// `node --import tsx scripts/bench-gateway.ts [--quick]` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchGateway({ quick: process.argv.includes('--quick') });
  const f = (n: number) => n.toFixed(1);
  console.log(`bulk TCP (${r.bytes / 1024 / 1024} MiB): through agent+gateway ${f(r.agentMiBps)} MiB/s | raw grpc-js stream ${f(r.grpcMiBps)} MiB/s | loopback TCP ${f(r.tcpMiBps)} MiB/s | ${r.ratio.toFixed(2)}x of raw gRPC (target >= 0.5x)`);
  console.log(`CPU during the agent run: ${Object.entries(r.cpuSeconds).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}`);
  console.log(`CPU per MiB: raw gRPC stream ${r.rawCpuMsPerMiB.toFixed(1)} ms (sender + receiver), relay ${r.relayCpuMsPerMiB.toFixed(1)} ms (all four processes)`);
  console.log(`memory per open connection (${r.connections}): agent ${f(r.agentKiBPerConnection)} KiB, gateway ${f(r.gatewayKiBPerConnection)} KiB`);
}
