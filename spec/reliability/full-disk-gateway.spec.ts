// A full disk must never make the device unreachable. The built agent runs
// its gateway link with its agent dir on a 2 MiB tmpfs; the disk is filled,
// exec sessions run, the gateway restarts while the disk is still full, and
// space returns. The gateway counts the agent's Connect streams: never two.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it, test } from 'node:test';
import {
  cleanEnv,
  closedPort,
  createDsnAgent,
  execThrough,
  removeDirs,
  startGatewayProcess,
  startProcess,
  tempDir,
  type Proc,
} from '../helpers/gateway-peer.js';
import { runReagent } from '../helpers/cli.js';
import { mountTmpfs, tmpfsOrSkip, type Tmpfs } from '../helpers/tmpfs.js';
import { openJournalReader } from '../../adapters/store/journal-reader.js';

/** hoop's backoff tops out at 8 s (+20% jitter); a commit retry comes at most every 5 s. */
const RECONNECT_BOUND_MS = 8000 * 1.2 + 5000;

/**
 * Waits for the agent to say a commit failed. A commit in flight when the disk
 * was filled deletes its rollback journal when it ends, which gives back the
 * room the next commit needs; so, a few times, the filler is topped up and one
 * more session run before giving up.
 */
async function waitForFailedCommit(s: { agent: { waitFor(re: RegExp, ms?: number): Promise<unknown> }; disk: { fill(): void } }, poke: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await s.agent.waitFor(/journal commit failed/, 5_000);
      return;
    } catch (err) {
      if (attempt === 3) throw err;
    }
    s.disk.fill();
    await poke();
  }
}

function count(re: RegExp, text: string): number {
  return text.match(new RegExp(re.source, 'g'))?.length ?? 0;
}

/** Every `streams`/`peakStreams` the gateway logged for `agent`. */
function streamCounts(gatewayOutput: string, agent: string): number[] {
  return gatewayOutput
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { agent?: string; peakStreams?: number })
    .filter((l) => l.agent === agent && typeof l.peakStreams === 'number')
    .map((l) => l.peakStreams!);
}

const skipped = tmpfsOrSkip('full disk, gateway link', (name, reason) => test(name, { skip: reason }, () => {}));

