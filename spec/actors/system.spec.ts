import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock, SystemClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import type { Command, Json } from '../../actors/types.js';
import { MemoryJournal } from '../helpers/memory-journal.js';
import { FailingJournal } from '../helpers/failing-journal.js';
import { replayRecords } from '../../actors/replay.js';
import { studioPolicy } from '../helpers/connection-policy.js';

const policy = studioPolicy as unknown as Json;

test('every inbound event is journaled before the machine sees it', () => {
  const journal = new MemoryJournal();
  const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(5), registry: builtinMachines(), random: () => 0.25, run: 'r' });
  let seenWhenDispatched = -1;
  system.subscribe((t) => {
    if (t.type === 'START') seenWhenDispatched = journal.records.findIndex((r) => r.type === 'START');
  });
  system.spawn('a', 'connection', { link: 'net', policy });
  system.send('a', 'test', 'START', { note: 'hi' });
  assert.equal(seenWhenDispatched, 1);
  const start = journal.records[1]!;
  assert.deepEqual(
    { source: start.source, actor: start.actor, type: start.type, payload: start.payload, at: start.at, rand: start.rand, state: start.state, cmds: start.cmds },
    { source: 'test', actor: 'a', type: 'START', payload: { note: 'hi' }, at: 5, rand: 0.25, state: '"connecting"', cmds: ['net.connect'] },
  );
});

test('commands run only after the event that caused them is committed, in one group commit', async () => {
  const journal = new MemoryJournal();
  const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(), registry: builtinMachines(), random: () => 0.5, run: 'r' });
  const ran: Array<{ type: string; committedAtRun: number; total: number }> = [];
  system.handle('net', (c: Command) => {
    ran.push({ type: c.type, committedAtRun: journal.committed, total: journal.records.length });
  });
  for (let i = 0; i < 50; i++) system.spawn(`a${i}`, 'connection', { link: 'net', policy });
  for (let i = 0; i < 50; i++) system.send(`a${i}`, 'test', 'START');
  assert.equal(ran.length, 0, 'nothing runs synchronously');
  assert.equal(journal.committed, 0);
  await new Promise((r) => setImmediate(r));
  assert.equal(ran.length, 50);
  assert.ok(ran.every((r) => r.committedAtRun === r.total), 'every command saw its cause durable');
  assert.equal(journal.commits, 1, '100 events, one transaction');
});

test('an adapter that reacts to a command re-enters through the mailbox, in order', async () => {
  const journal = new MemoryJournal();
  const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(), registry: builtinMachines(), random: () => 0.5, run: 'r' });
  system.handle('net', (c) => {
    if (c.type === 'net.connect') system.send('a', 'net', 'CONNECTED');
  });
  system.spawn('a', 'connection', { link: 'net', policy });
  system.send('a', 'cli', 'START');
  await system.flush();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(journal.records.map((r) => [r.type, r.state]), [
    ['@runtime.spawn', '"idle"'],
    ['START', '"connecting"'],
    ['CONNECTED', '{"connected":"alive"}'],
  ]);
});

test('a failing or throwing adapter does not take the system down', async () => {
  const journal = new MemoryJournal();
  const errors: string[] = [];
  const logger = { warn: () => {}, error: (_o: object, m?: string) => errors.push(m ?? '') };
  const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(), registry: builtinMachines(), random: () => 0.5, run: 'r', logger });
  system.handle('net', (c) => {
    if (c.type === 'net.connect') throw new Error('boom');
    return Promise.reject(new Error('async boom'));
  });
  system.spawn('a', 'connection', { link: 'net', policy });
  system.send('a', 'cli', 'START');
  await system.flush();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(errors, ['command failed']);
  system.send('a', 'cli', 'STOP');
  await system.flush();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(errors, ['command failed', 'command failed']);
});

test('events for unknown actors are journaled, not dispatched, and lose nothing', () => {
  const journal = new MemoryJournal();
  const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(), registry: builtinMachines(), random: () => 0.5, run: 'r', logger: { warn() {}, error() {} } });
  system.send('ghost', 'wamp', 'HELLO', { x: 1 });
  assert.equal(journal.records.length, 1);
  assert.equal(journal.records[0]!.state, null);
});

