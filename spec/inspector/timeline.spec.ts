import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Timeline, type TimelineFilter, type TimelineInput } from '../../inspector/timeline.js';
import { activePaths, chartOf, resolveDelays } from '../../inspector/chart.js';
import { parseRequest, publicDir } from '../../inspector/server.js';
import { connectionMachine } from '../../machines/connection.js';
import { studioPolicy } from '../helpers/connection-policy.js';

const arbEvent: fc.Arbitrary<Omit<TimelineInput, 'seq'>> = fc.record({
  at: fc.integer({ min: 0, max: 1e6 }),
  actor: fc.constantFrom('a', 'b', 'c'),
  machine: fc.constantFrom('connection', null),
  source: fc.constantFrom('net', 'clock', 'runtime'),
  type: fc.constantFrom('START', 'PONG', 'CONNECTED', 'xstate.after.x'),
  payload: fc.oneof(fc.constant({}), fc.record({ reason: fc.constantFrom('eof', 'refused', 'Ünïcode') }).map((p) => ({ ...p }))),
  state: fc.constantFrom('"idle"', '"connecting"', '{"connected":"alive"}', null),
  commands: fc.constantFrom([], ['net.connect'], ['net.disconnect', 'net.online']),
  history: fc.boolean(),
  differs: fc.boolean(),
});

const arbFilter: fc.Arbitrary<TimelineFilter> = fc.record(
  { actor: fc.constantFrom('a', 'b', 'zz'), source: fc.constantFrom('net', 'clock'), type: fc.constantFrom('on', 'START', 'x.'), text: fc.constantFrom('eof', 'ü', 'REF') },
  { requiredKeys: [] },
);

function naiveMatch(e: TimelineInput, f: TimelineFilter): boolean {
  return (
    (!f.actor || e.actor === f.actor) &&
    (!f.source || e.source === f.source) &&
    (!f.type || e.type.toLowerCase().includes(f.type.toLowerCase())) &&
    (!f.text || JSON.stringify(e.payload).toLowerCase().includes(f.text.toLowerCase()))
  );
}

test('the timeline answers like a plain array would: rows, filtered pages, state of every actor at any row, also after forgetting old rows', () => {
  fc.assert(
    fc.property(fc.array(arbEvent, { maxLength: 120 }), fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }), arbFilter, (events, cap, filter) => {
      const all: TimelineInput[] = events.map((e, i) => ({ ...e, seq: i * 2 + 1 }));
      const t = new Timeline(cap);
      // Filters are cached and extended as rows arrive: query halfway, then again at the end.
      all.forEach((e, i) => {
        t.append(e);
        if (i === Math.floor(all.length / 2)) t.query(filter, 0, 5);
      });
      assert.equal(t.length, all.length);
      const first = t.first;
      assert.ok(cap === undefined || all.length - first <= Math.ceil(cap * 1.25));
      for (let r = first; r < all.length; r++) {
        const row = t.get(r)!;
        const e = all[r]!;
        assert.deepEqual([row.seq, row.actor, row.type, row.state, row.payload, row.commands, row.machine], [e.seq, e.actor, e.type, e.state, e.payload, [...e.commands], e.machine]);
        // "changed": the first event of its actor, or one that left it in another state than its previous event did.
        const previous = all.slice(0, r).findLast((p) => p.actor === e.actor);
        assert.equal(row.changed, previous === undefined || previous.state !== e.state, `row ${r} changed`);
        assert.deepEqual([row.history, row.differs], [e.history === true, e.differs === true]);
        assert.equal(t.rowOfSeq(e.seq), r);
        assert.equal(t.rowOfSeq(e.seq + 1), r, 'a seq between two rows finds the earlier one');
      }
      const kept = all.map((e, row) => ({ e, row })).filter((x) => x.row >= first);
      const expected = kept.filter((x) => naiveMatch(x.e, filter)).map((x) => x.row);
      const q = t.query(filter, 0, 1000);
      assert.equal(q.total, expected.length);
      assert.deepEqual(q.rows.map((r) => r.row), expected);
      assert.deepEqual(t.query(filter, 2, 3).rows.map((r) => r.row), expected.slice(2, 5));
      if (expected.length) assert.equal(t.indexOf(filter, expected.at(-1)!), expected.length - 1);

      // stateAt: each actor's state after its last event at or before the row (also events before `first`).
      for (let r = first; r < all.length; r++) {
        const naive = new Map<string, string | null>();
        all.slice(0, r + 1).forEach((e) => naive.set(e.actor, e.state));
        const got = new Map(t.stateAt(r).map((s) => [s.actor, s.state]));
        assert.deepEqual(got, naive, `row ${r}`);
      }
      // Activity counts every event of an actor, also those forgotten by the cap.
      const counts = new Map<string, number>();
      for (const e of all) counts.set(e.actor, (counts.get(e.actor) ?? 0) + 1);
      assert.deepEqual(new Map(t.actorList().map((a) => [a.id, a.events])), counts);
    }),
    { numRuns: 150 },
  );
});

