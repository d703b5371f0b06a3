// The linux/amd64 single executable as a device runs it: copied alone into an
// empty directory, PATH without Node, no node_modules anywhere above it.
// Everything it needs at run time must come from inside it: the daemon's code,
// SQLite's wasm, the inspector page and elkjs, pino-pretty, the PTY addon.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { DIST_BIN, ROOT, executable, freshBuild, installAlone, missingPeer, nodeOnPath, runProc, startProc, toolPath, type Proc } from '../helpers/executables.js';
import { spawn as ptySpawn } from '@lydell/node-pty';
import { buildNotifyPeer, startNotifyPeer, type NotifyPeer } from '../service/notify-peer.js';

const FILE = 'reagent-linux-amd64';
const FIXTURE = 'connection-flapping.ndjson';

describe('the amd64 executable, alone in an empty directory, without Node', () => {
  let dir: string;
  let exe: string;
  let path: string;
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: path, HOME: join(dir, 'home'), ...extra });
  const procs: Proc[] = [];

  before(() => {
    ({ dir, exe } = installAlone(executable(FILE)));
    // What the exec session below runs, and systemd-notify; nothing else.
    path = toolPath(['sh', 'cat', 'env', 'uname', 'systemd-notify']);
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dirname(path), { recursive: true, force: true });
  });

  it('matches its sha256 file, and nothing around it could stand in for Node', () => {
    const check = spawnSync('sha256sum', ['-c', `${FILE}.sha256`], { cwd: DIST_BIN, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.equal(check.stdout.trim(), `${FILE}: OK`);
    assert.equal(nodeOnPath(path), null);
    assert.deepEqual(readdirSync(dir), ['reagent']);
    for (let d = dir; d !== dirname(d); d = dirname(d)) assert.ok(!existsSync(join(d, 'node_modules')), `${d}/node_modules exists`);
  });

  it('-version and "version" print the version, the packaging commit, the build date and Node 22', () => {
    const build = freshBuild();
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = runProc([exe, '-version'], env(), { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], pkg.version);
    const commit = /^commit +(\S+)$/.exec(lines[1] ?? '')?.[1];
    assert.match(commit ?? '', /^[0-9a-f]{12}(-dirty)?$/);
    const built = /^built +(\S+)$/.exec(lines[2] ?? '')?.[1] ?? '';
    assert.equal(new Date(built).toISOString(), built);
    assert.deepEqual({ commit, built }, { commit: build.stamp.commit, built: build.stamp.date });
    assert.match(lines[3] ?? '', /^node +v22\.23\.5 \(linux\/amd64, single executable\)$/);
    assert.equal(runProc([exe, 'version'], env(), { cwd: dir }).stdout, r.stdout);
  });

  it('runs -offline to ready from its embedded SQLite and stops on SIGTERM', async () => {
    const agentDir = join(dir, 'agent-offline');
    const daemon = startProc([exe, '-offline', '-agentDir', agentDir], env(), dir);
    procs.push(daemon);
    await daemon.waitFor(/"msg":"ready"/);
    assert.equal(await daemon.stop(), 0, daemon.output());
    assert.match(daemon.output(), /"msg":"reagent stopped"/);
    assert.ok(statSync(join(agentDir, 'reagent.db')).size > 0);
    // Human log lines come from pino-pretty inside the executable.
    const pretty = startProc([exe, '-offline', '-agentDir', agentDir], env({ LOG_ENCODING: 'console' }), dir);
    procs.push(pretty);
    await pretty.waitFor(/INFO.*: ready/);
    assert.equal(await pretty.stop(), 0, pretty.output());
  });

  it('replays a recording fixture', () => {
    copyFileSync(join(ROOT, 'spec/fixtures/recordings', FIXTURE), join(dir, FIXTURE));
    const r = runProc([exe, 'replay', FIXTURE], env(), { cwd: dir });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^reproduced/);
  });

  it('serves the inspector page and elkjs from inside itself', async () => {
    const daemon = startProc([exe, '-offline', '-agentDir', join(dir, 'agent-inspect'), '-inspect=127.0.0.1:0'], env(), dir);
    procs.push(daemon);
    const [, url] = await daemon.waitFor(/inspector: (http:\/\/\S+)/);
    const login = await fetch(url!, { redirect: 'manual' });
    assert.equal(login.status, 303);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const origin = new URL(url!).origin;
    for (const [path, file] of [
      ['/', 'inspector/public/index.html'],
      ['/app.js', 'inspector/public/app.js'],
      ['/elk.js', 'node_modules/elkjs/lib/elk.bundled.js'],
    ] as const) {
      const res = await fetch(`${origin}${path}`, { headers: { cookie } });
      assert.equal(res.status, 200, path);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(ROOT, file))), `${path} differs from ${file}`);
    }
    assert.equal(await daemon.stop(), 0, daemon.output());
  });

  it('runs a shell on a pseudo-terminal with its PTY addon, extracted privately and checked', () => {
    const agentDir = join(dir, 'agent-pty');
    const r = runProc([exe, '-agentDir', agentDir, 'self-test', 'pty'], env(), { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^pty ok: /);
    const native = join(agentDir, 'native');
    assert.equal(statSync(native).mode & 0o777, 0o700);
    const [addon, ...more] = readdirSync(native);
    assert.deepEqual(more, []);
    const bytes = readFileSync(join(native, addon!));
    const sha = createHash('sha256').update(bytes).digest('hex');
    assert.equal(addon, `pty-${sha.slice(0, 16)}.node`);
    assert.ok(bytes.equals(readFileSync(join(ROOT, 'node_modules/@lydell/node-pty-linux-x64/pty.node'))));
  });

  it('prints a service unit that starts the executable itself, which systemd-analyze verify accepts', (t) => {
    const agentDir = join(dir, 'opt-reagent');
    const r = runProc([exe, 'service', 'install', '--dry-run', '-agentDir', agentDir, '--', '-offline'], env(), { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    // It runs from the agent dir, where the self-update swaps versions, after the last good version's guard.
    assert.match(r.stdout, new RegExp(`^ExecStart=${agentDir}/current/reagent -agentDir ${agentDir} -offline$`, 'm'));
    assert.match(r.stdout, new RegExp(`^ExecStartPre=-${agentDir}/known-good/reagent -agentDir ${agentDir} update-guard$`, 'm'));
    assert.match(r.stderr, new RegExp(`would copy ${exe} to ${agentDir}/versions/0\\.1\\.0/reagent and point current and known-good at it`));
    // What the install would lay out, so that systemd-analyze finds both executables.
    mkdirSync(join(agentDir, 'versions/0.1.0'), { recursive: true });
    copyFileSync(exe, join(agentDir, 'versions/0.1.0/reagent'));
    symlinkSync('versions/0.1.0', join(agentDir, 'current'));
    symlinkSync('versions/0.1.0', join(agentDir, 'known-good'));
    const unit = join(dir, 'reagent.service');
    writeFileSync(unit, r.stdout);
    const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    if (verify.error) return missingPeer(t, 'systemd-analyze is not installed (Debian systemd)');
    assert.deepEqual([verify.status, `${verify.stdout}${verify.stderr}`.trim()], [0, '']);
  });

  it('carries a gateway exec session and a terminal, gateway and agent both from the executable, under a systemd notify socket', async (t) => {
    const home = join(dir, 'home');
    const gateway = startProc([exe, 'gateway', '--listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0'], env(), dir);
    procs.push(gateway);
    const [, grpc, api] = await gateway.waitFor(/"grpc":"([^"]+)","api":"([^"]+)"/);
    const admin = runProc([exe, 'admin', 'create', 'agent', 'runner', '--api', api!], env(), { cwd: dir });
    assert.equal(admin.code, 0, admin.stderr);
    const dsn = admin.stdout.trim();

    const peerBin = buildNotifyPeer();
    let peer: NotifyPeer | null = null;
    if (typeof peerBin === 'string') peer = await startNotifyPeer(peerBin, join(dir, 'notify.sock'));
    else if (process.env.CI === 'true') throw new Error(peerBin.missing);
    else t.diagnostic(`!!! no systemd notify check here: ${peerBin.missing}`);
    const agent = startProc([exe, '-agentDir', join(dir, 'agent-gw'), 'start', 'agent'], env({ HOME: home, HOOP_KEY: dsn, ...(peer ? { NOTIFY_SOCKET: peer.socket } : {}) }), dir);
    procs.push(agent);
    try {
      await agent.waitFor(/connected with success to the gateway/);
      const r = runProc([exe, 'exec', 'runner', '--gateway', grpc!, '--', 'sh', '-c', 'cat; uname -s; env; exit 3'], env(), { cwd: dir, input: 'through the agent\n' });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stdout, /^through the agent\nLinux\n/);
      // The agent took systemd's variables out of the environment its sessions inherit.
      assert.doesNotMatch(r.stdout, /NOTIFY_SOCKET/);
      // An interactive terminal, client and agent from the executable: the agent's PTY comes from its embedded addon.
      const term = ptySpawn(exe, ['exec', 'runner', '-t', '--gateway', grpc!, '--', 'sh'], { name: 'xterm', rows: 25, cols: 90, cwd: dir, env: env() as Record<string, string> });
      let shown = '';
      term.onData((d) => (shown += d));
      const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
      term.write('[ -t 0 ] && [ -t 1 ] && echo "tty-$((6*7))"; exit 4\r');
      assert.equal(await exited, 4, shown);
      assert.match(shown, /tty-42/);
      assert.ok(readdirSync(join(dir, 'agent-gw', 'native')).some((f) => /^pty-[0-9a-f]{16}\.node$/.test(f)), 'the agent extracted its PTY addon');
      if (peer) {
        const ready = await peer.waitFor((m) => m.text.includes('READY=1'));
        assert.match(ready.text, /STATUS=running; links: gateway/);
        assert.equal(await agent.stop(), 0, agent.output());
        await peer.waitFor((m) => m.text === 'STOPPING=1');
      }
    } finally {
      await peer?.stop();
    }
  });
});
