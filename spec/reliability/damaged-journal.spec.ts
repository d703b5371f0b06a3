// Damaged journal paths, each started three times in a row through the built
// CLI, as a supervisor would: the same clear outcome every time. A directory
// or a dangling symlink at reagent.db is refused with one line and exit 73;
// a file where SQLite's lock directory belongs is moved aside and the agent
// runs. Never a stack trace, never a restart loop without a message.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanEnv, runReagent, startReagent, tempDir } from '../helpers/cli.js';
import { removeDirs } from '../helpers/gateway-peer.js';

const EXIT_JOURNAL_PATH = 73;

describe('damaged journal paths', () => {
  const dirs: string[] = [];
  after(() => removeDirs(...dirs));

  function agentDir(): string {
    const d = tempDir('reagent-damaged-');
    dirs.push(d);
    return d;
  }

  function refusedThreeTimes(dir: string, line: RegExp): void {
    for (let i = 1; i <= 3; i++) {
      const r = runReagent(['-offline', '-agentDir', dir], cleanEnv(dir), 20_000);
      assert.equal(r.code, EXIT_JOURNAL_PATH, `start ${i}: ${r.stdout}${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `start ${i}: one line on stderr:\n${r.stderr}`);
      assert.match(lines[0]!, line);
      assert.doesNotMatch(r.stdout, /"msg":"ready"/, `start ${i}: never ready`);
      assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('reagent.pid')), [], `start ${i}: no reagent.pid left behind`);
    }
  }

  it('reagent.db is a directory: refused, exit 73, three times alike', () => {
    const dir = agentDir();
    mkdirSync(join(dir, 'reagent.db'));
    refusedThreeTimes(dir, /^reagent: cannot start: journal .*reagent\.db is a directory, not a journal file; move it away or choose another -dbFileName \(exit 73\)$/);
    assert.ok(lstatSync(join(dir, 'reagent.db')).isDirectory(), 'left where it was');
  });

  it('reagent.db is a dangling symlink: refused, exit 73, three times alike', () => {
    const dir = agentDir();
    const target = join(dir, 'not-mounted', 'reagent.db');
    symlinkSync(target, join(dir, 'reagent.db'));
    refusedThreeTimes(dir, /^reagent: cannot start: journal .*reagent\.db is a symbolic link to .*not-mounted\/reagent\.db, which does not exist \(storage not mounted\?\).* \(exit 73\)$/);
    assert.ok(lstatSync(join(dir, 'reagent.db')).isSymbolicLink(), 'left where it was');
    assert.ok(!existsSync(join(dir, 'not-mounted')), 'nothing created at the target');
  });

  it('reagent.db.lock is a regular file: moved aside and the agent runs, three times alike', async () => {
    const dir = agentDir();
    for (let i = 1; i <= 3; i++) {
      writeFileSync(join(dir, 'reagent.db.lock'), 'junk');
      const agent = startReagent(['-offline', '-agentDir', dir], cleanEnv(dir));
      await agent.waitFor(/"msg":"ready"/);
      assert.match(agent.output(), /reagent\.db\.lock was not SQLite's lock directory \(a file\); moved it to .*reagent\.db\.lock\.quarantine-/);
      agent.child.kill('SIGTERM');
      assert.equal(await agent.exit, 0, agent.output());
      assert.equal(readdirSync(dir).filter((f) => f.startsWith('reagent.db.lock.quarantine-')).length, i, `start ${i}: one more file moved aside`);
      assert.ok(!existsSync(join(dir, 'reagent.db.lock')), 'no lock left after a clean stop');
    }
  });
});
