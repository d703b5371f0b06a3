// Faults between the agent and the cloud, with real processes: the router
// killed and restarted, a link that goes silent without closing, a backend
// that stops answering heartbeats, the daemon killed with reports waiting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendSim } from './helpers/backend-sim.js';
import { BACKEND_USER, STUDIO_USER, proc, sessionState, startHarness, startPeers, until } from './helpers/harness.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { callOutcome, connectPeer } from './helpers/wamp-peer.js';
import type { Link } from '../../actors/link.js';
import { AppId } from '../../machines/app-id.js';

const POLICY = { retry: { initialMs: 60_000, maxMs: 60_000, multiplier: 1, jitter: 0 }, maxFailures: 1, healthyResetMs: 1000, startTimeoutMs: 60_000 };
const online = (h: { daemon: Parameters<typeof sessionState>[0] }) => JSON.stringify(sessionState(h.daemon)).includes('online');
const sessions = (h: { daemon: Parameters<typeof sessionState>[0] }) => (h.daemon.system.snapshot('studio:connection') as { context: { sessions: number } }).context.sessions;

test('router killed and restarted: the agent reconnects, registers again, drains the outbox once, and nothing happens twice', async () => {
  const h = await startHarness();
  let backend2: BackendSim | undefined;
  try {
    await until(() => online(h), 15_000, 'online');
    const sys = h.daemon.system;
    sys.spawn(AppId.format('PROD', '21'), 'app', { appKey: '21', appName: 'pump', stage: 'PROD', version: '1.0.0', initial: 'PRESENT', policy: POLICY });
    await h.backend.until(() => h.backend.statesOf(21, 'PROD').length === 1, 10_000, 'first report delivered');

    await h.router.crash('SIGKILL');
    await until(() => !online(h), 10_000, 'the agent notices');
    // While the link is down: the app moves on twice; only where it ends up is worth sending.
    sys.send(AppId.format('PROD', '21'), 'test', 'REQUEST', { target: 'REMOVED', requestId: 'r1' });
    sys.spawn(AppId.format('PROD', '22'), 'app', { appKey: '22', appName: 'valve', stage: 'PROD', version: '1.0.0', initial: 'RUNNING', policy: POLICY });
    await sys.flush();
    await until(() => (h.link.reports?.pending().length ?? 0) === 2, 5000, 'two reports waiting (one per app)');

    await h.router.restart();
    backend2 = new BackendSim({ url: h.router.url, ...BACKEND_USER, allow: [`*:${STUDIO_USER.authid}`] });
    await backend2.start();
    await backend2.until(() => backend2!.statuses().includes('CONNECTED'), 20_000, 'CONNECTED after restart');
    await backend2.until(() => backend2!.reports().length === 2, 10_000, 'outbox drained');
    assert.deepEqual(backend2.statesOf(21, 'PROD'), ['DELETING']);
    assert.deepEqual(backend2.statesOf(22, 'PROD'), ['RUNNING']);
    assert.equal(backend2.deliveries.length, backend2.reports().length, 'no report delivered twice');
    await until(() => h.link.reports?.pending().length === 0, 5000, 'outbox empty once acknowledged');
    assert.equal(backend2.callsTo('wamp.session.add_testament').length, 1, 'testament added again, once');
    const s = await connectPeer(h.router.url, STUDIO_USER.authid, STUDIO_USER.secret);
    try {
      assert.equal((await callOutcome(s.session, proc('device_handshake'))).ok, true, 'device API registered again');
    } finally {
      await s.close();
    }
    assert.equal(sessions(h), 2);
  } finally {
    await backend2?.stop();
    await h.stop();
  }
});

