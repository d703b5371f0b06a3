// The inspection stream in Stately Inspect's WebSocket format, checked the
// way a Stately receiver reads it: JSON text frames, @xstate.actor /
// @xstate.event / @xstate.snapshot with sessionId, rootId, createdAt, id and _version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import type { Json } from '../../actors/types.js';
import { startLiveInspector } from '../../inspector/live.js';
import { STATELY_BUFFER, STATELY_PROTOCOL_VERSION, type StatelyMessage } from '../../inspector/stately.js';
import { Redactor } from '../../adapters/log/redactor.js';
import { MemoryJournal } from '../helpers/memory-journal.js';
import { studioPolicy } from '../helpers/connection-policy.js';

const policy = studioPolicy as unknown as Json;

/** Collects messages from a socket; `until` resolves once `n` have arrived. */
function collect(ws: WebSocket) {
  const messages: StatelyMessage[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data, isBinary) => {
    assert.equal(isBinary, false, 'text frames, as createWebSocketInspector sends them');
    messages.push(JSON.parse(String(data)) as StatelyMessage);
    for (const w of waiters.splice(0)) w();
  });
  return {
    messages,
    async until(n: number, timeoutMs = 5000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`got ${messages.length} of ${n} messages: ${JSON.stringify(messages.map((m) => m.type))}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

/** Connects, collecting from the first frame on (the greeting arrives with the handshake). */
function opened(url: string, headers?: Record<string, string>): Promise<WebSocket & { feed: ReturnType<typeof collect> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const feed = collect(ws);
    ws.once('open', () => resolve(Object.assign(ws, { feed })));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

function checkBase(m: StatelyMessage, rootId: string) {
  assert.equal(typeof m.sessionId, 'string');
  assert.equal(m.rootId, rootId);
  assert.equal(typeof m.createdAt, 'string');
  assert.match(m.createdAt, /^\d+$/, 'createdAt is a millisecond timestamp as a string, like Date.now().toString()');
  assert.ok(m.id === null || typeof m.id === 'string');
  assert.equal(m._version, STATELY_PROTOCOL_VERSION);
}

test('the /stately endpoint speaks Stately Inspect: actors, events and snapshots, live', async () => {
  const registry = builtinMachines();
  const clock = new ManualClock(1_700_000_000_000);
  const system = new ActorSystem<LooseCatalog>({ journal: new MemoryJournal(), clock, registry, random: () => 0.5, run: 'r1' });
  const redactor = new Redactor();
  redactor.addSecret('sekrit-value-123');
  system.spawn('studio', 'connection', { link: 'net', policy });
  const inspector = await startLiveInspector({ system, registry, run: 'r1', agentVersion: 'test', address: '127.0.0.1:0', scrub: (v) => redactor.scrub(v) });
  try {
    await assert.rejects(opened(`ws://127.0.0.1:${inspector.port}/stately`), /HTTP 401/, 'no token, no stream');
    // The page's cookie does not open the stream for another site's page (cross-site WebSocket hijacking).
    const cookie = (await fetch(inspector.url, { redirect: 'manual' })).headers.get('set-cookie')!.split(';')[0]!;
    await assert.rejects(opened(`ws://127.0.0.1:${inspector.port}/stately`, { Cookie: cookie, Origin: 'https://evil.example' }), /HTTP 401/);
    (await opened(`ws://127.0.0.1:${inspector.port}/ws`, { Cookie: cookie, Origin: `http://127.0.0.1:${inspector.port}` })).close();
    // Stately's tools run on another origin: the token in the URL is what lets them in.
    const ws = await opened(`ws://127.0.0.1:${inspector.port}/stately?token=${inspector.token}`, { Origin: 'https://stately.ai' });
    const feed = ws.feed;
    await feed.until(2);
    const [root, studio] = feed.messages as [StatelyMessage, StatelyMessage];
    const rootId = 'reagent:r1';
    assert.equal(root.type, '@xstate.actor');
    assert.equal(root.sessionId, rootId);
    checkBase(root, rootId);
    assert.equal(studio.type, '@xstate.actor');
    checkBase(studio, rootId);
    if (studio.type !== '@xstate.actor') throw new Error('unreachable');
    assert.equal(studio.sessionId, 'studio');
    assert.equal(studio.parentId, rootId);
    assert.equal(studio.name, 'connection');
    const definition = JSON.parse(studio.definition!) as { id: string; states: Record<string, unknown> };
    assert.equal(definition.id, 'connection');
    assert.deepEqual(Object.keys(definition.states).sort(), ['backoff', 'connected', 'connecting', 'idle']);
    assert.equal(studio.snapshot.status, 'active');
    assert.equal(studio.snapshot['value'], 'idle');

    system.send('studio', 'net', 'START');
    system.send('studio', 'net', 'DISCONNECTED', { reason: 'auth sekrit-value-123 refused', environment: { API_URL: 'app-env-PLANTED-2' } });
    await feed.until(6);
    const [ev1, snap1, , snap2] = feed.messages.slice(2) as StatelyMessage[];
    assert.equal(ev1!.type, '@xstate.event');
    if (ev1!.type !== '@xstate.event' || snap1!.type !== '@xstate.snapshot' || snap2!.type !== '@xstate.snapshot') throw new Error('unexpected order');
    checkBase(ev1!, rootId);
    assert.equal(ev1!.sessionId, 'studio');
    assert.equal(ev1!.event.type, 'START');
    assert.equal(ev1!.createdAt, String(clock.now()));
    checkBase(snap1!, rootId);
    assert.equal(snap1!.snapshot['value'], 'connecting');
    assert.equal((snap1!.snapshot['context'] as { attempt: number }).attempt, 1);
    assert.equal(snap2!.snapshot['value'], 'backoff');
    // Redacted on the way out, like the logs.
    assert.ok(!JSON.stringify(feed.messages).includes('sekrit-value-123'));
    assert.match(JSON.stringify(feed.messages), /auth \[REDACTED\] refused/);
    // An app's environment: names shown, values hidden.
    assert.ok(!JSON.stringify(feed.messages).includes('app-env-PLANTED-2'));
    assert.ok(JSON.stringify(feed.messages).includes('"API_URL":"[REDACTED]"'));
    ws.close();
  } finally {
    await inspector.close();
    system.close();
  }
});

