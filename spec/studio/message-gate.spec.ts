// The inbound WAMP message gate (adapters/wamp/message-gate.ts): what a
// router may send, in which state, matched against what we asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MSG, MessageGate } from '../../adapters/wamp/message-gate.js';

const WELCOME = [MSG.WELCOME, 77, { roles: { dealer: {}, broker: {} } }];

function joined(): MessageGate {
  const g = new MessageGate();
  assert.equal(g.check(WELCOME).ok, true);
  return g;
}

test('before WELCOME only CHALLENGE, WELCOME and ABORT pass', () => {
  const g = new MessageGate();
  assert.equal(g.check([MSG.CHALLENGE, 'wampcra', { challenge: 'x' }]).ok, true);
  assert.equal(g.check([MSG.RESULT, 1, {}]).ok, false);
  assert.equal(g.check([MSG.WELCOME, 'x', {}]).ok, false, 'a session id must be an id');
  assert.equal(g.check([MSG.WELCOME, 5, { roles: 1 }]).ok, false);
  assert.equal(g.check(WELCOME).ok, true);
  assert.equal(g.check(WELCOME).ok, false, 'a second WELCOME is refused');
  assert.equal(g.check([MSG.CHALLENGE, 'wampcra', {}]).ok, false);
});

test('answers pass only for requests we sent, once (progressive results until the last)', () => {
  const g = joined();
  assert.equal(g.check([MSG.RESULT, 5, {}]).ok, false);
  g.sent([MSG.CALL, 5, {}, 'x.y', []]);
  assert.equal(g.check([MSG.RESULT, 5, 'details', []]).ok, false, 'Details must be a dict');
  assert.equal(g.check([MSG.RESULT, 5, {}, {}]).ok, false, 'Arguments must be a list');
  assert.equal(g.check([MSG.RESULT, 5, {}, [], []]).ok, false, 'ArgumentsKw must be a dict');
  assert.equal(g.check([MSG.RESULT, 5, { progress: true }, [1]]).ok, true);
  assert.equal(g.check([MSG.RESULT, 5, {}, [2], { a: 1 }]).ok, true);
  assert.equal(g.check([MSG.RESULT, 5, {}, [2]]).ok, false, 'answered already');
  g.sent([MSG.CALL, 6, {}, 'x.y']);
  assert.equal(g.check([MSG.ERROR, MSG.REGISTER, 6, {}, 'wamp.error.x']).ok, false, 'an ERROR must name the right request type');
  assert.equal(g.check([MSG.ERROR, MSG.CALL, 6, {}, 'wamp.error.x', ['why']]).ok, true);
  // An unacknowledged publish expects nothing; an acknowledged one one answer.
  g.sent([MSG.PUBLISH, 7, {}, 't', []]);
  assert.equal(g.check([MSG.PUBLISHED, 7, 1]).ok, false);
  g.sent([MSG.PUBLISH, 8, { acknowledge: true }, 't', []]);
  assert.equal(g.check([MSG.PUBLISHED, 8, 1]).ok, true);
});

test('INVOCATION and EVENT need a registration / subscription we hold; a refused INVOCATION gets an ERROR reply', () => {
  const g = joined();
  const inv = g.check([MSG.INVOCATION, 10, 99, {}, []]);
  assert.equal(inv.ok, false);
  assert.deepEqual(!inv.ok && inv.reply?.slice(0, 5), [MSG.ERROR, MSG.INVOCATION, 10, {}, 'wamp.error.no_such_registration']);
  g.sent([MSG.REGISTER, 1, {}, 're.mgmt.x.y']);
  assert.equal(g.check([MSG.REGISTERED, 1, 99]).ok, true);
  assert.equal(g.check([MSG.INVOCATION, 11, 99, {}, [], {}]).ok, true);
  const bad = g.check([MSG.INVOCATION, 12, 99, {}, 'not a list']);
  assert.deepEqual(!bad.ok && bad.reply?.[4], 'wamp.error.invalid_argument');
  const noId = g.check([MSG.INVOCATION, 'x', 99, {}]);
  assert.equal(!noId.ok && noId.reply, undefined, 'no request id: nothing to answer');
  // The router revokes the registration: later invocations are refused.
  assert.equal(g.check([MSG.UNREGISTERED, 0, { registration: 99 }]).ok, true);
  assert.equal(g.check([MSG.INVOCATION, 13, 99, {}]).ok, false);

  assert.equal(g.check([MSG.EVENT, 4, 1, {}]).ok, false);
  g.sent([MSG.SUBSCRIBE, 2, {}, 'topic']);
  assert.equal(g.check([MSG.SUBSCRIBED, 2, 4]).ok, true);
  assert.equal(g.check([MSG.EVENT, 4, 1, {}, ['a'], { b: 1 }]).ok, true);
  assert.equal(g.check([MSG.EVENT, 4, 1, null]).ok, false);
});

test('GOODBYE and ABORT always pass (they end the session); unknown types never do', () => {
  const g = joined();
  assert.equal(g.check([MSG.INTERRUPT, 1, {}]).ok, false);
  assert.equal(g.check([999]).ok, false);
  assert.equal(g.check(['x']).ok, false);
  assert.equal(g.check([]).ok, false);
  assert.equal(g.check([MSG.GOODBYE, {}, 'wamp.close.normal']).ok, true);
  assert.equal(g.check([MSG.ABORT, {}, 'wamp.error.x']).ok, true);
});

test('property: any message is judged without throwing, and a refusal says why', () => {
  const id = fc.oneof(fc.nat(20), fc.constant(-1), fc.double(), fc.string({ maxLength: 3 }));
  const anyJson = fc.jsonValue({ maxDepth: 3 });
  const message = fc.oneof(
    fc.array(anyJson, { maxLength: 8 }),
    fc.tuple(fc.constantFrom(...Object.values(MSG), 0, 7, 1000), id, fc.oneof(id, anyJson), anyJson, anyJson, anyJson).map((t) => t.slice(0, 1 + (t[1] as number & 3))),
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), message), { maxLength: 30 }), (steps) => {
      const g = new MessageGate();
      g.check(WELCOME);
      for (const [outbound, m] of steps) {
        if (outbound) {
          g.sent(m as unknown[]);
          continue;
        }
        const v = g.check(m as unknown[]);
        if (!v.ok) {
          assert.ok(v.reason.length > 0 && v.reason.length < 300);
          if (v.reply) assert.equal(v.reply[0], MSG.ERROR);
        }
      }
    }),
    { numRuns: 2000 },
  );
});
