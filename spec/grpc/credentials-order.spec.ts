// Every credential source, end to end against the development gateway,
// and their precedence: auto registration, HOOP_KEY, HOOP_GRPCURL +
// HOOP_TOKEN, $HOME/.hoop/agent.toml, local mode, web registration.
// The link runs in this process on a real actor system; the gateway too.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { writeAgentToml } from '../../adapters/grpc/agent-toml.js';
import { closedPort, createDsnAgent, makeTestCa, registerLegacyToken, type GatewayAccess, removeDirs, startDevGateway, startLink, tempDir, waitUntil, type LinkHarness, type TestCa } from '../helpers/gateway-peer.js';

const START_LINE = /"msg":"platform=[a-z0-9]+\/[a-z0-9]+, mode=([a-z-]+), grpc_server=([^,]+), tls=(true|false) - starting agent"/;

function startLine(h: LinkHarness): { mode: string; server: string; tls: boolean } {
  const m = START_LINE.exec(h.log.text());
  assert.ok(m, `no start-up line in:\n${h.log.text()}`);
  return { mode: m[1]!, server: m[2]!, tls: m[3] === 'true' };
}

async function registerToken(gw: GatewayAccess, name: string): Promise<string> {
  const token = `x-agt-${randomUUID()}`;
  await registerLegacyToken(gw, name, token);
  return token;
}

