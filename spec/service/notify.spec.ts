// Readiness, watchdog and stop notifications of the daemon under a systemd
// notification socket. systemd is not PID 1 here, so its socket is played by
// notify-peer/ (a Go program: Node has no AF_UNIX datagram socket); the
// messages are sent by the real systemd-notify, as under systemd.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN, requireBuild } from '../helpers/cli.js';
import { missingPeer, startProc, tempDir, type Proc } from '../helpers/executables.js';
import { watchdogInterval } from '../../adapters/systemd/notify.js';
import { buildNotifyPeer, startNotifyPeer, type NotifyPeer } from './notify-peer.js';

describe('the daemon under a systemd notification socket', () => {
  const dir = tempDir('reagent-notify-');
  const procs: Proc[] = [];
  let peer: NotifyPeer | null = null;
  let missing: string | null = null;

  before(async () => {
    requireBuild();
    const bin = buildNotifyPeer();
    if (typeof bin !== 'string') missing = bin.missing;
    else peer = await startNotifyPeer(bin, join(dir, 'notify.sock'));
  });
  after(async () => {
    for (const p of procs) await p.stop();
    await peer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const daemon = (name: string, env: NodeJS.ProcessEnv) => {
    const p = startProc([process.execPath, MAIN, '-offline', '-agentDir', join(dir, name)], { PATH: process.env.PATH, HOME: dir, ...env });
    procs.push(p);
    return p;
  };

  it('says READY=1 with a status once ready, pings the watchdog, and says STOPPING=1 on SIGTERM', async (t) => {
    if (!peer) return missingPeer(t, missing!);
    // 0.6 s: a ping every 200 ms.
    const p = daemon('a', { NOTIFY_SOCKET: peer.socket, WATCHDOG_USEC: '600000' });
    await p.waitFor(/"msg":"ready"/);
    const ready = await peer.waitFor((m) => m.text.startsWith('READY=1'));
    assert.equal(ready.text, 'READY=1\nSTATUS=running; links: studio-fallback, apps, network');
    for (let n = 1; n <= 3; n++) await peer.waitFor(() => peer!.messages().filter((x) => x.text === 'WATCHDOG=1').length >= n);
    // Sent by systemd-notify children; as root they carry the daemon's pid (systemd-notify sends
    // its parent's credentials), so systemd attributes them to the main process.
    if (process.getuid?.() === 0) {
      for (const m of peer.messages().filter((x) => /^(READY|WATCHDOG)=1/.test(x.text))) assert.equal(m.pid, p.child.pid, JSON.stringify(m));
    }
    assert.match(p.output(), /"ready":true,"watchdogMs":200,"msg":"told systemd we are ready"/);
    assert.equal(await p.stop(), 0, p.output());
    await peer.waitFor((m) => m.text === 'STOPPING=1');
    const after = peer.messages().length;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(peer.messages().length, after, 'pings after the daemon stopped');
  });

  it('pings no watchdog that is meant for another process (WATCHDOG_PID)', async (t) => {
    if (!peer) return missingPeer(t, missing!);
    const before = peer.messages().length;
    const p = daemon('b', { NOTIFY_SOCKET: peer.socket, WATCHDOG_USEC: '300000', WATCHDOG_PID: '1' });
    await p.waitFor(/"msg":"told systemd we are ready"/);
    assert.match(p.output(), /"watchdogMs":null/);
    assert.equal(await p.stop(), 0);
    assert.deepEqual(
      peer.messages().slice(before).map((m) => m.text.split('\n')[0]),
      ['READY=1', 'BARRIER=1', 'STOPPING=1', 'BARRIER=1'],
    );
  });

  it('logs a notification that cannot be delivered and keeps running', async () => {
    const p = daemon('c', { NOTIFY_SOCKET: join(dir, 'nobody-listens.sock') });
    await p.waitFor(/"msg":"systemd notification failed"/);
    await p.waitFor(/"ready":false/);
    assert.equal(await p.stop(), 0, p.output());
  });

  it('without NOTIFY_SOCKET, no notifications and no systemd-notify', async () => {
    const p = daemon('d', {});
    await p.waitFor(/"msg":"ready"/);
    assert.equal(await p.stop(), 0);
    assert.doesNotMatch(p.output(), /systemd/);
  });
});

describe('watchdog interval', () => {
  it('is a third of WATCHDOG_USEC, only for our pid', () => {
    assert.equal(watchdogInterval({ WATCHDOG_USEC: '60000000' }, 42), 20_000);
    assert.equal(watchdogInterval({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '42' }, 42), 20_000);
    assert.equal(watchdogInterval({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '43' }, 42), null);
    for (const bad of [undefined, '', '0', '-5', '1e6', 'soon']) assert.equal(watchdogInterval({ WATCHDOG_USEC: bad }, 42), null, String(bad));
  });
});