describe('the gateway link on a full disk', { skip: skipped ?? false }, () => {
  const dirs: string[] = [];
  const mounts: Tmpfs[] = [];
  const procs: Proc[] = [];
  const track = <T extends Proc>(p: T) => (procs.push(p), p);

  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    for (const m of mounts) m.unmount();
    removeDirs(...dirs);
  });

  async function setup(agentName: string, extraEnv: NodeJS.ProcessEnv = {}) {
    const home = tempDir();
    const data = tempDir();
    dirs.push(home, data);
    const disk = mountTmpfs(2048);
    mounts.push(disk);
    const agentDir = join(disk.dir, 'agent');
    const listen = `127.0.0.1:${await closedPort()}`;
    const gw = track(await startGatewayProcess({ home, listen, dataDir: data }));
    const dsn = await createDsnAgent(gw, agentName);
    const env = cleanEnv(home, { HOOP_KEY: dsn, REAGENT_GRPC_KEEPALIVE_MS: '1000', ...extraEnv });
    const agent = track(startProcess(['start', 'agent', '-agentDir', agentDir], env));
    await agent.waitFor(/connected with success to the gateway/);
    return { home, data, disk, agentDir, listen, gw, agent, env };
  }

  it('stays reachable while full, through a gateway restart, with one stream at a time, and replays', async () => {
    const s = await setup('full');
    const env = cleanEnv(s.home);
    const before = await execThrough(s.gw, 'full', ['echo', 'before'], env);
    assert.deepEqual([before.code, before.stdout], [0, 'before\n'], before.stderr);

    s.disk.fill();
    assert.ok(s.disk.free() < 64 * 1024, 'the disk is full');
    // Load while full: sessions run, and their exit codes arrive (the journal cannot take their records).
    const load = await Promise.all([1, 2, 3].map((i) => execThrough(s.gw, 'full', ['echo', `full-${i}`], env)));
    assert.deepEqual(load.map((r) => [r.code, r.stdout]), [[0, 'full-1\n'], [0, 'full-2\n'], [0, 'full-3\n']], load.map((r) => r.stderr).join(''));
    await waitForFailedCommit(s, () => execThrough(s.gw, 'full', ['echo', 'poke'], env));
    assert.match(s.agent.output(), /commit of \d+ records failed: disk full \(\d+ KiB free on /);

    // The gateway goes away and comes back while the disk is still full: the link dials again by itself.
    await s.gw.stop();
    await s.agent.waitFor(/disconnected from 127\.0\.0\.1:\d+, reason=UNAVAILABLE/);
    const gw2 = track(await startGatewayProcess({ home: s.home, listen: s.listen, dataDir: s.data }));
    await s.agent.waitFor(/connected with success to the gateway[\s\S]*connected with success to the gateway/, RECONNECT_BOUND_MS + 5000);
    assert.ok(s.disk.free() < 64 * 1024, 'still full when it reconnected');
    const whileFull = await execThrough(gw2, 'full', ['echo', 'still-full'], env);
    assert.deepEqual([whileFull.code, whileFull.stdout], [0, 'still-full\n'], whileFull.stderr);

    // Space returns: the journal catches up and exec works within the backoff bound.
    s.disk.release();
    const freedAt = Date.now();
    let afterFree: Awaited<ReturnType<typeof execThrough>> | undefined;
    while (Date.now() - freedAt < RECONNECT_BOUND_MS) {
      afterFree = await execThrough(gw2, 'full', ['echo', 'after'], env, RECONNECT_BOUND_MS);
      if (afterFree.code === 0) break;
    }
    assert.deepEqual([afterFree?.code, afterFree?.stdout], [0, 'after\n'], afterFree?.stderr);
    await s.agent.waitFor(/journal commit succeeded again/, 10_000);

    // One stream at a time, counted by the gateway, before and after its restart.
    const counts = [...streamCounts(s.gw.output(), 'full'), ...streamCounts(gw2.output(), 'full')];
    assert.ok(counts.length >= 2, `the gateway logged the agent's streams:\n${s.gw.output()}\n${gw2.output()}`);
    assert.deepEqual([...new Set(counts)], [1], `peak streams per agent: ${counts.join(', ')}`);
    assert.equal(count(/refused a second stream/, s.gw.output() + gw2.output()), 0, 'never "agent already connected"');

    await s.agent.stop();
    assert.equal(await s.agent.exit, 0);
    assert.ok(!existsSync(join(s.agentDir, 'reagent.pid')), 'reagent.pid released');

    // What ran before its cause was durable is on record, and the whole run replays.
    const reader = openJournalReader(join(s.agentDir, 'reagent.db'));
    try {
      const early = [...reader.events()].filter((r) => r.type === '@runtime.ran-before-durable');
      assert.ok(early.some((r) => (r.payload as { commands: string[] }).commands.includes('grpc.connect')), 'the reconnect ran before its cause was durable, and says so');
    } finally {
      reader.close();
    }
    const replay = runReagent(['replay', join(s.agentDir, 'reagent.db')], cleanEnv(s.home), 60_000);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
    assert.match(replay.stdout, /^reproduced/m);
    await gw2.stop();
  });

  it('bounds the memory held for events while full, says so, stays reachable, and the run still replays', async () => {
    const s = await setup('bounded', { REAGENT_JOURNAL_BUFFER_KIB: '16' });
    const env = cleanEnv(s.home);
    s.disk.fill();
    // Each exec session is a handful of events; keep going until the bound is reached.
    for (let i = 0; i < 10 && !/reached the bound/.test(s.agent.output()); i++) {
      const round = await Promise.all([0, 1, 2, 3].map((j) => execThrough(s.gw, 'bounded', ['echo', `n${i}-${j}`], env)));
      for (const r of round) assert.equal(r.code, 0, r.stderr);
    }
    assert.match(s.agent.output(), /waited in memory for a commit that keeps failing \(.*disk full.*\) and reached the bound of 16 KiB/);
    const stillThere = await execThrough(s.gw, 'bounded', ['echo', 'reachable'], env);
    assert.deepEqual([stillThere.code, stillThere.stdout], [0, 'reachable\n'], stillThere.stderr);

    s.disk.release();
    await s.agent.waitFor(/journal writes again; \d+ event\(s\) between seq \d+ and \d+ were never recorded/, 15_000);
    await s.agent.stop();
    assert.equal(await s.agent.exit, 0);
    const replay = runReagent(['replay', join(s.agentDir, 'reagent.db')], cleanEnv(s.home), 60_000);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
    assert.match(replay.stdout, /^reproduced/m);
  });

  it('an exec whose exit code reached the client has EXEC_EXITED in the journal after a crash', async () => {
    const s = await setup('durable');
    const env = cleanEnv(s.home);
    const run = execThrough(s.gw, 'durable', ['sh', '-c', 'sleep 1.5; exit 7'], env);
    await s.agent.waitFor(/"type":"command-line"[^\n]*session opening/);
    await new Promise((r) => setTimeout(r, 300));
    s.disk.fill();
    await s.agent.waitFor(/session closed: exited with 7/, 10_000);
    // The exit is recorded but cannot be committed: the client must not have it yet.
    let clientDone = false;
    void run.then(() => (clientDone = true));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(clientDone, false, 'the exit code waits for its record to be durable');
    s.disk.release();
    const result = await run;
    assert.equal(result.code, 7, result.stderr);
    // The moment the client has it, the agent dies without a chance to write anything more.
    process.kill(s.agent.pid, 'SIGKILL');
    await s.agent.exit;
    const reader = openJournalReader(join(s.agentDir, 'reagent.db'));
    try {
      const exited = [...reader.events()].filter((r) => r.type === 'EXEC_EXITED').map((r) => (r.payload as { exitCode: number }).exitCode);
      assert.deepEqual(exited, [7]);
    } finally {
      reader.close();
    }
  });

  it('SIGTERM while the journal cannot commit exits cleanly, releases reagent.pid, and leaves whole log lines', async () => {
    const s = await setup('term');
    const env = cleanEnv(s.home);
    s.disk.fill();
    const r = await execThrough(s.gw, 'term', ['echo', 'x'], env);
    assert.equal(r.code, 0, r.stderr);
    await waitForFailedCommit(s, () => execThrough(s.gw, 'term', ['echo', 'x'], env));
    await s.agent.stop();
    assert.equal(await s.agent.exit, 0, s.agent.output());
    const out = s.agent.output();
    const stray = out.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
    assert.deepEqual(stray, [], 'nothing but JSON log lines: no stack trace, no library source');
    assert.doesNotMatch(out, /disk I\/O error/, 'the cause is named');
    assert.match(out, /the last \d+ event\(s\) could not be written at close and are lost: .*disk full/);
    assert.deepEqual(readdirSync(s.agentDir).filter((f) => f.startsWith('reagent.pid')), [], 'no reagent.pid, no reagent.pid.*.tmp');
    const log = readFileSync(join(s.agentDir, 'reagent.log'), 'utf8');
    for (const line of log.split('\n').filter((l) => l !== '')) assert.doesNotThrow(() => JSON.parse(line), `a whole JSON line: ${line.slice(0, 120)}`);
  });

  it('with a few KiB free: an existing journal runs and connects; a journal that cannot be created is one line and exit 75', async () => {
    const s = await setup('nearly');
    await s.agent.stop();
    s.disk.fill(8 * 1024);
    const again = track(startProcess(['start', 'agent', '-agentDir', s.agentDir], s.env));
    await again.waitFor(/connected with success to the gateway/, 20_000);
    assert.match(again.output(), /journal cannot write \(disk full .*\); starting anyway/);
    const r = await execThrough(s.gw, 'nearly', ['echo', 'hi'], cleanEnv(s.home));
    assert.deepEqual([r.code, r.stdout], [0, 'hi\n'], r.stderr);
    await again.stop();
    assert.equal(await again.exit, 0);

    s.disk.fill();
    const fresh = join(s.disk.dir, 'fresh');
    for (let i = 0; i < 3; i++) {
      const start = runReagent(['start', 'agent', '-agentDir', fresh], s.env, 20_000);
      assert.equal(start.code, 75, start.stdout + start.stderr);
      assert.equal(start.stderr.trim().split('\n').length, 1, start.stderr);
      assert.match(start.stderr, /^reagent: cannot start: .*disk full/);
      assert.doesNotMatch(start.stdout, /"msg":"ready"/);
      if (existsSync(fresh)) assert.deepEqual(readdirSync(fresh).filter((f) => f.startsWith('reagent.pid')), []);
    }
  });
});