test('a proxy that stops forwarding without closing: ping/pong finds the dead link, the agent reconnects', async () => {
  const peers = await startPeers();
  const proxy = await startTcpProxy(peers.router.port);
  const h = await startHarness({ peers, endpoint: () => proxy.url, link: { ppTimeoutMs: 300, connTimeoutMs: 1000 } });
  try {
    await until(() => online(h), 15_000, 'online through the proxy');
    const deadAt = Date.now();
    proxy.stall();
    await until(() => h.logs.some((l) => l.includes('no pong within two ping intervals')), 10_000, 'dead link detected');
    const detectedMs = Date.now() - deadAt;
    // Two intervals of 300 ms, give or take timer granularity and a loaded CI box.
    assert.ok(detectedMs >= 300, `detected after ${detectedMs} ms`);
    assert.ok(!online(h));
    // Attempts into the black hole are cut by -connTimeout, then backed off.
    const lastError = () => (h.daemon.system.snapshot('studio:connection') as { context: { lastError: string | null } }).context.lastError;
    await until(() => lastError() === 'connect timeout', 10_000, 'an attempt bounded by the connect timeout');
    proxy.heal();
    await until(() => online(h) && sessions(h) === 2, 20_000, 'online again');
    assert.ok(h.logs.some((l) => l.includes('"msg":"studio link connected"') && l.includes('"attempt"')));
    const s = await connectPeer(peers.router.url, STUDIO_USER.authid, STUDIO_USER.secret);
    try {
      assert.equal((await callOutcome(s.session, proc('device_handshake'))).ok, true);
    } finally {
      await s.close();
    }
  } finally {
    await h.stop();
    await proxy.close();
    await peers.backend.stop();
    await peers.router.stop();
  }
});

test('two heartbeats that get no answer in a row count as a lost link', async () => {
  const h = await startHarness({ link: { respTimeoutMs: 400, sessionPolicy: { heartbeatIntervalMs: 300, guardRetryMs: 200 } } });
  try {
    await until(() => online(h), 15_000, 'online');
    h.backend.hangs.add('reswarm.devices.update_device_status');
    await until(() => h.logs.some((l) => l.includes('heartbeat failed twice in a row')), 15_000, 'heartbeat loss detected');
    h.backend.release();
    await until(() => online(h) && sessions(h) >= 2, 20_000, 'a new session');
  } finally {
    await h.stop();
  }
});

test('the daemon SIGKILLed with reports in its outbox delivers them after the restart', async () => {
  const agentDir = mkdtempSync(join(tmpdir(), 'reagent-kill-'));
  const peers = await startPeers();
  try {
    const fixture = fileURLToPath(new URL('./fixtures/queue-reports.ts', import.meta.url));
    // Nothing listens on port 9 of loopback: the reports can only wait.
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, agentDir, 'ws://127.0.0.1:9/ws'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    await until(() => /QUEUED 3/.test(out), 30_000, `the child queued its reports (output: ${out})`);
    child.kill('SIGKILL');
    await exited;

    const h = await startHarness({ peers, agentDir });
    try {
      await peers.backend.until(() => peers.backend.reports().length >= 3, 20_000, 'reports delivered after the restart');
      assert.deepEqual(peers.backend.statesOf(31, 'PROD'), ['DELETING']);
      assert.deepEqual(peers.backend.statesOf(32, 'PROD'), ['PRESENT']);
      assert.deepEqual(peers.backend.statesOf(33, 'PROD'), ['PRESENT']);
      await until(() => h.link.reports?.pending().length === 0, 5000, 'outbox empty once acknowledged');
    } finally {
      await h.stop();
    }
  } finally {
    await peers.backend.stop();
    await peers.router.stop();
    rmSync(agentDir, { recursive: true, force: true });
  }
});

test('apps that changed before the studio link started (the apps link boots first) are reported when it starts', async () => {
  const earlyApps: Link = {
    name: 'early-apps',
    async start(ctx) {
      ctx.system.spawn(AppId.format('PROD', '41'), 'app', { appKey: '41', appName: 'early', stage: 'PROD', version: '1.0.0', initial: 'RUNNING', policy: POLICY });
      await ctx.system.flush();
    },
    async stop() {},
  };
  const h = await startHarness({ before: () => [earlyApps] });
  try {
    await h.backend.until(() => h.backend.statesOf(41, 'PROD').length === 1, 15_000, 'the early app reported');
    assert.deepEqual(h.backend.statesOf(41, 'PROD'), ['RUNNING']);
  } finally {
    await h.stop();
  }
});
