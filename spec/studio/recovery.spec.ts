// The studio link as a user meets it after an outage, through the built CLI
// and the real router: how soon a working session is back after a dead link
// or a router restart, and what a second device with the same serial does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackendSim } from './helpers/backend-sim.js';
import { startCliDevice, type CliDevice } from './helpers/cli-device.js';
import { BACKEND_USER, DEVICE, DEVICE_AUTHID, STUDIO_USER, proc, startPeers, until } from './helpers/harness.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';
import { callOutcome, connectPeer, type Peer } from './helpers/wamp-peer.js';
import { requireBuild } from '../helpers/cli.js';

requireBuild();

// Short enough for 20 rounds in about two minutes, long enough that a loaded
// CI box answers a ping within one interval.
const PP_MS = 1500;
const CONN_MS = 1500;
/** The promise: a new working session within 2 × ppTimeout + connTimeout + 1 s of the link going silent. */
const BOUND_MS = 2 * PP_MS + CONN_MS + 1000;
const ROUNDS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A call that may never be answered (routed to a session whose link is dead) counts as not answered. */
async function handshakeWithin(peer: Peer, ms: number): Promise<boolean> {
  const outcome = callOutcome(peer.session, proc('device_handshake')).then((o) => o.ok, () => false);
  return Promise.race([outcome, sleep(ms).then(() => false)]);
}

/** Polls device_handshake until it answers; resolves with the time it first did. */
async function firstHandshake(peer: () => Peer | null, deadline: number): Promise<number> {
  while (Date.now() < deadline) {
    const p = peer();
    if (p && (await handshakeWithin(p, 300))) return Date.now();
    await sleep(25);
  }
  throw new Error('device_handshake never answered');
}