test('an actor declared before the first row shows from the start', () => {
  const t = new Timeline();
  t.declareActor('studio', 'connection', '"idle"');
  assert.deepEqual(t.stateAt(-1).map((s) => [s.actor, s.state]), [['studio', '"idle"']]);
  t.append({ seq: 5, at: 0, actor: 'studio', machine: 'connection', source: 'net', type: 'START', payload: {}, state: '"connecting"', commands: [] });
  assert.equal(t.stateAt(0)[0]!.state, '"connecting"');
  assert.deepEqual(t.actorList(), [{ id: 'studio', machine: 'connection', events: 1 }]);
});

test('the connection chart has every state, nested, and every transition with its event, delay and guard', () => {
  const chart = chartOf('connection', 1, connectionMachine);
  const paths: string[] = [];
  const walk = (n: typeof chart.root) => {
    paths.push(n.path);
    n.children.forEach(walk);
  };
  walk(chart.root);
  assert.deepEqual(paths.sort(), ['', 'backoff', 'connected', 'connected.alive', 'connected.awaitingPong', 'connecting', 'idle']);
  assert.equal(chart.root.initial, 'idle');
  assert.equal(chart.root.children.find((c) => c.key === 'connected')!.initial, 'alive');
  const edge = (source: string, label: string) => chart.edges.find((e) => e.source === source && e.label === label);
  assert.deepEqual(edge('idle', 'START')!.targets, ['connecting']);
  assert.deepEqual(edge('connecting', 'after connectTimeout')!, { ...edge('connecting', 'after connectTimeout')!, targets: ['backoff'], delay: 'connectTimeout', guard: 'hasConnectTimeout' });
  assert.deepEqual(edge('connected.awaitingPong', 'after pingInterval')!.targets, ['backoff']);
  assert.equal(edge('connected.alive', 'PONG')!.reenter, true);
  assert.equal(chart.edges.filter((e) => e.source === 'connected' && e.event === 'DISCONNECTED').length, 2, 'both guarded branches');
  assert.deepEqual(resolveDelays(connectionMachine, { policy: studioPolicy, delayMs: 1234 }), { connectTimeout: 1250, pingInterval: 5000, backoffDelay: 1234 });
  assert.deepEqual(activePaths({ connected: 'alive' }), ['connected', 'connected.alive']);
  assert.deepEqual(activePaths('idle'), ['idle']);
  assert.deepEqual(activePaths({ a: { b: 'c' }, d: 'e' }), ['a', 'a.b', 'a.b.c', 'd', 'd.e']);
});

test('page requests are checked field by field', () => {
  assert.deepEqual(parseRequest('{"id":1,"op":"rows","filter":{"actor":"a","type":""},"offset":0,"limit":10}'), { id: 1, op: 'rows', filter: { actor: 'a' }, offset: 0, limit: 10 });
  assert.throws(() => parseRequest('{"id":1,"op":"rows","offset":0,"limit":100000}'), /field "limit": expected an integer in \[1, 1000\]/);
  assert.throws(() => parseRequest('{"id":1,"op":"stateAt","row":"x"}'), /field "row"/);
  assert.throws(() => parseRequest('{"id":1,"op":"drop"}'), /field "op": expected rows, stateAt/);
  // A context at an event (time travel), or the newest without a row.
  assert.deepEqual(parseRequest('{"id":2,"op":"detail","actor":"studio","row":7}'), { id: 2, op: 'detail', actor: 'studio', row: 7 });
  assert.deepEqual(parseRequest('{"id":2,"op":"detail","actor":"studio"}'), { id: 2, op: 'detail', actor: 'studio' });
  for (const row of ['-1', '"7"', '1.5', 'null']) assert.throws(() => parseRequest(`{"id":2,"op":"detail","actor":"studio","row":${row}}`), /field "row": expected an integer/, row);
  assert.throws(() => parseRequest('{"id":1,"op":"rows","offset":0,"limit":1,"filter":{"text":5}}'), /field "filter.text"/);
  assert.throws(() => parseRequest('nope'));
});

test('the page files are found from the sources and from the build alike', () => {
  const fromSource = publicDir(new URL('../../inspector/server.ts', import.meta.url).href);
  const fromDist = publicDir(new URL('../../dist/inspector/server.js', import.meta.url).href);
  assert.equal(fromDist, fromSource);
  assert.match(fromSource, /inspector\/public\/$/);
  assert.throws(() => publicDir(new URL('file:///nowhere/x/y/server.js').href), /page files not found/);
});
