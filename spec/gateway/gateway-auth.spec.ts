// Regression tests for "any local user can become root through the
// development gateway": a root gateway, a root agent, and uid 65534 trying
// to run a command through them with the built CLI, next to root doing the
// same with the admin token. Then the HTTP API against missing tokens,
// DNS rebinding (a foreign Host), cross-site pages (Origin) and CSRF
// (Content-Type, the registration form's token).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { decodePacket, encodePacket, packet, type Packet } from '../../adapters/grpc/packet-codec.js';
import { AgentPacket, TransportMethod } from '../../adapters/grpc/wire-names.js';
import { ensureAdminToken, findAdminToken, newAdminToken } from '../../gateway/admin-token.js';
import { MAIN, runReagent } from '../helpers/cli.js';
import { cleanEnv, removeDirs, startGatewayProcess, startProcess, tempDir, type Proc } from '../helpers/gateway-peer.js';
import { asNobody, skipUnlessUnprivileged } from '../helpers/unprivileged.js';

interface HttpAnswer {
  status: number;
  body: string;
}

/** A raw HTTP request: fetch would not let a test set Host. */
function http(api: string, opts: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<HttpAnswer> {
  const url = new URL(api);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function rawClient(address: string, md: Record<string, string>): Promise<ServiceError> {
  const client = new Client(address, credentials.createInsecure());
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  const call = client.makeBidiStreamRequest<Packet, Packet>(TransportMethod.Connect, encodePacket, decodePacket, metadata, {});
  call.write(packet(AgentPacket.SessionOpen, [['dev.agent', Buffer.from('runner')], ['dev.target', Buffer.from('{"type":"command-line","command":["id"]}')]]));
  return new Promise((resolve) => {
    call.on('error', (e: ServiceError) => {
      client.close();
      resolve(e);
    });
    call.on('data', () => {});
  });
}

describe('who may run commands through the development gateway', () => {
  const skip = skipUnlessUnprivileged();
  const home = tempDir();
  const agentDir = tempDir();
  const procs: Proc[] = [];
  let gateway: Awaited<ReturnType<typeof startGatewayProcess>>;

  before(async () => {
    gateway = await startGatewayProcess({ home });
    procs.push(gateway);
    // The operator, as root: `reagent admin` finds the admin token in the default data dir.
    const created = runReagent(['admin', 'create', 'agent', 'runner', '--api', gateway.api], cleanEnv(home));
    assert.equal(created.code, 0, created.stderr);
    const dsn = created.stdout.trim();
    assert.match(dsn, /^grpc:\/\/runner:xagt-/);
    const agent = startProcess(['start', 'agent', '-agentDir', agentDir], cleanEnv(home, { HOOP_KEY: dsn }));
    procs.push(agent);
    await agent.waitFor(/connected with success to the gateway/);
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    removeDirs(home, agentDir);
  });

  it('writes the admin token 0600 in a 0700 data dir under HOME', () => {
    assert.equal(gateway.adminTokenFile, join(home, '.reagent', 'gateway', 'admin.token'));
    assert.equal(statSync(gateway.adminTokenFile).mode & 0o777, 0o600);
    assert.equal(statSync(join(home, '.reagent', 'gateway')).mode & 0o777, 0o700);
    assert.match(gateway.adminToken, /^rgw_[A-Za-z0-9_-]{43}$/);
    assert.ok(!gateway.output().includes(gateway.adminToken), 'the token is never printed');
  });

  it('root with the admin token runs a command (uid 0); uid 65534, who cannot read the token, is refused', { skip }, () => {
    const rootRun = runReagent(['exec', 'runner', '--gateway', gateway.grpc, '--', 'id', '-u'], cleanEnv(home));
    assert.deepEqual([rootRun.code, rootRun.stdout], [0, '0\n'], rootRun.stderr);

    const nobody = asNobody([process.execPath, MAIN, 'exec', 'runner', '--gateway', gateway.grpc, '--', 'id']);
    const r = spawnSync(nobody.command, nobody.args, { env: cleanEnv(home), encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^reagent exec: no gateway credential: cannot read .*admin\.token \(EACCES\)/);
    assert.ok(!/uid=0/.test(r.stdout + r.stderr));
  });

  it('uid 65534 guessing a token is refused by the gateway itself, and cannot create agents either', { skip }, () => {
    const nobody = asNobody([process.execPath, MAIN, 'exec', 'runner', '--gateway', gateway.grpc, '--', 'id']);
    const r = spawnSync(nobody.command, nobody.args, { env: cleanEnv(home, { REAGENT_GATEWAY_TOKEN: newAdminToken() }), encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /UNAUTHENTICATED: invalid authentication/);
    assert.ok(!/uid=0/.test(r.stdout));
    const admin = asNobody([process.execPath, MAIN, 'admin', 'create', 'agent', 'evil', '--api', gateway.api]);
    const a = spawnSync(admin.command, admin.args, { env: cleanEnv(home), encoding: 'utf8', timeout: 20_000 });
    assert.equal(a.status, 1, a.stderr);
    assert.match(a.stderr, /no gateway credential/);
  });

  it('a client stream without the admin token, or with a wrong one, is Unauthenticated', async () => {
    const cases: Array<Record<string, string>> = [{ origin: 'client' }, { origin: 'client', authorization: `Bearer ${newAdminToken()}` }, { origin: 'client', authorization: gateway.adminToken }];
    for (const md of cases) {
      const e = await rawClient(gateway.grpc, md);
      assert.deepEqual([e.code, e.details], [16, 'invalid authentication'], JSON.stringify(md).slice(0, 60));
    }
  });

  it('the HTTP API wants the admin token; it refuses a foreign Host, a foreign Origin and non-JSON writes', async () => {
    const port = new URL(gateway.api).port;
    const auth = { authorization: `Bearer ${gateway.adminToken}` };
    assert.equal((await http(gateway.api, { path: '/api/healthz' })).status, 200, 'health needs no token');
    assert.equal((await http(gateway.api, { path: '/api/agents' })).status, 401);
    assert.equal((await http(gateway.api, { path: '/api/agents', headers: { authorization: `Bearer ${newAdminToken()}` } })).status, 401);
    assert.equal((await http(gateway.api, { path: '/api/agents', headers: auth })).status, 200);
    assert.equal((await http(gateway.api, { path: '/api/agents', headers: { ...auth, host: `localhost:${port}` } })).status, 200);

    // DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1.
    const rebound = await http(gateway.api, { path: '/api/agents', headers: { ...auth, host: `evil.example:${port}` } });
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /Host: expected one of/);
    assert.equal((await http(gateway.api, { path: '/api/healthz', headers: { host: `evil.example:${port}` } })).status, 403);

    const create = (headers: Record<string, string>, body = JSON.stringify({ name: `x${randomUUID().slice(0, 8)}` })) =>
      http(gateway.api, { method: 'POST', path: '/api/agents', headers, body });
    assert.equal((await create({ ...auth, 'content-type': 'application/json', origin: 'http://evil.example' })).status, 403);
    assert.equal((await create({ ...auth, 'content-type': 'application/json', origin: 'null' })).status, 403);
    assert.equal((await create({ ...auth, 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal((await create({ ...auth, 'content-type': 'text/plain' })).status, 415);
    assert.equal((await create({ ...auth, 'content-type': 'application/x-www-form-urlencoded' }, 'name=x1')).status, 415);
    assert.equal((await create({ 'content-type': 'application/json' })).status, 401);
    assert.equal((await create({ ...auth, 'content-type': 'application/json', origin: `http://127.0.0.1:${port}` })).status, 201, 'same origin is fine');
  });

  it('the registration form needs its CSRF token and the admin token', async () => {
    const token = `x-agt-${randomUUID()}`;
    const page = await http(gateway.api, { path: `/agents/new/${token}` });
    assert.equal(page.status, 200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const submit = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      http(gateway.api, {
        method: 'POST',
        path: `/agents/new/${token}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields).toString(),
      });
    assert.equal((await submit({ name: 'web1', admin_token: gateway.adminToken })).status, 403, 'no CSRF token');
    assert.equal((await submit({ name: 'web1', admin_token: gateway.adminToken, csrf: csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) })).status, 403);
    assert.equal((await submit({ name: 'web1', csrf })).status, 403, 'no admin token');
    assert.equal((await submit({ name: 'web1', csrf, admin_token: gateway.adminToken }, { origin: 'http://evil.example' })).status, 403);
    // Another agent token's page has another CSRF token.
    const other = /name="csrf" value="([^"]+)"/.exec((await http(gateway.api, { path: `/agents/new/x-agt-${randomUUID()}` })).body)![1]!;
    assert.notEqual(other, csrf);
    assert.equal((await submit({ name: 'web1', csrf: other, admin_token: gateway.adminToken })).status, 403);
    const ok = await submit({ name: 'web1', csrf, admin_token: gateway.adminToken }, { origin: `http://127.0.0.1:${new URL(gateway.api).port}` });
    assert.equal(ok.status, 201, ok.body);
  });
});

describe('the gateway command line', () => {
  const dirs: string[] = [];
  after(() => removeDirs(...dirs));

  it('--allow-local-agent says loudly what it allows; --require-token is accepted and does nothing', async () => {
    const home = tempDir();
    dirs.push(home);
    const gw = await startGatewayProcess({ home, extra: ['--allow-local-agent', '--require-token'] });
    try {
      // The plain warning goes to stderr, which may be read after the "ready" line on stdout: wait for it.
      await gw.waitFor(/WARNING: --allow-local-agent: agents without a token are accepted from this machine as agent "local"/);
      assert.match(gw.output(), /--require-token is the default now and does nothing/);
      assert.match(gw.output(), /"allow_local_agent":true/);
    } finally {
      await gw.stop();
    }
  });
});

describe('the admin token file', () => {
  const dirs: string[] = [];
  after(() => removeDirs(...dirs));

  it('is created once and kept across restarts; a wider mode is tightened; a link or junk is refused', () => {
    const dir = join(tempDir(), 'data');
    dirs.push(dir);
    const first = ensureAdminToken(dir);
    assert.equal(first.created, true);
    const again = ensureAdminToken(dir);
    assert.deepEqual([again.created, again.token], [false, first.token]);
    chmodSync(dir, 0o755);
    chmodSync(first.path, 0o644);
    ensureAdminToken(dir);
    assert.deepEqual([statSync(dir).mode & 0o777, statSync(first.path).mode & 0o777], [0o700, 0o600]);

    const linked = join(tempDir(), 'data');
    dirs.push(linked);
    mkdirSync(linked, { mode: 0o700 });
    symlinkSync(first.path, join(linked, 'admin.token'));
    assert.throws(() => ensureAdminToken(linked), /admin\.token: expected a regular file/);

    const junk = join(tempDir(), 'data');
    dirs.push(junk);
    mkdirSync(junk, { mode: 0o700 });
    writeFileSync(join(junk, 'admin.token'), 'hello\n', { mode: 0o600 });
    assert.throws(() => ensureAdminToken(junk), /not an admin token/);
  });

  it('clients read REAGENT_GATEWAY_TOKEN first, then the file; messages never quote a token', () => {
    const dir = join(tempDir(), 'data');
    dirs.push(dir);
    const missing = findAdminToken({}, dir);
    assert.ok(!missing.ok && /does not exist .*REAGENT_GATEWAY_TOKEN/.test(missing.error));
    const { token } = ensureAdminToken(dir);
    assert.deepEqual(findAdminToken({}, dir), { ok: true, token, from: join(dir, 'admin.token') });
    const fromEnv = newAdminToken();
    assert.deepEqual(findAdminToken({ REAGENT_GATEWAY_TOKEN: fromEnv }, dir), { ok: true, token: fromEnv, from: 'REAGENT_GATEWAY_TOKEN' });
    const bad = findAdminToken({ REAGENT_GATEWAY_TOKEN: 'rgw_secret part' }, dir);
    assert.ok(!bad.ok && !bad.error.includes('secret part'));
    assert.equal(readFileSync(join(dir, 'admin.token'), 'utf8').trim(), token);
  });
});
