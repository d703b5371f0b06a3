// The single executable next to `node dist/cli/main.cjs`, measured the same
// way in the same run: start-up to "ready" and idle RSS of `-offline`, with
// and without V8's code cache in the blob; its size next to the Node binary it
// is made from; and the cost of one systemd notification (a spawned
// systemd-notify) next to a bare spawn.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fetchPackageFiles, nodePackage } from './package/runtime.js';
import { readTargets } from './package/targets.js';
import { buildNotifyPeer, startNotifyPeer } from '../spec/service/notify-peer.js';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const MAIN = join(ROOT, 'dist/cli/main.cjs');

export interface StartSample {
  startupMs: number;
  idleRssKiB: number;
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

function sample(command: string[], idleMs: number): Promise<StartSample> {
  const dir = mkdtempSync(join(tmpdir(), 'reagent-bench-exe-'));
  return new Promise<StartSample>((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command[0]!, [...command.slice(1), '-offline', '-agentDir', join(dir, 'agent')], { env: { PATH: '/usr/bin:/bin', HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let startupMs = -1;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (startupMs < 0 && out.includes('"msg":"ready"')) {
        startupMs = performance.now() - t0;
        setTimeout(() => {
          const idleRssKiB = rssKiB(child.pid!);
          child.kill('SIGTERM');
          child.once('exit', () => resolve({ startupMs, idleRssKiB }));
        }, idleMs);
      }
    });
    child.once('exit', (code) => startupMs < 0 && reject(new Error(`${command.join(' ')} exited (${code}) before ready:\n${out}`)));
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface ExecutableBench {
  variants: Record<string, StartSample>;
  bytes: number;
  gzipBytes: number;
  nodeBytes: number;
  notify: { notifyMs: number; spawnMs: number } | { skipped: string };
}

export async function benchExecutable(opts: { rounds: number; idleMs: number }): Promise<ExecutableBench | { skipped: string }> {
  const sea = join(ROOT, 'dist-bin/reagent-linux-amd64');
  if (process.arch !== 'x64') return { skipped: 'the amd64 executable runs on x64 only' };
  if (!existsSync(sea)) return { skipped: 'no dist-bin/reagent-linux-amd64 (npm run package)' };
  const amd64 = readTargets(join(ROOT, 'targets')).find((t) => t.spec === 'linux/amd64')!;
  const [node22] = fetchPackageFiles(nodePackage(amd64), ['bin/node'], join(ROOT, 'dist-bin/.cache'));

  // The same executable with V8's code cache in its blob, made for this run.
  const cacheOut = mkdtempSync(join(tmpdir(), 'reagent-bench-cc-'));
  try {
    const made = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/package.ts'), '--target', 'linux/amd64', '--code-cache', '--out', cacheOut], { cwd: ROOT, encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`packaging with --code-cache failed: ${made.stderr}`);
    const variants: Record<string, string[]> = {
      'node dist/cli/main.cjs (this Node)': [process.execPath, MAIN],
      'node 22 dist/cli/main.cjs': [node22!, MAIN],
      'single executable': [sea],
      'single executable + code cache': [join(cacheOut, 'reagent-linux-amd64')],
    };
    const samples: Record<string, StartSample[]> = {};
    for (let i = 0; i < opts.rounds; i++) {
      for (const [name, command] of Object.entries(variants)) (samples[name] ??= []).push(await sample(command, opts.idleMs));
    }
    const picked = Object.fromEntries(
      Object.entries(samples).map(([k, xs]) => [k, { startupMs: median(xs.map((x) => x.startupMs)), idleRssKiB: median(xs.map((x) => x.idleRssKiB)) }]),
    );
    const bytes = readFileSync(sea);
    return {
      variants: picked,
      bytes: bytes.length,
      gzipBytes: gzipSync(bytes, { level: 6 }).length,
      nodeBytes: readFileSync(node22!).length,
      notify: await benchNotify(opts.rounds * 10),
    };
  } finally {
    rmSync(cacheOut, { recursive: true, force: true });
  }
}

/** One WATCHDOG=1 through systemd-notify (spawn + barrier) next to spawning `true`. */
async function benchNotify(n: number): Promise<{ notifyMs: number; spawnMs: number } | { skipped: string }> {
  const bin = buildNotifyPeer();
  if (typeof bin !== 'string') return { skipped: bin.missing };
  const dir = mkdtempSync(join(tmpdir(), 'reagent-bench-notify-'));
  const peer = await startNotifyPeer(bin, join(dir, 'notify.sock'));
  const time = async (command: string, args: string[], env: NodeJS.ProcessEnv) => {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => spawn(command, args, { env, stdio: 'ignore' }).once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exit ${code}`)))));
      xs.push(performance.now() - t0);
    }
    return median(xs);
  };
  try {
    const spawnMs = await time('true', [], { PATH: '/usr/bin:/bin' });
    const notifyMs = await time('systemd-notify', ['WATCHDOG=1'], { PATH: '/usr/bin:/bin', NOTIFY_SOCKET: peer.socket });
    return { notifyMs, spawnMs };
  } finally {
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