function logLines(device: CliDevice, msg: RegExp): Array<Record<string, unknown>> {
  return device.lines().filter((l) => msg.test(String(l.msg)));
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]} ms, median ${s[Math.floor(s.length / 2)]} ms, max ${s.at(-1)} ms (n=${s.length})`;
}

test(`${ROUNDS} rounds of dead links (a proxy that stops forwarding) and router restarts: a new working session within 2 × ppTimeout + connTimeout + 1 s each time`, { timeout: 240_000 }, async () => {
  const { router, backend: firstBackend } = await startPeers();
  let backend: BackendSim = firstBackend;
  const proxy = await startTcpProxy(router.port);
  const device = startCliDevice({ url: proxy.url, args: ['-ppTimeout', String(PP_MS), '-connTimeout', String(CONN_MS)] });
  let studio: Peer | null = null;
  const dead: number[] = [];
  const restart: number[] = [];
  const routerDown: number[] = [];
  try {
    await backend.until(() => backend.statuses().includes('CONNECTED'), 30_000, 'the CLI device online');
    studio = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
    assert.ok(await handshakeWithin(studio, 5000), 'working before the first round');

    for (let round = 1; round <= ROUNDS; round++) {
      const online = logLines(device, /^studio link online/).length;
      const sessions = new Set(logLines(device, /^studio link connected$/).map((l) => l.wampSession));
      // Let a ping/pong cycle pass, so the link is in its steady state when it dies.
      await sleep(PP_MS + 200);
      let silentAt: number;
      if (round % 2 === 1) {
        // Dead link: nothing closes, nothing arrives. The router is reachable again at once for new
        // connections and drops the stalled one on its side (its own timeout, shortened).
        silentAt = Date.now();
        proxy.stall();
        await sleep(300);
        proxy.heal();
        const working = await firstHandshake(() => studio, silentAt + 20_000);
        dead.push(working - silentAt);
      } else {
        silentAt = Date.now();
        await router.crash('SIGKILL');
        await studio.close().catch(() => {});
        studio = null;
        await router.restart();
        routerDown.push(Date.now() - silentAt);
        backend = new BackendSim({ url: router.url, ...BACKEND_USER, allow: [`*:${STUDIO_USER.authid}`] });
        await backend.start();
        studio = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
        const working = await firstHandshake(() => studio, silentAt + 20_000);
        restart.push(working - silentAt);
      }
      const took = (round % 2 === 1 ? dead : restart).at(-1)!;
      assert.ok(took <= BOUND_MS, `round ${round} (${round % 2 === 1 ? 'dead link' : 'router restart'}): working again after ${took} ms, over ${BOUND_MS} ms`);
      // A new session each round (the old one cannot answer), and the agent said so.
      const connected = logLines(device, /^studio link connected$/);
      assert.ok(connected.some((l) => !sessions.has(l.wampSession)), `round ${round}: a new WAMP session`);
      await until(() => logLines(device, /^studio link online/).length > online, 5000, `round ${round}: the agent says it is online again`);
      // The first attempt after losing a working session came within 1 s, whatever came before.
      const lost = device.lines().filter((l) => /^studio link: no pong within two ping intervals|^studio link lost/.test(String(l.msg))).at(-1);
      assert.ok(lost && typeof lost.retryInMs === 'number' && lost.retryInMs <= 1000, `round ${round}: first retry in ${String(lost?.retryInMs)} ms`);
    }
    // Spread over the two kinds; printed for the record (README "Studio link").
    console.log(`dead link (stall → working session): ${stats(dead)}`);
    console.log(`router restart (kill → working session): ${stats(restart)}; router down ${stats(routerDown)}`);
    assert.equal(device.reagent.child.exitCode, null, 'the daemon lives on');
  } finally {
    await studio?.close().catch(() => {});
    await device.stop();
    device.cleanup();
    await backend.stop().catch(() => {});
    await proxy.close();
    await router.stop();
  }
});

test('a second device with the same serial gives up within 15 s with exit 1; the first keeps its session and answers device_handshake', { timeout: 60_000 }, async () => {
  const { router, backend } = await startPeers();
  const first = startCliDevice({ url: router.url });
  let second: CliDevice | undefined;
  let studio: Peer | undefined;
  try {
    await backend.until(() => backend.statuses().includes('CONNECTED'), 30_000, 'the first device online');
    const [connected] = logLines(first, /^studio link connected$/);
    const wampSession = connected?.wampSession;
    assert.equal(typeof wampSession, 'number');
    studio = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
    assert.ok(await handshakeWithin(studio, 5000), 'the first answers before');

    const t0 = Date.now();
    second = startCliDevice({ url: router.url });
    // While the second tries: the first keeps answering.
    await second.reagent.waitFor(/already exists/, 15_000);
    assert.ok(await handshakeWithin(studio, 5000), 'the first answers while the second tries');
    const code = await Promise.race([second.reagent.exit, sleep(15_000 - (Date.now() - t0)).then(() => 'still running' as const)]);
    assert.equal(code, 1, `the second device exits 1 within 15 s (output:\n${second.reagent.output()})`);

    const refusals = logLines(second, /already exists/);
    assert.equal(refusals.length, 8, 'eight refused guard registrations');
    const gaps = refusals.slice(1).map((l, i) => Date.parse(String(l.time)) - Date.parse(String(refusals[i]!.time)));
    assert.ok(gaps.every((g) => g >= 950), `1 s apart: ${gaps.join(', ')} ms`);
    const error = logLines(second, /another device is connected with serial/);
    assert.equal(error.length, 1);
    assert.equal(error[0]!.level, 'error');
    assert.ok(String(error[0]!.msg).includes(DEVICE.serial_number));

    // The first device: the same WAMP session before and after, never lost, still answering.
    assert.ok(await handshakeWithin(studio, 5000), 'the first answers after the second gave up');
    assert.deepEqual(logLines(first, /^studio link connected$/).map((l) => l.wampSession), [wampSession]);
    assert.equal(logLines(first, /^studio link lost|no pong/).length, 0);
    const statuses = backend.callsTo('reswarm.devices.update_device_status').map((c) => (c.args[0] as { wamp_session_id?: unknown }).wamp_session_id);
    assert.ok(statuses.length >= 2 && statuses.every((id) => id === wampSession), `every status report is the first device's session: ${statuses.join(', ')}`);
    assert.equal(backend.testamentsFired.length, 0, 'the first session never left');
    assert.match(router.output().split('\n').filter((l) => l.startsWith(`SESSIONS authid=${DEVICE_AUTHID} `)).at(-1) ?? '', /open=1 /);
    assert.equal(first.reagent.child.exitCode, null);
  } finally {
    await studio?.close().catch(() => {});
    if (second) {
      await second.stop();
      second.cleanup();
    }
    await first.stop();
    first.cleanup();
    await backend.stop();
    await router.stop();
  }
});
