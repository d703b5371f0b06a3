// `reagent exec AGENT -- CMD ARGS` as a user runs it: stdin in, stdout and
// stderr out, the remote exit code as its own, no shell unless asked for.
// The agent runs with --debug --debug-grpc, so its own and grpc-js' traces
// are checked here too.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { MAIN, runReagent } from '../helpers/cli.js';
import { cleanEnv, createDsnAgent, removeDirs, startGatewayProcess, startProcess, tempDir, type Proc } from '../helpers/gateway-peer.js';

interface ExecResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

describe('reagent exec through a connected agent', () => {
  const home = tempDir();
  const agentDir = tempDir();
  const procs: Proc[] = [];
  let gateway: Awaited<ReturnType<typeof startGatewayProcess>>;
  let agent: Proc;

  const exec = (command: string[], stdin: Buffer | string = '', agentName = 'runner'): Promise<ExecResult> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [MAIN, 'exec', agentName, '--gateway', gateway.grpc, '--', ...command], { env: cleanEnv(home), stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
      child.stdin.end(stdin);
    });

  before(async () => {
    gateway = await startGatewayProcess({ home, extra: ['--offline-wait', '300'] });
    procs.push(gateway);
    const dsn = await createDsnAgent(gateway, 'runner');
    agent = startProcess(['start', 'agent', '--debug', '--debug-grpc', '-agentDir', agentDir], cleanEnv(home, { HOOP_KEY: dsn }));
    procs.push(agent);
    await agent.waitFor(/connected with success to the gateway/);
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    removeDirs(home, agentDir);
  });

  it('passes stdin, returns stdout and stderr apart, and exits with the remote exit code', async () => {
    const r = await exec(['sh', '-c', 'cat; echo "to stderr" >&2; exit 3'], 'line one\nline two\n');
    assert.equal(r.code, 3);
    assert.equal(r.stdout.toString(), 'line one\nline two\n');
    assert.equal(r.stderr, 'to stderr\n');
    const ok = await exec(['true']);
    assert.deepEqual([ok.code, ok.stdout.length, ok.stderr], [0, 0, '']);
  });

  it('is binary-safe both ways', async () => {
    const data = randomBytes(512 * 1024);
    const r = await exec(['cat'], data);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.equals(data));
  });

  it('runs the command list without a shell: no expansion, no globbing', async () => {
    const r = await exec(['echo', '$HOME', '*', '`id`', ';', 'ls']);
    assert.equal(r.stdout.toString(), '$HOME * `id` ; ls\n');
  });

  it('a missing command exits 127 with a message; an unknown agent is named', async () => {
    const r = await exec(['definitely-not-a-command-4711']);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /exec definitely-not-a-command-4711: command not found/);
    const offline = await exec(['true'], '', 'nobody');
    assert.equal(offline.code, 1);
    assert.match(offline.stderr, /agent nobody is offline/);
    const usage = runReagent(['exec', 'runner'], cleanEnv(home));
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: reagent exec AGENT/);
  });

  it('--debug shows the agent packet traces and --debug-grpc the grpc-js traces, without the token', async () => {
    await exec(['true']);
    const text = agent.output();
    assert.match(text, /"msg":"packet from the gateway"/);
    assert.match(text, /"type":"AgentSessionOpen"/);
    assert.match(text, /"msg":"packet to the gateway"/);
    assert.match(text, /"component":"grpc-js".*(subchannel|transport|channel)/);
    assert.ok(!/xagt-[A-Za-z0-9_-]{20}/.test(text), 'no DSN secret in the traces');
  });
});
