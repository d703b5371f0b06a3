// `reagent start agent` with nothing configured walks hoop's whole loader
// down to web registration: banner and link once, the user registers the
// token on the gateway's page, the next attempt (7 s later, hoop's cadence)
// is accepted and the token is saved to $HOME/.hoop/agent.toml, from which
// the next start (and the plain daemon) connects.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runReagent } from '../helpers/cli.js';
import { adminHeaders, cleanEnv, closedPort, makeTestCa, removeDirs, startGatewayProcess, startProcess, tempDir, type Proc } from '../helpers/gateway-peer.js';

describe('web registration, end to end', () => {
  const dirs: string[] = [];
  const procs: Proc[] = [];
  const track = <T extends Proc>(p: T) => (procs.push(p), p);
  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    removeDirs(...dirs);
  });

  it('prints the link once, saves the token after the first accepted connect, and reuses it', async () => {
    const home = tempDir();
    const caDir = tempDir();
    const agentDir = tempDir();
    dirs.push(home, caDir, agentDir);
    const ca = makeTestCa(caDir);
    // grpcs:// asks for TLS even on this machine: the gateway gets a certificate from the test CA.
    const gw = track(await startGatewayProcess({ home, tls: { cert: ca.ipCert, key: ca.ipKey } }));
    const grpcUrl = `grpcs://${gw.grpc}`;
    const env = cleanEnv(home, {
      HOOP_GRPCURL: grpcUrl,
      HOOP_TLSCA: `file://${ca.caCert}`,
      API_URL: gw.api,
      // Nothing answers here, so local mode is skipped whatever runs on 127.0.0.1:8010.
      REAGENT_LOCAL_GATEWAY: `127.0.0.1:${await closedPort()}`,
    });

    const agent = track(startProcess(['start', 'agent', '-agentDir', agentDir], env));
    await agent.waitFor(/webregister - connecting, attempt=1/);
    const banner = await agent.waitFor(/-{74}\nVISIT THE URL BELOW TO REGISTER THE AGENT\n(\S+)\n-{74}/);
    const url = banner[1]!;
    const token = new RegExp(`^${gw.api}/agents/new/(x-agt-[0-9a-f-]{36})$`).exec(url)?.[1];
    assert.ok(token, `registration URL ${url}`);
    assert.match(agent.output(), new RegExp(`mode=web-register, grpc_server=${gw.grpc.replace(/\./g, '\\.')}, tls=true - starting agent`));
    const tomlPath = join(home, '.hoop', 'agent.toml');
    assert.throws(() => statSync(tomlPath), 'nothing is saved before the gateway accepts');

    // What the user does in the browser: open the page, then the webapp's POST /api/agents {name, token}.
    assert.equal((await fetch(url)).status, 200);
    const res = await fetch(`${gw.api}/api/agents`, { method: 'POST', headers: adminHeaders(gw), body: JSON.stringify({ name: 'pi-kitchen', token }) });
    assert.equal(res.status, 201);

    await agent.waitFor(/webregister - connecting, attempt=2[\s\S]*connected with success to the gateway/, 20_000);
    await agent.waitFor(/agent registered: token saved/);
    assert.equal(statSync(join(home, '.hoop')).mode & 0o777, 0o700);
    assert.equal(statSync(tomlPath).mode & 0o777, 0o600);
    assert.equal(readFileSync(tomlPath, 'utf8'), `token = "${token}"\ngrpc_url = "${grpcUrl}"\n`);
    assert.equal(agent.output().split('VISIT THE URL BELOW TO REGISTER THE AGENT').length - 1, 1, 'the banner is printed once');
    const logLines = agent.output().split('\n').filter((l) => l.startsWith('{'));
    assert.ok(!logLines.some((l) => l.includes(token)), 'the token is only ever in the banner, never in a log line');
    await agent.stop();

    // The next start finds agent.toml (third in hoop's order) and connects with it at once.
    const again = track(startProcess(['start', 'agent', '-agentDir', agentDir], env));
    await again.waitFor(/mode=file, grpc_server=127\.0\.0\.1:\d+, tls=true - starting agent/);
    await again.waitFor(/connected with success to the gateway/);
    assert.ok(!again.output().includes('VISIT THE URL'));
    await again.stop();

    // The plain daemon runs the gateway link too when agent.toml is there.
    const daemon = track(startProcess(['-agentDir', agentDir], cleanEnv(home, { HOOP_TLSCA: `file://${ca.caCert}` })));
    await daemon.waitFor(/mode=file, .*tls=true - starting agent/);
    await daemon.waitFor(/connected with success to the gateway/);
    await daemon.stop();
  });

  it('the plain daemon without any credential does not register through the web', () => {
    const home = tempDir();
    dirs.push(home);
    const r = runReagent([], cleanEnv(home));
    assert.equal(r.code, 0);
    assert.match(r.stdout, /nothing to connect to/);
    assert.ok(!r.stdout.includes('VISIT THE URL'));
  });
});
