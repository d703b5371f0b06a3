// The live inspector's history of contexts: within its bound it answers what
// a complete record would; past it (and before the inspector attached) it
// says why it has nothing, never a wrong context. Each actor's current
// context survives any bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LiveContexts } from '../../inspector/live-contexts.js';

type Note = { actor: string; value: number | null };

const arbNotes = fc.array(fc.record({ actor: fc.constantFrom('a', 'b', 'c'), value: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant(null)) }), { maxLength: 80 });

test('property: within the bound every answer is the context of the last change at or before the row; past it, an explanation', () => {
  fc.assert(
    fc.property(arbNotes, fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 5 }), (notes: Note[], maxChanges, attachedAt) => {
      const live = new LiveContexts({ maxChanges });
      live.attached(attachedAt);
      // Rows count from `attachedAt`; the same object for an unchanged value, as XState keeps it.
      const objects = new Map<number, object>();
      const obj = (v: number) => objects.get(v) ?? (objects.set(v, { v }), objects.get(v)!);
      const full = new Map<string, Array<{ row: number; value: number | null }>>();
      notes.forEach((n, i) => {
        const row = attachedAt + i;
        live.note(n.actor, row, n.value === null ? null : obj(n.value));
        const h = full.get(n.actor) ?? [];
        if (h.length === 0 || h.at(-1)!.value !== n.value) h.push({ row, value: n.value });
        full.set(n.actor, h);
      });
      // Superseded changes, oldest superseded first: the last `maxChanges` of them are kept.
      const superseded: Array<{ actor: string; row: number }> = [];
      const seen = new Map<string, number>();
      notes.forEach((n, i) => {
        const h = full.get(n.actor)!;
        const k = h.findIndex((c) => c.row === attachedAt + i);
        if (k > 0) superseded.push({ actor: n.actor, row: h[k - 1]!.row });
        seen.set(n.actor, i);
      });
      const kept = new Set(superseded.slice(Math.max(0, superseded.length - maxChanges)).map((s) => `${s.actor}@${s.row}`));
      assert.ok(live.usage().changes <= maxChanges);
      for (const [actor, h] of full) {
        for (let row = attachedAt - 2; row < attachedAt + notes.length; row++) {
          const got = live.at(actor, row);
          const k = h.findLastIndex((c) => c.row <= row);
          const change = h[k];
          const isKept = change !== undefined && (k === h.length - 1 || kept.has(`${actor}@${change.row}`));
          if (change === undefined || !isKept) {
            assert.ok('unavailable' in got, `${actor}@${row}: expected no context, got ${JSON.stringify(got)}`);
            const why = (got as { unavailable: string }).unavailable;
            if (row < attachedAt - 1) assert.match(why, /before the inspector started/);
            else if (change !== undefined) assert.match(why, /older than the context history kept/);
            else assert.match(why, /did not exist yet/);
          } else if (change.value === null) {
            // Stopped: its context when it stopped, if that is still kept.
            const prev = h[k - 1];
            if ('context' in got) {
              assert.ok(prev && prev.value !== null);
              assert.equal(got.context, JSON.stringify({ v: prev.value }));
              assert.match(got.note ?? '', /stopped at event/);
            } else assert.match(got.unavailable, /stopped at event/);
          } else {
            assert.deepEqual(got, { context: JSON.stringify({ v: change.value }) }, `${actor}@${row}`);
          }
        }
      }
    }),
    { numRuns: 300 },
  );
});

test('the bound holds in bytes too, and each actor keeps its current context whatever the others churn', () => {
  const live = new LiveContexts({ maxChanges: 1_000_000, maxBytes: 10_000 });
  live.attached(0);
  live.note('idle', 0, { name: 'idle', big: 'x'.repeat(500) });
  for (let row = 1; row < 5000; row++) live.note('busy', row, { n: row, pad: 'y'.repeat(100) });
  assert.ok(live.usage().bytes <= 10_000, JSON.stringify(live.usage()));
  assert.match((live.at('idle', 4999) as { context: string }).context, /"name":"idle"/, 'the quiet actor keeps its current context');
  assert.match((live.at('busy', 4999) as { context: string }).context, /"n":4999/);
  assert.match((live.at('busy', 4990) as { context: string }).context, /"n":4990/);
  assert.match((live.at('busy', 10) as { unavailable: string }).unavailable, /older than the context history kept: the live inspector keeps the last 1,000,000 context changes \(at most 0 MiB\)/);
});
