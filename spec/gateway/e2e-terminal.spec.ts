// hoop's interactive terminal through the development gateway: `reagent exec
// AGENT -t` run from a real terminal (the test's own PTY), a PTY on the agent,
// the window size followed, the exit code passed through; 20 terminals at
// once; and an agent killed with SIGKILL leaving no shell behind once it is
// started again (the ledger sweep).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { spawn as ptySpawn, type IPty } from '@lydell/node-pty';
import { MAIN } from '../helpers/cli.js';
import { cleanEnv, createDsnAgent, removeDirs, startGatewayProcess, startProcess, tempDir, waitUntil, type Proc } from '../helpers/gateway-peer.js';
import { openSession, type ClientSession, type GatewayEndpoint } from '../../gateway/client.js';
import { AgentPacket, ClientPacket } from '../../adapters/grpc/wire-names.js';

/** The built CLI on a PTY of the test: it sees a real terminal, as a user's shell gives it. */
function cliOnPty(args: string[], env: NodeJS.ProcessEnv, size: { rows: number; cols: number }) {
  const term = ptySpawn(process.execPath, [MAIN, ...args], { name: 'xterm', rows: size.rows, cols: size.cols, cwd: '/', env: env as Record<string, string> });
  let out = '';
  term.onData((d) => (out += d));
  const exit = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  const waitFor = async (re: RegExp, what: string, timeoutMs = 15_000) => {
    await waitUntil(() => re.test(out), timeoutMs, `${what}; output so far: ${JSON.stringify(out.slice(-400))}`);
    return re.exec(out)!;
  };
  return { term, output: () => out, exit, waitFor };
}

