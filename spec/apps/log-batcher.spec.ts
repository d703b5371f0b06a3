import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ManualClock } from '../../actors/clock.js';
import { LogBatcher, dropMarker } from '../../apps/log-batcher.js';
import type { LogBatch } from '../../apps/service.js';

const SETTINGS = { batchIntervalMs: 200, maxBatchBytes: 4096, maxBufferBytes: 16384 };

function harness(settings = SETTINGS) {
  const clock = new ManualClock(0);
  const batcher = new LogBatcher(clock, settings);
  const batches: LogBatch[] = [];
  return { clock, batcher, batches, listen: (c = 'prod_1_a') => batcher.subscribe(c, (b) => batches.push(b)) };
}

const bytes = (lines: string[]) => lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);

test('one batch per interval per app, lines in order, agent messages apart', () => {
  const h = harness();
  h.listen();
  h.batcher.lines('prod_1_a', ['one', 'two']);
  h.batcher.message('prod_1_a', 'Starting image build…');
  h.batcher.lines('prod_1_a', ['three']);
  assert.equal(h.batches.length, 0, 'nothing before the interval');
  h.clock.advance(199);
  assert.equal(h.batches.length, 0);
  h.clock.advance(1);
  assert.deepEqual(h.batches, [{ containerName: 'prod_1_a', lines: ['one', 'two', 'three'], messages: ['Starting image build…'], dropped: 0 }]);
  h.clock.advance(1000);
  assert.equal(h.batches.length, 1, 'no empty batches');
});

test('nothing is buffered for apps nobody listens to, and unsubscribing stops the batches', () => {
  const h = harness();
  h.batcher.lines('prod_1_a', ['lost to nobody']);
  h.clock.advance(500);
  assert.equal(h.batches.length, 0);
  const off = h.listen();
  h.batcher.lines('prod_2_b', ['other app']);
  h.batcher.lines('prod_1_a', ['seen']);
  off();
  h.batcher.lines('prod_1_a', ['after']);
  h.clock.advance(500);
  assert.deepEqual(h.batches, []);
});

test('property: every line is either published in order or counted by the marker, and no batch exceeds the limit', () => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.string({ maxLength: 700 }), { maxLength: 40 }), { maxLength: 8 }), (intervals) => {
      const h = harness();
      h.listen();
      const sent: string[] = [];
      for (const lines of intervals) {
        h.batcher.lines('prod_1_a', lines);
        sent.push(...lines);
        h.clock.advance(200);
      }
      let published: string[] = [];
      let dropped = 0;
      for (const b of h.batches) {
        assert.ok(bytes(b.lines) <= SETTINGS.maxBatchBytes, `batch of ${bytes(b.lines)} bytes`);
        const body = b.dropped > 0 ? b.lines.slice(0, -1) : b.lines;
        if (b.dropped > 0) assert.equal(b.lines.at(-1), dropMarker(b.dropped));
        published = published.concat(body);
        dropped += b.dropped;
      }
      assert.equal(published.length + dropped, sent.length);
      // What is published is a subsequence of what was sent, in order.
      let i = 0;
      for (const line of sent) if (line === published[i]) i++;
      assert.equal(i, published.length);
    }),
    { numRuns: 200 },
  );
});

test('a flood is cut at the batch limit with a counted marker, and the buffer is bounded too', () => {
  const h = harness();
  h.listen();
  const line = 'x'.repeat(99);
  h.batcher.lines('prod_1_a', Array.from({ length: 1000 }, () => line));
  h.clock.advance(200);
  const [b] = h.batches;
  assert.ok(b);
  const kept = b.lines.length - 1;
  assert.equal(b.dropped, 1000 - kept);
  assert.equal(b.lines.at(-1), `… ${b.dropped} log line(s) dropped (rate limit)`);
  assert.ok(kept > 0 && bytes(b.lines) <= SETTINGS.maxBatchBytes);
});