test('a note (the journal recovering itself) is journaled like an event for nobody, without the stray-event warning, and replays', () => {
  const journal = new MemoryJournal();
  const warnings: string[] = [];
  const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(7), registry: builtinMachines(), random: () => 0.5, run: 'r', logger: { warn: (_o, m) => void warnings.push(m ?? ''), error() {} } });
  system.note('journal', 'store', 'JOURNAL_RECOVERED', { kind: 'corrupt', detail: 'quarantined', path: null });
  system.send('ghost', 'wamp', 'HELLO', {});
  assert.deepEqual(
    journal.records.map((r) => [r.actor, r.source, r.type, r.payload, r.state]),
    [
      ['journal', 'store', 'JOURNAL_RECOVERED', { kind: 'corrupt', detail: 'quarantined', path: null }, null],
      ['ghost', 'wamp', 'HELLO', {}, null],
    ],
  );
  assert.deepEqual(warnings, ['event for an unknown actor; journaled, not dispatched'], 'only the stray event is worth a warning');
  assert.equal(replayRecords(journal.records, { registry: builtinMachines() }).verdict, 'reproduced');
});

test('timers of a live system run on the real clock and are journaled as clock events; close leaves none', async () => {
  const journal = new MemoryJournal();
  const clock = new SystemClock();
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry: builtinMachines(), random: () => 0, run: 'r' });
  system.spawn('a', 'connection', { link: 'net', policy: { ...studioPolicy, connectTimeoutMs: 20 } as unknown as Json });
  system.send('a', 'cli', 'START');
  await new Promise((r) => setTimeout(r, 60));
  const timer = journal.records.find((r) => r.source === 'clock');
  assert.ok(timer, 'the connect timeout fired through the journal');
  assert.equal(timer.type, 'xstate.after.connectTimeout.connection.connecting');
  assert.equal(timer.state, '"backoff"');
  system.close();
  assert.equal(clock.pending(), 0);
});

test('machines are pure: no wall clock, randomness, timers or I/O in machines/', () => {
  const dir = new URL('../../machines/', import.meta.url).pathname;
  const forbidden = /\bDate\.now\b|new Date\(|Math\.random|setTimeout|setInterval|performance\.now|process\.|from 'node:|require\(/;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const code = readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .filter((l) => !l.trim().startsWith('//') && !l.trim().startsWith('*'))
      .join('\n');
    assert.doesNotMatch(code, forbidden, `${file} reaches outside the machine`);
  }
});

test('a failing commit (disk full, I/O error) holds the commands back and is retried, without crashing', async () => {
  const journal = new MemoryJournal();
  let failuresLeft = 2;
  const realCommit = journal.commit.bind(journal);
  journal.commit = () => {
    if (failuresLeft-- > 0) throw new Error('SQLITE_FULL: database or disk is full');
    realCommit();
  };
  const errors: string[] = [];
  const logger = { warn: () => {}, error: (_o: object, m?: string) => errors.push(m ?? '') };
  const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(), registry: builtinMachines(), random: () => 0.5, run: 'r', logger });
  const ran: number[] = [];
  system.handle('net', () => {
    ran.push(journal.committed);
  });
  system.spawn('a', 'connection', { link: 'net', policy });
  system.send('a', 'cli', 'START');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(ran, [], 'the effect waits for its cause to be durable');
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0]!, /^journal commit failed; commands wait until it succeeds, except those that keep the links up: SQLITE_FULL/);
  await new Promise((r) => setTimeout(r, 2000));
  assert.deepEqual(ran, [2], 'after the retries the command ran, with both events durable');
  system.close();
});

// ---- a journal that cannot commit (full disk) -------------------------------------

function failingSystem(opts: { maxPendingBytes?: number } = {}) {
  const journal = new FailingJournal();
  const errors: string[] = [];
  const logger = { warn: () => {}, error: (_o: object, m?: string) => errors.push(m ?? '') };
  const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(), registry: builtinMachines(), random: () => 0.5, run: 'r', logger, ...opts });
  return { journal, system, errors };
}

const turn = () => new Promise((r) => setImmediate(r));

test('link commands run while the journal cannot commit, journaled as run before durable; other commands wait', async () => {
  const { journal, system } = failingSystem();
  const ran: string[] = [];
  system.handle('net', (c) => void ran.push(c.type), { beforeDurable: true });
  system.handle('app', (c) => void ran.push(c.type));
  system.spawn('link', 'connection', { link: 'net', policy });
  system.spawn('other', 'connection', { link: 'app', policy });
  await system.flush();
  journal.failing = true;
  system.send('link', 'cli', 'START');
  system.send('other', 'cli', 'START');
  await turn();
  assert.deepEqual(ran, ['net.connect'], 'the link dials; the other command waits for its cause');
  system.send('link', 'net', 'CONNECTED');
  await turn();
  assert.deepEqual(ran, ['net.connect', 'net.online']);
  journal.failing = false;
  await system.flush();
  assert.deepEqual(ran, ['net.connect', 'net.online', 'app.connect'], 'the waiting command ran once its cause was durable');
  const notes = journal.committed.filter((r) => r.type === '@runtime.ran-before-durable');
  const start = journal.committed.find((r) => r.actor === 'link' && r.type === 'START')!;
  const connected = journal.committed.find((r) => r.actor === 'link' && r.type === 'CONNECTED')!;
  assert.deepEqual(
    notes.map((n) => [n.actor, n.payload]),
    [
      ['link', { cause: start.seq, commands: ['net.connect'] }],
      ['link', { cause: connected.seq, commands: ['net.online'] }],
    ],
  );
  assert.ok(notes.every((n) => n.state === '{"connected":"alive"}' || n.state === '"connecting"'), 'a note leaves the actor as it was');
  system.close();
});