/** A terminal opened with the client library (what `reagent exec -t` does), for many at once. */
async function openTerminal(gw: GatewayEndpoint, agent: string, command: string[]) {
  const session: ClientSession = await openSession(gw, agent, { type: 'command-line', command, tty: true });
  let out = '';
  session.onPacket((p) => {
    if (p.type === ClientPacket.WriteStdout) out += p.payload.toString('utf8');
  });
  const ended = new Promise<{ code: number; message: string }>((resolve) => session.onEnd((code, message) => resolve({ code, message })));
  session.send(AgentPacket.TerminalResizeTTY, [], Buffer.from('10,50,0,0'));
  session.send(AgentPacket.TerminalWriteStdin, [], Buffer.from('spawn-only, never typed'));
  return { session, ended, output: () => out, type: (text: string) => session.send(AgentPacket.TerminalWriteStdin, [], Buffer.from(text)) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('interactive terminals through the development gateway', () => {
  const home = tempDir();
  const agentDir = tempDir();
  const procs: Proc[] = [];
  let gateway: Awaited<ReturnType<typeof startGatewayProcess>>;
  let dsn: string;
  let agent: Proc;
  let endpoint: GatewayEndpoint;
  const leftovers: number[] = [];

  const startAgent = async () => {
    agent = startProcess(['start', 'agent', '-agentDir', agentDir], cleanEnv(home, { HOOP_KEY: dsn }));
    procs.push(agent);
    await agent.waitFor(/connected with success to the gateway/);
  };

  before(async () => {
    gateway = await startGatewayProcess({ home, extra: ['--offline-wait', '3000'] });
    procs.push(gateway);
    dsn = await createDsnAgent(gateway, 'runner');
    endpoint = { address: gateway.grpc, credentials: credentials.createInsecure(), token: gateway.adminToken };
    await startAgent();
  });

  after(async () => {
    for (const pid of leftovers) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const p of procs.reverse()) await p.stop();
    removeDirs(home, agentDir);
  });

  it('reagent exec -t: a TTY on the agent, its size followed, input echoed, the exit code passed through', async () => {
    const cli = cliOnPty(['exec', 'runner', '-t', '--gateway', gateway.grpc, '--', 'sh'], cleanEnv(home, { TERM: 'xterm' }), { rows: 30, cols: 100 });
    try {
      cli.term.write('tty\r');
      await cli.waitFor(/\/dev\/pts\/\d+/, 'the remote tty');
      cli.term.write('stty size\r');
      await cli.waitFor(/30 100/, 'the initial size on the agent');
      cli.term.resize(120, 40);
      // The resize travels as a packet; ask again until the shell sees it.
      await waitUntil(
        () => {
          cli.term.write('stty size\r');
          return /40 120/.test(cli.output());
        },
        10_000,
        'the new size on the agent',
        300,
      );
      // Typed, it is echoed by the remote terminal; run, it prints 42 (the first packet, "\n", was not typed).
      cli.term.write('echo "hello-$((6*7))"\r');
      await cli.waitFor(/hello-42/, 'the echo');
      assert.match(cli.output(), /echo "hello-\$\(\(6\*7\)\)"/, 'the typed line is echoed');
      cli.term.write('exit 7\r');
      assert.equal(await cli.exit, 7);
    } finally {
      cli.term.kill();
    }
  });

  it('-t needs a terminal on stdin; without a command it runs a login shell', async () => {
    const r = startProcess(['exec', 'runner', '-t', '--gateway', gateway.grpc], cleanEnv(home));
    assert.equal(await r.exit, 2);
    assert.match(r.output(), /stdin is not a terminal/);
    const cli = cliOnPty(['exec', 'runner', '-t', '--gateway', gateway.grpc], cleanEnv(home, { TERM: 'xterm' }), { rows: 24, cols: 80 });
    try {
      cli.term.write('echo "shell-$((2+3))"; exit 4\r');
      await cli.waitFor(/shell-5/, 'the default shell');
      assert.equal(await cli.exit, 4);
    } finally {
      cli.term.kill();
    }
  });

  it('runs 20 terminals at once, each with its own PTY, output and exit code', async () => {
    const terms = await Promise.all(Array.from({ length: 20 }, () => openTerminal(endpoint, 'runner', ['sh'])));
    // Each waits for a line before it exits: all 20 are running at the same time.
    terms.forEach((t, i) => t.type(`echo "n-$((${i} * 3))-$(tty)-$(stty size)"; read go; exit ${i + 1}\r`));
    await waitUntil(() => terms.every((t, i) => t.output().includes(`n-${i * 3}-`)), 20_000, 'all 20 terminals to answer');
    terms.forEach((t) => t.type('go\r'));
    const ends = await Promise.all(terms.map((t) => t.ended));
    const ttys = new Set<string>();
    terms.forEach((t, i) => {
      assert.equal(ends[i]!.code, i + 1, `terminal ${i}: ${t.output()}`);
      const m = new RegExp(`n-${i * 3}-(/dev/pts/\\d+)-10 50`).exec(t.output());
      assert.ok(m, `terminal ${i} output: ${JSON.stringify(t.output())}`);
      assert.doesNotMatch(t.output(), /spawn-only/, 'the spawning packet is not typed');
      ttys.add(m[1]!);
    });
    assert.equal(ttys.size, 20, 'each terminal has its own PTY');
  });

  it('AgentTerminalClose hangs the terminal up; the session ends with the shell hung up (129)', async () => {
    const t = await openTerminal(endpoint, 'runner', ['sh']);
    t.type('echo "ready-$((1+1))"\r');
    await waitUntil(() => /ready-2/.test(t.output()), 10_000, 'the shell');
    t.session.send(AgentPacket.TerminalClose);
    const end = await t.ended;
    assert.equal(end.code, 129);
  });

  it('a SIGKILLed agent leaves no shell behind once it starts again', async () => {
    const t = await openTerminal(endpoint, 'runner', ['sh']);
    // A job that ignores the hangup outlives its terminal unless the agent kills it.
    t.type("trap '' HUP; sleep 3127 & echo \"job-$!-started\"\r");
    await waitUntil(() => /job-\d+-started/.test(t.output()), 10_000, 'the background job');
    const pid = Number(/job-(\d+)-started/.exec(t.output())![1]);
    leftovers.push(pid);
    assert.ok(existsSync(join(agentDir, 'terminals-gateway.json')));
    assert.match(readFileSync(join(agentDir, 'terminals-gateway.json'), 'utf8'), /"kind":"pty"/);
    agent.child.kill('SIGKILL');
    await agent.exit;
    await t.ended;
    // Nobody cleaned up: the kernel's hangup took the shell, not the job.
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(alive(pid), 'the job survived the agent (the test would pass vacuously otherwise)');
    await startAgent();
    await waitUntil(() => !alive(pid), 5_000, `job ${pid} to be killed by the sweep`);
    assert.match(agent.output(), /killed \d+ terminal process\(es\) left by an earlier run/);
  });

  it('a session closed by the client leaves no process of its terminal behind', async () => {
    const t = await openTerminal(endpoint, 'runner', ['sh']);
    // Only the job ignores the hangup; the shell ends with it and the session then takes the job.
    t.type("sh -c \"trap '' HUP; exec sleep 3128\" & echo \"job-$!-started\"\r");
    await waitUntil(() => /job-\d+-started/.test(t.output()), 10_000, 'the background job');
    const pid = Number(/job-(\d+)-started/.exec(t.output())![1]);
    leftovers.push(pid);
    t.session.close();
    await waitUntil(() => !alive(pid), 10_000, `job ${pid} to end with its session`);
  });

  it('an agent stopped with SIGTERM kills its terminals at once, even a shell that ignores the hangup', async () => {
    const t = await openTerminal(endpoint, 'runner', ['sh']);
    t.type("trap '' HUP; echo \"shell-$$-ready\"\r");
    await waitUntil(() => /shell-\d+-ready/.test(t.output()), 10_000, 'the shell');
    const pid = Number(/shell-(\d+)-ready/.exec(t.output())![1]);
    leftovers.push(pid);
    const stoppedAt = Date.now();
    await agent.stop();
    assert.equal(await agent.exit, 0, agent.output());
    await waitUntil(() => !alive(pid), 3_000, `shell ${pid} killed by the stop`);
    assert.ok(Date.now() - stoppedAt < 4_000, 'not left to the 5 s grace');
    assert.doesNotMatch(readFileSync(join(agentDir, 'terminals-gateway.json'), 'utf8'), /"kind":"pty"/);
  });
});
