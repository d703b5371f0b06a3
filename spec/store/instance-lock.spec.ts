import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test, type TestContext } from 'node:test';
import { InstanceLockedError, PID_FILE, acquireInstanceLock } from '../../adapters/store/instance-lock.js';

const LOCK_MODULE = new URL('../../adapters/store/instance-lock.ts', import.meta.url).href;
const hasProc = existsSync('/proc/self/stat');

// A starter in another process. argv: <agentDir> <mode>; mode "exit" dies holding
// the lock, "hold" keeps it for HOLD_MS then releases. GO_AT lines up racers.
const CHILD = `
const { acquireInstanceLock, InstanceLockedError } = await import(process.env.LOCK_MODULE);
const [dir, mode] = process.argv.slice(1);
const goAt = Number(process.env.GO_AT ?? 0);
while (Date.now() < goAt) {}
let lock;
try {
  lock = acquireInstanceLock(dir);
} catch (e) {
  console.log(e instanceof InstanceLockedError ? 'LOCKED ' + e.pid + ' ' + e.message : 'ERROR ' + e.message);
  process.exit(0);
}
console.log('OK ' + process.pid + ' ' + (lock.recoveredFrom ?? '-'));
if (mode === 'exit') process.exit(0);
setTimeout(() => { lock.release(); process.exit(0); }, Number(process.env.HOLD_MS ?? 60000));
`;

interface Child {
  proc: ChildProcess;
  firstLine: Promise<string>;
  exited: Promise<void>;
}

function startChild(dir: string, mode: 'exit' | 'hold', env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD, dir, mode], {
    env: { ...process.env, LOCK_MODULE, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((res) => proc.on('close', () => res()));
  const firstLine = new Promise<string>((res, rej) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', res);
    proc.on('close', (code) => rej(new Error(`child exited (${code}) before printing a line: ${stderr}`)));
  });
  return { proc, firstLine, exited };
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'reagent-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A pid that certainly belongs to no process any more. */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ['-e', '']);
  await new Promise((res) => p.on('close', res));
  assert.ok(p.pid);
  return p.pid;
}

function startTimeOf(pid: number): string {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19]!;
}

function bootId(): string | null {
  return hasProc ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : null;
}

function writeRecord(dir: string, rec: object, name = PID_FILE): string {
  const text = JSON.stringify(rec);
  writeFileSync(join(dir, name), text);
  return text;
}

function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.includes('.takeover-') || f.endsWith('.tmp'));
}

