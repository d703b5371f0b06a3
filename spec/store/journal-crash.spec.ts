// Kills a writer process at random moments and checks that what it
// acknowledged survived, that seqs stay contiguous, and that the next start
// gets past the `<db>.lock` dir a kill inside a transaction leaves behind.
// Every other restart is done by a child (the daemon's own start-up path), the
// others by this process, which also checks the rows.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { acquireInstanceLock } from '../../adapters/store/instance-lock.js';
import { Journal, type JournalLogger } from '../../adapters/store/journal.js';
import { JOURNAL_FILE, recordFor } from './fixtures/journal-writer.js';

const WRITER = fileURLToPath(new URL('./fixtures/journal-writer.ts', import.meta.url));
const KILLS = 30;

const quiet: JournalLogger = { info: () => {}, warn: () => {}, error: () => {} };

interface Writer {
  pid: number;
  lockLine: Promise<string>;
  readyLine: Promise<string>;
  /** Highest seq the writer acknowledged so far. */
  maxAck(): number;
  kill(): Promise<void>;
}

function startWriter(agentDir: string): Writer {
  const proc = spawn(process.execPath, ['--import', 'tsx', WRITER, agentDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let maxAck = 0;
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<void>((res) => proc.on('close', () => res()));
  let onLock: (l: string) => void = () => {};
  let onReady: (l: string) => void = () => {};
  const early = (what: string) => (_: unknown, rej: (e: Error) => void) =>
    void closed.then(() => rej(new Error(`writer exited before ${what}: ${stderr}`)));
  const lockLine = new Promise<string>((res, rej) => {
    onLock = res;
    early('LOCK')(res, rej);
  });
  const readyLine = new Promise<string>((res, rej) => {
    onReady = res;
    early('READY')(res, rej);
  });
  createInterface({ input: proc.stdout }).on('line', (line) => {
    if (line.startsWith('ACK ')) maxAck = Math.max(maxAck, Number(line.slice(4)));
    else if (line.startsWith('LOCK ')) onLock(line);
    else if (line.startsWith('READY ')) onReady(line);
  });
  assert.ok(proc.pid !== undefined, 'writer spawned');
  return {
    pid: proc.pid,
    lockLine,
    readyLine,
    maxAck: () => maxAck,
    async kill() {
      proc.kill('SIGKILL');
      await closed; // stdout fully read: every ACK written before the kill is counted
    },
  };
}

/** Checks rows after `from` (contiguous, each exactly what the writer appended); returns the last seq. */
function verify(j: Journal, from: number, acked: number): number {
  let last = from;
  for (const e of j.readEvents({ fromSeq: from + 1, batch: 2000 })) {
    assert.equal(e.seq, last + 1, `seq ${last + 1} missing: found ${e.seq} next`);
    assert.match(e.run, /^run-\d+$/);
    assert.deepStrictEqual(e, { seq: e.seq, ...recordFor(e.seq, e.run) });
    last = e.seq;
  }
  assert.ok(last >= acked, `acknowledged seq ${acked} lost: the journal ends at ${last}`);
  const count = j.connection.get('SELECT count(*) AS n FROM events')?.['n'];
  assert.equal(count, last, 'one row per seq from 1');
  return last;
}

test(`journal: ${KILLS} SIGKILLs at random points lose no acknowledged record`, { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'reagent-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, JOURNAL_FILE);
  let acked = 0;
  let verified = 0;
  let lockDirs = 0;
  let recoveredByChild = 0;
  let recoveredByParent = 0;
  let hotJournals = 0;
  /** Set when the next start is a child's: what it has to clean up. */
  let pending: { pid: number; lockDir: boolean } | null = null;

  for (let i = 0; i < KILLS; i++) {
    const w = startWriter(dir);
    const lockLine = await w.lockLine;
    const [, run, nextSeq, kinds] = (await w.readyLine).split(' ');
    assert.ok(run && nextSeq && kinds);
    assert.ok(Number(nextSeq) > acked, `writer starts at seq ${nextSeq}, but ${acked} was acknowledged`);
    if (pending === null) {
      assert.equal(lockLine, 'LOCK -');
      assert.ok(!kinds.includes('stale-lock'));
    } else {
      assert.equal(lockLine, `LOCK ${pending.pid}`, 'the writer took over the killed writer’s instance lock');
      assert.equal(kinds.includes('stale-lock'), pending.lockDir, `recovered: ${kinds}`);
      if (pending.lockDir) recoveredByChild++;
    }
    assert.ok(!kinds.includes('corrupt') && !kinds.includes('newer-schema'), `recovered: ${kinds}`);

    await delay(20 + Math.floor(Math.random() * 281));
    await w.kill();
    acked = Math.max(acked, w.maxAck());
    const lockDir = existsSync(`${db}.lock`);
    if (lockDir) lockDirs++;
    if (existsSync(`${db}-journal`)) hotJournals++;

    if (i % 2 === 0) {
      pending = { pid: w.pid, lockDir };
      continue;
    }
    // this process is the next starter, exactly as the daemon starts
    const lock = acquireInstanceLock(dir);
    try {
      assert.equal(lock.recoveredFrom, w.pid);
      const j = Journal.open({ path: db, staleLockRecovery: true, logger: quiet });
      try {
        assert.deepStrictEqual(
          j.recovered.map((r) => r.kind),
          lockDir ? ['stale-lock'] : [],
        );
        if (lockDir) recoveredByParent++;
        verified = verify(j, verified, acked);
      } finally {
        j.close();
      }
    } finally {
      lock.release();
    }
    pending = null;
  }

  // a last start, then every row once more from seq 1
  const lock = acquireInstanceLock(dir);
  const j = Journal.open({ path: db, staleLockRecovery: true, logger: quiet });
  const last = verify(j, 0, acked);
  j.close();
  lock.release();

  t.diagnostic(
    `rows ${last}, acknowledged ${acked}, kills inside a transaction (lock dir left) ${lockDirs}, ` +
      `recovered by a writer ${recoveredByChild}, by this process ${recoveredByParent}, hot journals ${hotJournals}`,
  );
  assert.ok(lockDirs >= 1, 'no kill landed inside a transaction: make the writer’s transactions longer');
  assert.equal(recoveredByChild + recoveredByParent + (pending?.lockDir ? 1 : 0), lockDirs, 'every stale lock dir was recovered');
  assert.ok(acked > 1000, `only ${acked} records acknowledged: the writer is not under load`);
});
