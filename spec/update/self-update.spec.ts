// Self-update end to end with the real single executable (dist-bin/reagent-linux-amd64)
// against a release server on loopback: a good update commits; a new version that
// never gets its link up is rolled back and blacklisted; a wrong or missing checksum
// is refused; update_agent through the real WAMP router publishes progress; a new
// version that crashes at every start is rolled back by the last good version's
// pre-start guard, run the way the systemd unit runs it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { executable, startProc, tempDir, type Proc } from '../helpers/executables.js';
import { DEVICE, flockFor, proc, startPeers, STUDIO_USER } from '../studio/helpers/harness.js';
import type { BackendSim } from '../studio/helpers/backend-sim.js';
import type { RouterPeer } from '../studio/helpers/router.js';
import { callOutcome, connectPeer, type Peer } from '../studio/helpers/wamp-peer.js';
import { linkTarget, readState, restamp, sha256, startReleaseServer, until, type ReleaseServer } from './helpers.js';

const OLD = '0.1.0';

describe('self-update of the single executable', () => {
  let exe: string;
  let work: string;
  const cleanups: Array<() => Promise<void> | void> = [];

  before(() => {
    exe = executable('reagent-linux-amd64');
    work = tempDir('reagent-update-');
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    rmSync(work, { recursive: true, force: true });
  });

  /** A fresh release server and agent dir; the old version copied alone. */
  async function setup(name: string) {
    const dir = join(work, name);
    mkdirSync(join(dir, 'releases'), { recursive: true });
    const server = await startReleaseServer(join(dir, 'releases'));
    cleanups.push(() => server.close());
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const old = join(bin, 'reagent');
    copyFileSync(exe, old);
    chmodSync(old, 0o755);
    return { dir, server, old, agentDir: join(dir, 'agent') };
  }

  function build(dir: string, version: string): string {
    const out = join(dir, `reagent-${version}`);
    restamp(exe, out, version);
    return out;
  }

  function flock(dir: string, url: string, server: ReleaseServer): string {
    const file = join(dir, 'device.flock');
    writeFileSync(file, JSON.stringify({ ...flockFor(url), update_url: server.base, environment: 'production' }));
    return file;
  }

  function env(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}`, ...extra };
  }

  function start(command: string[], e: NodeJS.ProcessEnv): Proc {
    const p = startProc(command, e);
    cleanups.push(async () => void (await p.stop(5000)));
    return p;
  }

  /** A loopback port nothing listens on. */
  async function closedPort(): Promise<number> {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }

  describe('through the studio', () => {
    let router: RouterPeer;
    let backend: BackendSim;
    before(async () => {
      ({ router, backend } = await startPeers());
      cleanups.push(async () => {
        await backend.stop().catch(() => {});
        await router.stop();
      });
    });

    it('update_agent publishes progress, answers with the UpdateResult, and the new version commits', async () => {
      const { dir, server, old, agentDir } = await setup('studio');
      const next = build(dir, '0.2.0');
      server.publish('0.2.0', next);
      server.manifest({ production: '0.2.0', test: '0.0.1', all: '0.0.1' });
      const agent = start([old, '-config', flock(dir, router.url, server), '-agentDir', agentDir, '-update=false', '-nmw=false'], env(dir, { REAGENT_UPDATE_PROBATION_S: '90' }));
      await backend.until(() => backend.statuses().includes('CONNECTED'), 60_000, 'the device online');

      const studio: Peer = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
      cleanups.push(() => studio.close());
      const before = await callOutcome(studio.session, proc('get_agent_metadata'));
      assert.ok(before.ok, JSON.stringify(before));
      const meta = before.args[0] as Record<string, unknown>;
      assert.deepEqual([meta.version, meta.canUpdate, meta.latestVersion, meta.hasLatest], [OLD, true, '0.2.0', false]);

      const progress: Array<{ increment: number; currentBytes: number; fileSize: number }> = [];
      await studio.session.subscribe(`re.mgmt.${DEVICE.serial_number}.agent_update_progress`, (args: unknown[] = []) => void progress.push(args[0] as { increment: number; currentBytes: number; fileSize: number }));
      const answer = await callOutcome(studio.session, proc('update_agent'));
      assert.ok(answer.ok, JSON.stringify(answer));
      const r = answer.args[0] as Record<string, unknown>;
      const size = (await import('node:fs')).statSync(next).size;
      assert.deepEqual(
        { ...r, Message: undefined },
        { CurrentVersion: OLD, LatestVersion: '0.2.0', Message: undefined, DidAgentUpdate: true, DidTunnelUpdate: false, DidUpdate: true, InProgress: false, TotalFileSize: size },
      );
      assert.match(String(r.Message), /installed 0\.2\.0/);
      assert.ok(progress.length >= 2, `progress published: ${JSON.stringify(progress)}`);
      assert.ok(progress.every((p) => Object.keys(p).sort().join() === 'currentBytes,fileSize,increment'), JSON.stringify(progress[0]));
      assert.equal(progress.at(-1)!.currentBytes, size);
      assert.equal(progress.reduce((n, p) => n + p.increment, 0), size, 'the increments add up to the file');

      // The same process (execve, no supervisor) comes back as 0.2.0, links up, and commits.
      const pid = agent.child.pid;
      await until(() => readState(agentDir)?.phase === 'committed', 90_000, 'the update committed', agent.output);
      assert.equal(agent.child.pid, pid);
      assert.equal(agent.child.exitCode, null, 'still running');
      assert.equal(linkTarget(join(agentDir, 'current')), 'versions/0.2.0');
      assert.equal(linkTarget(join(agentDir, 'known-good')), 'versions/0.2.0');
      assert.equal(sha256(join(agentDir, 'versions/0.2.0/reagent')), sha256(next));
      assert.equal(sha256(join(agentDir, `versions/${OLD}/reagent`)), sha256(old), 'the previous version is kept');
      const state = readState(agentDir)!;
      assert.deepEqual([state.from, state.to, state.attempts, state.links, state.linksMode], [OLD, '0.2.0', 1, ['studio'], 'all']);
      const afterMeta = await callOutcome(studio.session, proc('get_agent_metadata'));
      assert.ok(afterMeta.ok);
      const m2 = afterMeta.args[0] as Record<string, unknown>;
      assert.deepEqual([m2.version, m2.latestVersion, m2.hasLatest], ['0.2.0', '0.2.0', true]);
      assert.equal(await agent.stop(), 0, agent.output());
    });
  });

  it('a new version that never brings its link up is rolled back and blacklisted', async () => {
    const { dir, server, old, agentDir } = await setup('no-link');
    server.publish('0.3.0', build(dir, '0.3.0'));
    server.manifest({ production: '0.3.0' });
    const port = await closedPort();
    const agent = start([old, '-config', flock(dir, `ws://127.0.0.1:${port}/ws`, server), '-agentDir', agentDir, '-nmw=false'], env(dir, { REAGENT_UPDATE_PROBATION_S: '4' }));
    await agent.waitFor(/update rolled back to 0\.1\.0, 0\.3\.0 blacklisted/, 120_000);
    // Back on the old version, which finds 0.3.0 again and leaves it alone.
    await agent.waitFor(/0\.3\.0 failed its probation on this device before; it is not installed again/, 60_000);
    const state = readState(agentDir)!;
    assert.equal(state.phase, 'rolled back');
    assert.deepEqual(state.blacklist, ['0.3.0']);
    assert.match(String(state.reason), /0\.3\.0 did not become ready with a link \(studio\) up within 4 s/);
    assert.equal(linkTarget(join(agentDir, 'current')), `versions/${OLD}`);
    assert.ok(!existsSync(join(agentDir, 'versions/0.3.0')), 'the bad version is removed');
    assert.equal(agent.child.exitCode, null, 'the agent runs on');
    assert.equal(await agent.stop(), 0, agent.output());
  });

  it('refuses a download whose .sha256 does not match, or is missing', async () => {
    const { dir, server, old, agentDir } = await setup('checksum');
    const next = build(dir, '0.2.0');
    server.publish('0.2.0', next, `${'0'.repeat(64)}  reagent\n`);
    server.manifest({ production: '0.2.0' });
    const port = await closedPort();
    const args = [old, '-config', flock(dir, `ws://127.0.0.1:${port}/ws`, server), '-agentDir', agentDir, '-nmw=false'];
    const wrong = start(args, env(dir));
    await wrong.waitFor(/update to 0\.2\.0 refused: refusing \S+: its sha256 is [0-9a-f]{64}, the published checksum says 0{64}/, 60_000);
    assert.equal(await wrong.stop(), 0);
    assert.equal(linkTarget(join(agentDir, 'current')), null, 'nothing swapped');
    assert.ok(!existsSync(join(agentDir, 'versions/0.2.0')), 'nothing installed');

    rmSync(join(server.dir, 're-agent/linux/amd64/0.2.0/reagent.sha256'));
    const missing = start(args, env(dir));
    await missing.waitFor(/update to 0\.2\.0 refused: refusing \S+: its checksum \S+\.sha256 cannot be read \(\S+: HTTP 404\)/, 60_000);
    assert.equal(await missing.stop(), 0);
    assert.ok(!server.requests.includes('/re-agent/linux/amd64/0.2.0/reagent') || server.requests.filter((r) => r.endsWith('/reagent')).length === 1, 'without a checksum the binary is not even fetched');
    assert.ok(!existsSync(join(agentDir, 'versions/0.2.0')));
  });

  it('a new version that crashes at every start is rolled back by the pre-start guard, as the unit runs it', async () => {
    const { dir, server, old, agentDir } = await setup('crash');
    // It answers -version (the download check) and crashes otherwise: a build broken before any of its code runs.
    const bad = join(dir, 'bad');
    writeFileSync(bad, '#!/bin/sh\nif [ "$1" = -version ]; then echo 0.4.0; exit 0; fi\necho "crashing" >&2\nexit 3\n');
    chmodSync(bad, 0o755);
    server.publish('0.4.0', bad);
    server.manifest({ production: '0.4.0' });
    const port = await closedPort();
    const daemonArgs = ['-config', flock(dir, `ws://127.0.0.1:${port}/ws`, server), '-agentDir', agentDir, '-nmw=false'];
    // What systemd does with the unit `reagent service install` writes (Restart=always):
    // ExecStartPre=-<agentDir>/known-good/reagent -agentDir D update-guard, then ExecStart=<agentDir>/current/reagent.
    const log: string[] = [];
    let running: Proc | null = null;
    for (let start = 1; start <= 8; start++) {
      const invocation = randomUUID().replace(/-/g, '');
      const e = env(dir, { INVOCATION_ID: invocation, REAGENT_UPDATE_PROBATION_S: '30' });
      const guard = join(agentDir, 'known-good/reagent');
      if (existsSync(guard)) log.push((await run([guard, '-agentDir', agentDir, 'update-guard'], e)).trim());
      const main = existsSync(join(agentDir, 'current/reagent')) ? join(agentDir, 'current/reagent') : old;
      const p = startProc([main, ...daemonArgs], e);
      cleanups.push(async () => void (await p.stop(5000)));
      const outcome = await Promise.race([p.exit.then((code) => ({ code })), p.waitFor(/failed its probation on this device before/, 120_000).then(() => ({ code: 'running' as const }))]);
      log.push(`start ${start}: ${main === old ? 'installed binary' : linkTarget(join(agentDir, 'current'))} -> ${outcome.code}`);
      if (outcome.code === 'running') {
        running = p;
        break;
      }
    }
    assert.ok(running, `the old version runs again:\n${log.join('\n')}`);
    // 1: the old version updates and exits for systemd; 2-4: 0.4.0 crashes three times; 5: the guard restores 0.1.0.
    assert.deepEqual(log.filter((l) => l.startsWith('start')), [
      'start 1: installed binary -> 0',
      'start 2: versions/0.4.0 -> 3',
      'start 3: versions/0.4.0 -> 3',
      'start 4: versions/0.4.0 -> 3',
      `start 5: versions/${OLD} -> running`,
    ]);
    assert.match(log.join('\n'), /update-guard: update rolled back: 0\.4\.0 was started 3 times without becoming ready/);
    const state = readState(agentDir)!;
    assert.deepEqual([state.phase, state.blacklist, state.attempts], ['rolled back', ['0.4.0'], 4]);
    assert.equal(await running.stop(), 0);
  });
});

function run(command: string[], e: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn(command[0]!, command.slice(1), { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', () => resolve(out));
  });
}
