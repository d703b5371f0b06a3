// The TLS rule's other half: plaintext to a gateway that is not this
// machine. A grpc:// DSN used to send its secret in clear to any host; now
// it is refused at start unless HOOP_GRPC_INSECURE=true, and then every
// connect logs a warning. "Another machine" here is 192.0.2.10 on the
// loopback interface of a private network namespace: the agent really
// connects in plaintext to a non-loopback address, and no packet leaves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { MAIN } from '../helpers/cli.js';
import { cleanEnv, removeDirs, startCommand, tempDir, type Proc } from '../helpers/gateway-peer.js';
import { REMOTE_ADDRESS, skipUnlessNetns, startNetns, type Netns } from '../helpers/netns.js';

const WARNING = new RegExp(`HOOP_GRPC_INSECURE=true: connecting to ${REMOTE_ADDRESS.replace(/\./g, '\\.')}:8010 without TLS`, 'g');

describe('plaintext to a gateway on another machine', () => {
  const skip = skipUnlessNetns();
  const home = tempDir();
  const dirs: string[] = [home];
  const procs: Proc[] = [];
  let ns: Netns | null = null;
  let dsn = '';

  const inNs = (args: string[], env: NodeJS.ProcessEnv) => {
    const c = ns!.enter([process.execPath, MAIN, ...args]);
    const p = startCommand(c.command, c.args, env);
    procs.push(p);
    return p;
  };
  const gatewayArgs = ['gateway', '--listen', '0.0.0.0:8010', '--api-listen', '127.0.0.1:8009', '--advertise', `grpc://${REMOTE_ADDRESS}:8010`];

  before(async () => {
    if (skip) return;
    ns = await startNetns();
    const gw = inNs(gatewayArgs, cleanEnv(home));
    await gw.waitFor(/development gateway ready/);
    const admin = ns.enter([process.execPath, MAIN, 'admin', 'create', 'agent', 'far', '--api', 'http://127.0.0.1:8009']);
    const r = spawnSync(admin.command, admin.args, { env: cleanEnv(home), encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    dsn = r.stdout.trim();
    assert.match(dsn, new RegExp(`^grpc://far:xagt-[^@]+@${REMOTE_ADDRESS.replace(/\./g, '\\.')}:8010\\?mode=standard$`));
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    await ns?.stop();
    removeDirs(...dirs);
  });

  it('a grpc:// DSN to a non-loopback host is refused at start, naming HOOP_KEY, without its secret', { skip }, () => {
    const agentDir = tempDir();
    dirs.push(agentDir);
    const c = ns!.enter([process.execPath, MAIN, 'start', 'agent', '-agentDir', agentDir]);
    const r = spawnSync(c.command, c.args, { env: cleanEnv(home, { HOOP_KEY: dsn }), encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^HOOP_KEY: grpc:\/\/ to a host that is not this machine would send the credential without TLS; use grpcs:\/\/ .*HOOP_GRPC_INSECURE=true to allow plaintext\n$/);
    const secret = /:(xagt-[^@]+)@/.exec(dsn)![1]!;
    assert.ok(!r.stderr.includes(secret.slice(0, 12)));
  });

  it('with HOOP_GRPC_INSECURE=true it connects in plaintext and warns on every connect', { skip }, async () => {
    const agentDir = tempDir();
    dirs.push(agentDir);
    const agent = inNs(['start', 'agent', '-agentDir', agentDir], cleanEnv(home, { HOOP_KEY: dsn, HOOP_GRPC_INSECURE: 'true' }));
    await agent.waitFor(/mode=dsn, grpc_server=192\.0\.2\.10:8010, tls=false - starting agent/);
    await agent.waitFor(/connected with success to the gateway/);
    assert.equal(agent.output().match(WARNING)?.length, 1);
    assert.match(agent.output(), /"level":"warn".*HOOP_GRPC_INSECURE=true: connecting to 192\.0\.2\.10:8010 without TLS; the credential and every session travel in clear/);

    // The gateway goes away and comes back: each new connect warns again.
    const gw = procs[0]!;
    process.kill(gw.pid, 'SIGKILL');
    await gw.exit;
    await agent.waitFor(/disconnected from 192\.0\.2\.10:8010/);
    const again = inNs(gatewayArgs, cleanEnv(home));
    await again.waitFor(/development gateway ready/);
    await agent.waitFor(/connected with success to the gateway[\s\S]*connected with success to the gateway/, 30_000);
    assert.ok(agent.output().match(WARNING)!.length >= 2, agent.output());
    const secret = /:(xagt-[^@]+)@/.exec(dsn)![1]!;
    assert.ok(!agent.output().includes(secret), 'the secret is never logged');
    await agent.stop();
  });
});
