// The gateway goes away and comes back, or stops answering without closing
// anything: the agent (the built CLI, a process) must notice and reconnect
// with hoop's backoff. The delays it chose are read from its own log.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanEnv, closedPort, createDsnAgent, removeDirs, startGatewayProcess, startProcess, tempDir, type Proc } from '../helpers/gateway-peer.js';
import { runReagent } from '../helpers/cli.js';

/** The `backoff` (ms) of every retry the agent logged. */
function loggedBackoffs(output: string): number[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{') && /retrying in/.test(l))
    .map((l) => (JSON.parse(l) as { backoff?: number }).backoff ?? -1);
}

function count(re: RegExp, text: string): number {
  return text.match(new RegExp(re.source, 'g'))?.length ?? 0;
}

describe('the agent when its gateway fails', () => {
  const dirs: string[] = [];
  const procs: Proc[] = [];
  const track = <T extends Proc>(p: T) => (procs.push(p), p);

  after(async () => {
    for (const p of procs.reverse()) {
      try {
        process.kill(p.pid, 'SIGCONT');
      } catch {
        // already gone
      }
      await p.stop();
    }
    removeDirs(...dirs);
  });

  it('reconnects to a gateway that was killed and restarted, within the backoff bounds', async () => {
    const home = tempDir();
    const data = tempDir();
    const agentDir = tempDir();
    dirs.push(home, data, agentDir);
    const listen = `127.0.0.1:${await closedPort()}`;
    const gw1 = track(await startGatewayProcess({ home, listen, dataDir: data }));
    const dsn = await createDsnAgent(gw1, 'survivor');
    const agent = track(startProcess(['start', 'agent', '-agentDir', agentDir], cleanEnv(home, { HOOP_KEY: dsn })));
    await agent.waitFor(/connected with success to the gateway/);

    process.kill(gw1.pid, 'SIGKILL');
    await gw1.exit;
    await agent.waitFor(/disconnected from 127\.0\.0\.1:\d+, reason=UNAVAILABLE/);
    // Long enough for at least two failed attempts against nothing.
    await agent.waitFor(/failed connecting to [\s\S]*failed connecting to/, 20_000);
    const gw2 = track(await startGatewayProcess({ home, listen, dataDir: data }));
    await agent.waitFor(/connected with success to the gateway[\s\S]*connected with success to the gateway/, 20_000);

    const backoffs = loggedBackoffs(agent.output());
    assert.ok(backoffs.length >= 3, agent.output());
    for (const b of backoffs) assert.ok(b >= 1600 && b <= 8000, `backoff ${b} ms within hoop's 2-8 s (20% jitter)`);
    assert.ok(backoffs[1]! > backoffs[0]!, `the delay grows: ${backoffs.join(', ')}`);

    // Sessions work again on the new stream.
    const r = runReagent(['exec', 'survivor', '--gateway', gw2.grpc, '--data-dir', data, '--', 'echo', 'back'], cleanEnv(home));
    assert.deepEqual([r.code, r.stdout], [0, 'back\n'], r.stderr);
    await agent.stop();
    await gw2.stop();
  });

  it('notices a gateway that stops answering (SIGSTOP) through HTTP/2 keepalive, and comes back after SIGCONT', async () => {
    const home = tempDir();
    const agentDir = tempDir();
    dirs.push(home, agentDir);
    const gw = track(await startGatewayProcess({ home }));
    const dsn = await createDsnAgent(gw, 'frozen');
    const agent = track(startProcess(['start', 'agent', '-agentDir', agentDir], cleanEnv(home, { HOOP_KEY: dsn, REAGENT_GRPC_KEEPALIVE_MS: '1000' })));
    await agent.waitFor(/connected with success to the gateway/);

    process.kill(gw.pid, 'SIGSTOP');
    try {
      // Nothing is closed: only the unanswered PING can tell.
      await agent.waitFor(/disconnected from 127\.0\.0\.1:\d+, reason=UNAVAILABLE/, 15_000);
    } finally {
      process.kill(gw.pid, 'SIGCONT');
    }
    await agent.waitFor(/connected with success to the gateway[\s\S]*connected with success to the gateway/, 30_000);
    assert.equal(count(/starting agent/, agent.output()), 1, 'one link, reconnected; not restarted');
    await agent.stop();
    await gw.stop();
  });
});