describe('instance lock', () => {
  test('a second acquire in the same process fails naming the pid; release frees it', (t) => {
    const dir = tempDir(t);
    const lock = acquireInstanceLock(dir);
    assert.equal(lock.recoveredFrom, undefined);
    assert.equal(JSON.parse(readFileSync(lock.path, 'utf8')).pid, process.pid);
    assert.throws(
      () => acquireInstanceLock(dir),
      (err: unknown) => {
        assert.ok(err instanceof InstanceLockedError);
        assert.equal(err.pid, process.pid);
        assert.equal(
          err.message,
          `another reagent (pid ${process.pid}) is running with agent dir ${dir}; stop it first or use another -agentDir`,
        );
        return true;
      },
    );
    lock.release();
    lock.release();
    assert.ok(!existsSync(lock.path));
    const again = acquireInstanceLock(dir);
    again.release();
    assert.deepStrictEqual(leftovers(dir), []);
  });

  test('release leaves a file that is no longer ours', (t) => {
    const dir = tempDir(t);
    const lock = acquireInstanceLock(dir);
    writeRecord(dir, { pid: 1, startTime: null, bootId: null, nonce: 'someone-else' });
    lock.release();
    assert.equal(JSON.parse(readFileSync(lock.path, 'utf8')).nonce, 'someone-else');
  });

  test('a lock held by another process fails with its pid, in both directions', async (t) => {
    const dir = tempDir(t);
    const holder = startChild(dir, 'hold');
    t.after(() => holder.proc.kill('SIGKILL'));
    assert.match(await holder.firstLine, /^OK \d+ -$/);
    assert.throws(() => acquireInstanceLock(dir), new RegExp(`another reagent \\(pid ${holder.proc.pid}\\) is running`));
    holder.proc.kill('SIGKILL');
    await holder.exited;

    const mine = acquireInstanceLock(dir);
    assert.equal(mine.recoveredFrom, holder.proc.pid, 'the killed holder is stale');
    const other = startChild(dir, 'hold');
    assert.equal(
      await other.firstLine,
      `LOCKED ${process.pid} another reagent (pid ${process.pid}) is running with agent dir ${dir}; stop it first or use another -agentDir`,
    );
    await other.exited;
    mine.release();
  });

  test('the lock of a process that exited without releasing is taken over', async (t) => {
    const dir = tempDir(t);
    const child = startChild(dir, 'exit');
    assert.match(await child.firstLine, /^OK /);
    await child.exited;
    assert.equal(JSON.parse(readFileSync(join(dir, PID_FILE), 'utf8')).pid, child.proc.pid);
    const lock = acquireInstanceLock(dir);
    assert.equal(lock.recoveredFrom, child.proc.pid);
    assert.equal(JSON.parse(readFileSync(join(dir, `${PID_FILE}.stale`), 'utf8')).pid, child.proc.pid, 'moved aside, not deleted');
    assert.equal(JSON.parse(readFileSync(lock.path, 'utf8')).pid, process.pid);
    lock.release();
    assert.deepStrictEqual(leftovers(dir), []);
  });

  test('a reused pid (alive, but started at another time or in another boot) is stale', { skip: !hasProc && 'needs /proc' }, (t) => {
    const dir = tempDir(t);
    const pid = process.ppid;
    const real = startTimeOf(pid);
    writeRecord(dir, { pid, startTime: real, bootId: bootId(), nonce: 'n1' });
    assert.throws(() => acquireInstanceLock(dir), InstanceLockedError, 'same pid, same start time: alive');

    writeRecord(dir, { pid, startTime: String(Number(real) + 1), bootId: bootId(), nonce: 'n2' });
    const a = acquireInstanceLock(dir);
    assert.equal(a.recoveredFrom, pid);
    a.release();

    writeRecord(dir, { pid, startTime: real, bootId: 'a-previous-boot', nonce: 'n3' });
    const b = acquireInstanceLock(dir);
    assert.equal(b.recoveredFrom, pid);
    b.release();
  });

  test('our own pid in a record we did not write (a previous boot) is stale', (t) => {
    const dir = tempDir(t);
    writeRecord(dir, { pid: process.pid, startTime: null, bootId: null, nonce: 'from-before' });
    const lock = acquireInstanceLock(dir);
    assert.equal(lock.recoveredFrom, process.pid);
    lock.release();
  });

  test('an unreadable lock file is taken over (recoveredFrom 0)', (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, PID_FILE), 'garbage');
    const lock = acquireInstanceLock(dir);
    assert.equal(lock.recoveredFrom, 0);
    lock.release();
  });

  test('a takeover guard left by a starter that died mid-takeover does not block', async (t) => {
    const dir = tempDir(t);
    const stale = writeRecord(dir, { pid: await deadPid(), startTime: null, bootId: null, nonce: 'stale' });
    const guard = `${PID_FILE}.takeover-${createHash('sha256').update(stale).digest('hex').slice(0, 16)}`;
    writeRecord(dir, { pid: await deadPid(), startTime: null, bootId: null, nonce: 'dead-taker' }, guard);
    const lock = acquireInstanceLock(dir);
    assert.equal(lock.recoveredFrom, JSON.parse(stale).pid);
    assert.deepStrictEqual(leftovers(dir), []);
    lock.release();
  });

  test('starters racing to take over one stale lock: exactly one wins', async (t) => {
    const dir = tempDir(t);
    const dead = await deadPid();
    writeRecord(dir, { pid: dead, startTime: null, bootId: null, nonce: 'stale' });
    const env = { GO_AT: String(Date.now() + 2500), HOLD_MS: '2500' };
    const racers = Array.from({ length: 4 }, () => startChild(dir, 'hold', env));
    t.after(() => racers.forEach((r) => r.proc.kill('SIGKILL')));
    const lines = await Promise.all(racers.map((r) => r.firstLine));
    const winners = lines.filter((l) => l.startsWith('OK '));
    assert.equal(winners.length, 1, lines.join('\n'));
    const [, winnerPid, recoveredFrom] = winners[0]!.split(' ');
    assert.equal(recoveredFrom, String(dead));
    for (const l of lines.filter((x) => !x.startsWith('OK '))) {
      assert.ok(l.startsWith(`LOCKED ${winnerPid} another reagent (pid ${winnerPid})`), l);
    }
    await Promise.all(racers.map((r) => r.exited));
    assert.ok(!existsSync(join(dir, PID_FILE)), 'the winner released on exit');
    assert.deepStrictEqual(leftovers(dir), []);
  });
});