test('with commits succeeding, link commands wait for their cause like any other', async () => {
  const journal = new MemoryJournal();
  const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(), registry: builtinMachines(), random: () => 0.5, run: 'r' });
  const ran: number[] = [];
  system.handle('net', () => void ran.push(journal.committed), { beforeDurable: true });
  system.spawn('a', 'connection', { link: 'net', policy });
  system.send('a', 'cli', 'START');
  assert.deepEqual(ran, []);
  await turn();
  assert.deepEqual(ran, [2]);
  assert.equal(journal.records.filter((r) => r.type.startsWith('@runtime.ran')).length, 0, 'nothing ran early, nothing to note');
  system.close();
});

test('durable() resolves once what was recorded is committed', async () => {
  const { journal, system } = failingSystem();
  system.spawn('a', 'connection', { link: 'net', policy });
  assert.equal(await system.durable(), true);
  journal.failing = true;
  system.send('a', 'cli', 'START');
  let settled: boolean | null = null;
  void system.durable().then((d) => (settled = d));
  await turn();
  await turn();
  assert.equal(settled, null, 'not while the commit fails');
  journal.failing = false;
  await system.flush();
  await turn();
  assert.equal(settled, true);
  system.close();
});

test('the memory held for a failing commit is bounded: at the bound the records are dropped, held commands run, and replay resumes from a snapshot', async () => {
  const { journal, system, errors } = failingSystem({ maxPendingBytes: 4096 });
  const ran: string[] = [];
  system.handle('app', (c) => void ran.push(c.type));
  system.spawn('a', 'connection', { link: 'app', policy });
  await system.flush();
  journal.failing = true;
  let lost: boolean | null = null;
  system.send('a', 'cli', 'START');
  void system.durable().then((d) => (lost = d));
  await turn();
  assert.deepEqual(ran, [], 'held back while the commit fails');
  for (let i = 0; i < 40 && journal.pending > 0 && ran.length === 0; i++) {
    system.send('a', 'test', 'NOISE', { filler: 'x'.repeat(100) });
    await turn();
  }
  assert.deepEqual(ran, ['app.connect'], 'the held command ran when its cause was dropped');
  assert.equal(lost, false, 'durable() says the dropped records never will be');
  assert.match(errors.find((e) => /reached the bound/.test(e)) ?? '', /events \(\d+ KiB\) waited in memory .*disk full.* bound of 4 KiB/);
  assert.ok(journal.pendingBytes() < 4096);

  journal.failing = false;
  system.send('a', 'app', 'CONNECTED');
  await system.flush();
  const gap = journal.committed.find((r) => r.type === '@runtime.journal-gap')!;
  assert.ok(gap, 'the gap is on record');
  const { to } = gap.payload as { from: number; to: number };
  assert.deepEqual(journal.snapshots.map((s) => s.seq), [to], 'a snapshot where the gap ends');
  system.close();

  const report = replayRecords(journal.committed, { registry: builtinMachines(), resumePoints: journal.snapshots });
  assert.equal(report.verdict, 'reproduced', JSON.stringify(report.divergence));
  const without = replayRecords(journal.committed, { registry: builtinMachines() });
  assert.equal(without.verdict, 'refused');
  assert.match(without.refusal ?? '', /journal gap .* no snapshot at seq \d+ to resume from/);
});

test('durable(waitMs) gives up after waitMs, and then no longer asks for quick retries', async () => {
  const { journal, system } = failingSystem();
  system.spawn('a', 'connection', { link: 'net', policy });
  journal.failing = true;
  system.send('a', 'cli', 'START');
  await turn();
  let attempts = 0;
  const commit = journal.commit.bind(journal);
  journal.commit = () => {
    attempts++;
    commit();
  };
  assert.equal(await system.durable(600), false, 'not durable within the wait');
  const during = attempts;
  assert.ok(during >= 2, `quick retries while someone waited (${during})`);
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(attempts - during <= 2, `back to the failure backoff once nobody waits (${attempts - during} more)`);
  journal.failing = false;
  await system.flush();
  assert.equal(await system.durable(10), true);
  system.close();
});
