// Daemon footprint: start-up time (spawn to "ready") and idle RSS of
// `reagent -offline`, next to a bare `node -e` process measured the same way
// in the same run.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ProcessSample {
  startupMs: number;
  idleRssKiB: number;
}

const MAIN = new URL('../dist/cli/main.cjs', import.meta.url).pathname;

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

/** Spawns, waits for `ready` on stdout, idles `idleMs`, samples RSS, stops it. */
function sample(args: string[], ready: RegExp, idleMs: number, env: NodeJS.ProcessEnv): Promise<ProcessSample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let startupMs = -1;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (startupMs < 0 && ready.test(out)) {
        startupMs = performance.now() - t0;
        setTimeout(() => {
          const idleRssKiB = rssKiB(child.pid!);
          child.kill('SIGTERM');
          child.once('exit', () => resolve({ startupMs, idleRssKiB }));
        }, idleMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      if (startupMs < 0) reject(new Error(`exited (${code}) before ready:\n${out}`));
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export interface DaemonBench {
  /** Medians. */
  daemon: ProcessSample;
  bare: ProcessSample;
  rounds: { daemon: ProcessSample[]; bare: ProcessSample[] };
}

export async function benchDaemon(rounds = 3, idleMs = 3000): Promise<DaemonBench> {
  const daemon: ProcessSample[] = [];
  const bare: ProcessSample[] = [];
  for (let i = 0; i < rounds; i++) {
    const home = mkdtempSync(join(tmpdir(), 'reagent-bench-home-'));
    const agentDir = mkdtempSync(join(tmpdir(), 'reagent-bench-agent-'));
    const env = { PATH: process.env.PATH, HOME: home };
    try {
      bare.push(await sample(['-e', 'console.log("ready"); setInterval(() => {}, 1000)'], /ready/, idleMs, env));
      daemon.push(await sample([MAIN, '-offline', '-agentDir', agentDir], /"msg":"ready"/, idleMs, env));
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(agentDir, { recursive: true, force: true });
    }
  }
  const pick = (xs: ProcessSample[]) => ({ startupMs: median(xs.map((x) => x.startupMs)), idleRssKiB: median(xs.map((x) => x.idleRssKiB)) });
  return { daemon: pick(daemon), bare: pick(bare), rounds: { daemon, bare } };
}

export interface VersionBench {
  /** `reagent -version`, spawn to exit, median. */
  versionMs: number;
  /** `node -e 0`, spawn to exit, median. */
  bareMs: number;
  rounds: { version: number[]; bare: number[] };
}

function timeExit(args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

/** `reagent -version` against `node -e 0`, interleaved so both see the same load. */
export function benchCliVersion(rounds = 15): VersionBench {
  const env = { PATH: process.env.PATH };
  const version: number[] = [];
  const bare: number[] = [];
  timeExit([MAIN, '-version'], env); // warm the page cache
  for (let i = 0; i < rounds; i++) {
    bare.push(timeExit(['-e', '0'], env));
    version.push(timeExit([MAIN, '-version'], env));
  }
  return { versionMs: median(version), bareMs: median(bare), rounds: { version, bare } };
}
