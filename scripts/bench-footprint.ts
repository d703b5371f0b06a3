// Where the daemon's resident memory and start-up time go, module by module:
// the same process started with more and more of what the daemon loads (see
// footprint-stage.mjs), median RSS of each after idling and median time from
// spawn to "ready", and what each step adds. The README's "Footprint" table
// comes from here.
// Needs `npm run build`. `node --import tsx scripts/bench-footprint.ts [ROUNDS]` runs it alone.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const STAGE = new URL('./footprint-stage.mjs', import.meta.url).pathname;
const MAIN = new URL('../dist/cli/main.cjs', import.meta.url).pathname;

interface Step {
  name: string;
  what: string;
  args: (agentDir: string) => string[];
  ready: RegExp;
  /** The step this one adds to (the row's delta is against it). */
  base?: string;
}

const STEPS: Step[] = [
  { name: 'bare', what: 'node -e (the bench baseline)', args: () => ['-e', 'console.log("ready"); setInterval(() => {}, 60000)'], ready: /ready/ },
  { name: 'esm', what: 'an ES module entry point', args: (d) => [STAGE, 'esm', d], ready: /ready/, base: 'bare' },
  { name: 'logger', what: '+ pino logger with the redactor', args: (d) => [STAGE, 'logger', d], ready: /ready/, base: 'esm' },
  { name: 'journal', what: '+ SQLite journal (node-sqlite3-wasm, Liftoff only)', args: (d) => [STAGE, 'journal', d], ready: /ready/, base: 'logger' },
  { name: 'actors', what: '+ XState, the machines, the actor system', args: (d) => [STAGE, 'actors', d], ready: /ready/, base: 'journal' },
  { name: 'docker', what: '+ dockerode, ssh2/BuildKit/tar-fs deferred', args: (d) => [STAGE, 'docker', d], ready: /ready/, base: 'actors' },
  { name: 'daemon', what: 'reagent -offline (all of the above, the apps link, the CLI)', args: (d) => [MAIN, '-offline', '-agentDir', d], ready: /"msg":"ready"/, base: 'docker' },
  { name: 'dockerode-eager', what: 'instead: dockerode as it loads itself', args: (d) => [STAGE, 'dockerode-eager', d], ready: /ready/, base: 'actors' },
  { name: 'studio-deps', what: 'instead: autobahn + ws (studio link, -config only)', args: (d) => [STAGE, 'studio-deps', d], ready: /ready/, base: 'actors' },
  { name: 'gateway-deps', what: 'instead: grpc-js + proto-loader (gateway link only)', args: (d) => [STAGE, 'gateway-deps', d], ready: /ready/, base: 'actors' },
];

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

function sample(args: string[], ready: RegExp, idleMs: number, env: NodeJS.ProcessEnv): Promise<{ kib: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sampled = false;
    const onData = (d: Buffer) => {
      out += d.toString();
      if (sampled || !ready.test(out)) return;
      sampled = true;
      const ms = performance.now() - t0;
      setTimeout(() => {
        const kib = rssKiB(child.pid!);
        child.kill('SIGTERM');
        child.once('exit', () => resolve({ kib, ms }));
      }, idleMs);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      if (!sampled) reject(new Error(`${args.join(' ')} exited (${code}) before ready:\n${out}`));
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface FootprintRow {
  name: string;
  what: string;
  rssMiB: number;
  /** Min and max over the rounds. */
  range: [number, number];
  /** Spawn to "ready", median. */
  startupMs: number;
  base?: string;
  addsMiB?: number;
  addsMs?: number;
}

export async function benchFootprint(rounds = 5, idleMs = 2000): Promise<FootprintRow[]> {
  const samples = new Map<string, number[]>(STEPS.map((s) => [s.name, []]));
  const times = new Map<string, number[]>(STEPS.map((s) => [s.name, []]));
  for (let i = 0; i < rounds; i++) {
    // Interleaved, so every step sees the same load on a shared machine.
    for (const step of STEPS) {
      const home = mkdtempSync(join(tmpdir(), 'reagent-footprint-'));
      try {
        const r = await sample(step.args(home), step.ready, idleMs, { PATH: process.env.PATH, HOME: home });
        samples.get(step.name)!.push(r.kib);
        times.get(step.name)!.push(r.ms);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    }
  }
  const mib = new Map(STEPS.map((s) => [s.name, median(samples.get(s.name)!) / 1024]));
  const ms = new Map(STEPS.map((s) => [s.name, median(times.get(s.name)!)]));
  return STEPS.map((s) => {
    const xs = samples.get(s.name)!.map((k) => k / 1024);
    const row: FootprintRow = { name: s.name, what: s.what, rssMiB: mib.get(s.name)!, range: [Math.min(...xs), Math.max(...xs)], startupMs: ms.get(s.name)! };
    if (s.base) {
      row.base = s.base;
      row.addsMiB = mib.get(s.name)! - mib.get(s.base)!;
      row.addsMs = ms.get(s.name)! - ms.get(s.base)!;
    }
    return row;
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchFootprint(Number(process.argv[2] ?? 5));
  const bare = rows[0]!;
  const sign = (n: number) => (n >= 0 ? '+' : '');
  console.log('| step | RSS, median [range] | adds | x bare | spawn to ready | adds | x bare |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const adds = r.addsMiB === undefined ? '' : `${sign(r.addsMiB)}${r.addsMiB.toFixed(1)} MiB`;
    const addsMs = r.addsMs === undefined ? '' : `${sign(r.addsMs)}${r.addsMs.toFixed(0)} ms`;
    console.log(
      `| ${r.what} | ${r.rssMiB.toFixed(1)} MiB [${r.range[0].toFixed(1)}..${r.range[1].toFixed(1)}] | ${adds} | ${(r.rssMiB / bare.rssMiB).toFixed(2)} | ` +
        `${r.startupMs.toFixed(0)} ms | ${addsMs} | ${(r.startupMs / bare.startupMs).toFixed(1)} |`,
    );
  }
}
