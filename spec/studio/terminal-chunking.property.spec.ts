// Terminal output chunking (adapters/terminal/chunking.ts): whatever the
// reads look like, the chunks put back together are the text, none is over
// 32 KiB, and none ends inside a character; the studio-terminal machine's
// teardown is bounded by its grace. Property tests (fast-check).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createActor } from 'xstate';
import { incompleteTail, TERMINAL_CHUNK_BYTES, Utf8Chunker } from '../../adapters/terminal/chunking.js';
import { parseResize } from '../../adapters/terminal/studio-terminals.js';
import { studioTerminalMachine } from '../../machines/studio-terminal.js';

/** Cuts `buf` at the given fractions into reads, as a PTY or a socket delivers them. */
function reads(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * buf.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(buf.subarray(last, p));
    last = p;
  }
  out.push(buf.subarray(last));
  return out;
}

const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 3000 }), fc.string({ unit: 'binary', maxLength: 3000 }), fc.constant('é'.repeat(40_000)), fc.constant('😀'.repeat(20_000)));

describe('terminal output chunking', () => {
  it('reassembles any valid UTF-8 text exactly, in chunks of at most the limit, never splitting a character', () => {
    fc.assert(
      fc.property(text, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }), fc.constantFrom(4, 7, 64, TERMINAL_CHUNK_BYTES), (s, cuts, max) => {
        const chunker = new Utf8Chunker(max);
        const chunks: string[] = [];
        for (const r of reads(Buffer.from(s, 'utf8'), cuts)) chunks.push(...chunker.push(r));
        chunks.push(...chunker.end());
        assert.equal(chunks.join(''), s);
        for (const c of chunks) {
          assert.ok(Buffer.byteLength(c) <= max, `chunk of ${Buffer.byteLength(c)} bytes over ${max}`);
          assert.ok(!c.includes('\uFFFD') || s.includes('\uFFFD'), 'no character was cut into replacement characters');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary bytes never grow the held tail past 3 bytes and never exceed the limit', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 30 }), (parts) => {
        const chunker = new Utf8Chunker(16);
        for (const p of parts) {
          for (const c of chunker.push(Buffer.from(p))) assert.ok(Buffer.byteLength(c) <= 16 * 3, 'a replacement character is 3 bytes for 1');
        }
        for (const p of parts) assert.ok(incompleteTail(Buffer.from(p)) <= 3);
      }),
    );
  });

  it('a resize is {height, width}, integers 1-1000, or an invalid_argument naming args[0]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 }), (h, w) => {
        assert.deepEqual(parseResize({ height: h, width: w }), { rows: h, cols: w });
      }),
    );
    fc.assert(
      fc.property(fc.anything(), (v) => {
        try {
          const r = parseResize(v);
          assert.ok(r.rows >= 1 && r.rows <= 1000 && r.cols >= 1 && r.cols <= 1000);
        } catch (err) {
          assert.match((err as Error).message, /field "args\[0\]"/);
        }
      }),
    );
  });
});

describe('the studio-terminal machine', () => {
  const input = { sessionId: 's', kind: 'container' as const, container: 'prod_1_x', caller: '1001', graceMs: 5000 };
  const stamp = { at: 0, rand: 0 };

  it('any close hangs up once, then kills after the grace unless the shell ended; release always last', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), (started, endsInGrace, twice) => {
        const emitted: string[] = [];
        const clock = fakeClock();
        const actor = createActor(studioTerminalMachine, { input, clock });
        for (const t of ['terminal.hangup', 'terminal.kill', 'terminal.release'] as const) actor.on(t, (e) => void emitted.push(e.type));
        actor.start();
        if (started) actor.send({ type: 'STARTED', registrationId: 7, ...stamp });
        actor.send({ type: 'CLOSE', reason: 'stop_terminal_session', ...stamp });
        if (twice) actor.send({ type: 'CLOSE', reason: 'again', ...stamp });
        if (endsInGrace) actor.send({ type: 'ENDED', reason: 'the shell ended', bytesIn: 1, bytesOut: 2, ...stamp });
        else clock.fire();
        assert.deepEqual(emitted, endsInGrace ? ['terminal.hangup', 'terminal.release'] : ['terminal.hangup', 'terminal.kill', 'terminal.release']);
        assert.equal(actor.getSnapshot().status, 'done');
        assert.equal(actor.getSnapshot().context.endReason?.startsWith('stop_terminal_session'), true);
      }),
    );
  });

  it('a terminal requested and never started gives its slot back after the start timeout, without a hangup', () => {
    const emitted: string[] = [];
    const clock = fakeClock();
    const actor = createActor(studioTerminalMachine, { input, clock });
    for (const t of ['terminal.hangup', 'terminal.kill', 'terminal.release'] as const) actor.on(t, (e) => void emitted.push(e.type));
    actor.start();
    clock.fire();
    assert.deepEqual(emitted, ['terminal.release']);
    assert.equal(actor.getSnapshot().context.endReason, 'never started');
  });
});

/** A clock for createActor whose one pending timer the test fires. */
function fakeClock() {
  const timers = new Map<number, () => void>();
  let next = 1;
  return {
    timers,
    setTimeout(fn: () => void, _ms: number) {
      const id = next++;
      timers.set(id, fn);
      return id;
    },
    clearTimeout(id: number) {
      timers.delete(id);
    },
    fire() {
      for (const [id, fn] of [...timers]) {
        timers.delete(id);
        fn();
      }
    },
  };
}
