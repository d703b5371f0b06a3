// reagent supports Node >= 20.19 and also runs on Node 22 and 24. The test
// suite runs on the machine's Node; this spec fetches Node 22 and 24 from the
// npm registry (node-linux-<arch> packages) and runs the built CLI on each:
// help, version, a replay, and an offline daemon start and stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, cleanEnv, tempDir } from '../helpers/cli.js';

// Reused across runs on one machine: the binaries are ~30 MiB each.
const CACHE = join(tmpdir(), 'reagent-node-versions');

function nodeBinary(major: number): string | { skipped: string } {
  const prefix = join(CACHE, `node${major}`);
  const bin = join(prefix, 'node_modules', 'node', 'bin', 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(prefix, { recursive: true });
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', prefix, `node@${major}`], { encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0 || !existsSync(bin)) return { skipped: `could not install node@${major} from the npm registry: ${(r.stderr || '').slice(-300)}` };
  return bin;
}

for (const major of [22, 24]) {
  test(`the CLI and the daemon run on Node ${major}`, async (t) => {
    const bin = nodeBinary(major);
    if (typeof bin !== 'string') {
      if (process.env.CI === 'true') throw new Error(bin.skipped);
      console.log(`\n!!! SKIPPING Node ${major} check: ${bin.skipped}\n`);
      t.skip(bin.skipped);
      return;
    }
    const home = tempDir();
    const env = cleanEnv(home);
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
    assert.match(version, new RegExp(`^v${major}\\.`));

    const help = spawnSync(bin, [MAIN, '-help'], { env, encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /-connTimeout uint/);

    const agentDir = tempDir();
    const child = spawn(bin, [MAIN, '-offline', '-agentDir', agentDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const deadline = Date.now() + 20_000;
    while (!out.includes('"msg":"ready"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /"msg":"ready"/, out);
    child.kill('SIGTERM');
    assert.equal(await exit, 0, out);

    const replay = spawnSync(bin, [MAIN, 'replay', join(agentDir, 'reagent.db')], { env, encoding: 'utf8' });
    assert.equal(replay.status, 0, replay.stderr);
    assert.match(replay.stdout, /^reproduced/);
  });
}