describe('credential sources, one by one', () => {
  let ca: TestCa;
  let plain: Awaited<ReturnType<typeof startDevGateway>>;
  let tls: Awaited<ReturnType<typeof startDevGateway>>;
  const dirs: string[] = [];
  const links: LinkHarness[] = [];
  const home = () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
  const link = async (...args: Parameters<typeof startLink>) => {
    const h = await startLink(...args);
    links.push(h);
    return h;
  };

  before(async () => {
    const caDir = tempDir();
    dirs.push(caDir);
    ca = makeTestCa(caDir);
    // Local mode's agent has no token: this gateway was started with --allow-local-agent.
    plain = await startDevGateway({ anonymousLocal: true });
    tls = await startDevGateway({ tls: { cert: readFileSync(ca.ipCert), key: readFileSync(ca.ipKey) } });
  });

  after(async () => {
    for (const l of links) await l.stop();
    await plain?.stop();
    await tls?.stop();
    removeDirs(...dirs);
  });

  it('AUTO_REGISTER: registers with the local gateway and connects there in plaintext', async () => {
    const h = await link({ AUTO_REGISTER: 'acme', API_URL: plain.api, REAGENT_GATEWAY_TOKEN: plain.adminToken }, { home: home(), localGateway: { host: '127.0.0.1', port: plain.port } });
    await h.waitConnected();
    assert.deepEqual(startLine(h), { mode: 'auto-register', server: `127.0.0.1:${plain.port}`, tls: false });
    const agent = plain.gateway.store.byName('default');
    assert.equal(agent?.org, 'acme');
    assert.ok(plain.gateway.router.status('default').connected);
    assert.ok(!h.log.text().includes('x-agt-') || /x-agt-\[REDACTED\]/.test(h.log.text()));
    await h.stop();
  });

  it('HOOP_KEY: a grpc:// DSN connects in plaintext, a name that does not match its secret is refused', async () => {
    const dsn = await createDsnAgent(plain, 'dsn-agent');
    const h = await link({ HOOP_KEY: dsn }, { home: home() });
    await h.waitConnected();
    assert.deepEqual(startLine(h), { mode: 'dsn', server: `127.0.0.1:${plain.port}`, tls: false });
    assert.ok(plain.gateway.router.status('dsn-agent').connected);
    const secret = /:([^:@]+)@/.exec(dsn)![1]!;
    assert.ok(!h.log.text().includes(secret), 'the DSN secret never reaches the log');
    await h.stop();

    const wrongName = dsn.replace('dsn-agent:', 'someone-else:');
    const bad = await link({ HOOP_KEY: wrongName }, { home: home(), policy: fastPolicy });
    await waitUntil(() => /unauthenticated: the gateway at .* refused this agent's credentials \(check HOOP_KEY\)/.test(bad.log.text()), 5000, 'an unauthenticated error');
    await bad.stop();
  });

  it('HOOP_GRPCURL + HOOP_TOKEN: grpcs:// is TLS even to this machine, verified with HOOP_TLSCA', async () => {
    const token = await registerToken(tls, 'env-agent');
    const h = await link({ HOOP_GRPCURL: `grpcs://127.0.0.1:${tls.port}`, HOOP_TOKEN: token, HOOP_TLSCA: `file://${ca.caCert}` }, { home: home() });
    await h.waitConnected();
    assert.deepEqual(startLine(h), { mode: 'env', server: `127.0.0.1:${tls.port}`, tls: true });
    assert.ok(tls.gateway.router.status('env-agent').connected);
    assert.ok(!h.log.text().includes(token));
    await h.stop();
  });

  it('$HOME/.hoop/agent.toml: token and grpc_url', async () => {
    const token = await registerToken(tls, 'file-agent');
    const dir = home();
    writeAgentToml(join(dir, '.hoop', 'agent.toml'), { token, grpcUrl: `grpcs://127.0.0.1:${tls.port}` });
    const h = await link({ HOOP_TLSCA: `file://${ca.caCert}` }, { home: dir });
    await h.waitConnected();
    assert.deepEqual(startLine(h), { mode: 'file', server: `127.0.0.1:${tls.port}`, tls: true });
    assert.ok(tls.gateway.router.status('file-agent').connected);
    await h.stop();
  });

  it('a broken agent.toml stops the link with a message naming the field', async () => {
    const dir = home();
    writeAgentToml(join(dir, '.hoop', 'agent.toml'), { token: 'x-agt-zzz', grpcUrl: 'nonsense' });
    const h = await link({}, { home: dir, gatewayOnly: true });
    const end = await h.link.finished;
    assert.equal(end.exitCode, 1);
    assert.match(end.reason, /agent\.toml: field "grpc_url": expected host:port/);
    await h.stop();
  });

  it('local mode (`start agent`): a gateway answering on the local address, plaintext, no token', async () => {
    const h = await link({}, { home: home(), gatewayOnly: true, localGateway: { host: '127.0.0.1', port: plain.port } });
    await h.waitConnected();
    assert.deepEqual(startLine(h), { mode: 'local', server: `127.0.0.1:${plain.port}`, tls: false });
    assert.ok(plain.gateway.router.status('local').connected);
    await h.stop();
  });

  it('web registration: banner and link once, registered through the page, token saved 0600 in a 0700 dir', async () => {
    const dir = home();
    const h = await link(
      { HOOP_GRPCURL: `grpcs://127.0.0.1:${tls.port}`, HOOP_TLSCA: `file://${ca.caCert}`, API_URL: tls.api },
      { home: dir, gatewayOnly: true, localGateway: { host: '127.0.0.1', port: await closedPort() }, webRegister: { intervalMs: 150, maxAttempts: 200 } },
    );
    await waitUntil(() => h.out.length > 0, 5000, 'the registration banner');
    const banner = h.out.join('\n');
    assert.match(banner, /^-{74}\nVISIT THE URL BELOW TO REGISTER THE AGENT\n.*\n-{74}$/);
    const url = new RegExp(`${tls.api}/agents/new/(x-agt-[0-9a-f-]{36})`).exec(banner);
    assert.ok(url, banner);
    assert.deepEqual(startLine(h), { mode: 'web-register', server: `127.0.0.1:${tls.port}`, tls: true });
    // Still refused a few times: the banner is not repeated.
    await waitUntil(() => h.journal.records.filter((r) => r.type === 'ATTEMPT_FAILED').length >= 3, 5000, 'more refused attempts');
    assert.equal(h.out.length, 1);
    const tomlPath = join(dir, '.hoop', 'agent.toml');
    assert.throws(() => statSync(tomlPath), 'nothing is saved before the gateway accepts the token');
    const page = await fetch(`${tls.api}/agents/new/${url[1]}`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form method="post">/);
    await registerLegacyToken(tls, 'web-agent', url[1]!);
    await h.waitConnected();
    await waitUntil(() => h.journal.records.some((r) => r.type === 'PERSISTED'), 5000, 'the token to be saved');
    assert.equal(statSync(join(dir, '.hoop')).mode & 0o777, 0o700);
    assert.equal(statSync(tomlPath).mode & 0o777, 0o600);
    assert.equal(readFileSync(tomlPath, 'utf8'), `token = "${url[1]}"\ngrpc_url = "grpcs://127.0.0.1:${tls.port}"\n`);
    assert.equal(h.out.length, 1, 'the banner was printed once');
    assert.ok(!h.log.text().includes(url[1]!), 'the log never shows the token');
    assert.ok(!JSON.stringify(h.journal.records).includes(url[1]!), 'nor does the journal');
    await h.stop();
  });

  it('web registration gives up after its attempts, and says so', async () => {
    const h = await link(
      { HOOP_GRPCURL: `grpcs://127.0.0.1:${tls.port}`, HOOP_TLSCA: `file://${ca.caCert}`, API_URL: tls.api },
      { home: home(), gatewayOnly: true, localGateway: { host: '127.0.0.1', port: await closedPort() }, webRegister: { intervalMs: 50, maxAttempts: 4 } },
    );
    const end = await h.link.finished;
    assert.equal(end.exitCode, 1);
    assert.match(end.reason, /not registered after 4 attempts; giving up/);
    await h.stop();
  });
});

describe('credential precedence', () => {
  let gw: Awaited<ReturnType<typeof startDevGateway>>;
  const dirs: string[] = [];

  before(async () => {
    gw = await startDevGateway();
  });
  after(async () => {
    await gw?.stop();
    removeDirs(...dirs);
  });

  async function modeWith(env: NodeJS.ProcessEnv, withToml: boolean, gatewayOnly = false): Promise<string> {
    const home = tempDir();
    dirs.push(home);
    if (withToml) writeAgentToml(join(home, '.hoop', 'agent.toml'), { token: 'x-agt-from-file', grpcUrl: `127.0.0.1:${gw.port}` });
    const h = await startLink(env, { home, gatewayOnly, localGateway: { host: '127.0.0.1', port: gw.port }, policy: fastPolicy });
    try {
      await waitUntil(() => START_LINE.test(h.log.text()), 5000, 'the start-up line');
      return startLine(h).mode;
    } finally {
      await h.stop();
    }
  }

  it('AUTO_REGISTER > HOOP_KEY > HOOP_GRPCURL+HOOP_TOKEN > agent.toml > local > web registration', async () => {
    const dsn = await createDsnAgent(gw, 'prec');
    const pair = { HOOP_GRPCURL: `127.0.0.1:${gw.port}`, HOOP_TOKEN: 'x-agt-from-env' };
    assert.equal(await modeWith({ AUTO_REGISTER: 'o', API_URL: gw.api, REAGENT_GATEWAY_TOKEN: gw.adminToken, HOOP_KEY: dsn, ...pair }, true), 'auto-register');
    assert.equal(await modeWith({ HOOP_KEY: dsn, ...pair }, true), 'dsn');
    assert.equal(await modeWith(pair, true), 'env');
    assert.equal(await modeWith({ HOOP_GRPCURL: `127.0.0.1:${gw.port}` }, true, true), 'file', 'HOOP_GRPCURL alone is not the env pair');
    assert.equal(await modeWith({ HOOP_TOKEN: 'x-agt-only-token' }, false, true), 'local');
  });
});

/** A fast backoff for tests that only need the link to keep trying. */
const fastPolicy = { connectTimeoutMs: 5000, pingIntervalMs: 0, resetAfterMs: 60_000, backoff: { initialMs: 100, maxMs: 400, multiplier: 2, jitter: 0.2 } };