test('a new Stately client gets every actor, then at most the last 200 events and snapshots, like Stately\'s relay', async () => {
  const registry = builtinMachines();
  const system = new ActorSystem<LooseCatalog>({ journal: new MemoryJournal(), clock: new ManualClock(0), registry, random: () => 0.5, run: 'r2' });
  const inspector = await startLiveInspector({ system, registry, run: 'r2', agentVersion: 'test', address: '127.0.0.1:0' });
  try {
    for (const id of ['a', 'b']) system.spawn(id, 'connection', { link: 'net', policy });
    for (let i = 0; i < 300; i++) system.send(i % 2 ? 'a' : 'b', 'net', i % 3 ? 'PONG' : 'START');
    const ws = await opened(`ws://127.0.0.1:${inspector.port}/stately?token=${inspector.token}`);
    const feed = ws.feed;
    await feed.until(3 + STATELY_BUFFER);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(feed.messages.length, 3 + STATELY_BUFFER);
    assert.deepEqual(
      feed.messages.slice(0, 3).map((m) => [m.type, m.sessionId]),
      [
        ['@xstate.actor', 'reagent:r2'],
        ['@xstate.actor', 'a'],
        ['@xstate.actor', 'b'],
      ],
    );
    const last = feed.messages.at(-1)!;
    assert.equal(last.type, '@xstate.snapshot');
    assert.equal(last.id, '302.snapshot', 'the newest message is the snapshot after the last event (seq 302)');
    ws.close();
  } finally {
    await inspector.close();
    system.close();
  }
});
