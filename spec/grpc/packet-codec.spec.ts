// The hand-written codec must agree with proto/transport.proto as
// proto-loader (protobufjs) reads it, in both directions, for any packet;
// and hostile bytes must give a ProtoDecodeError, never anything else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition } from '@grpc/grpc-js';
import {
  decodeHealthCheckResponse,
  decodePacket,
  decodePreConnectRequest,
  decodePreConnectResponse,
  encodeHealthCheckResponse,
  encodePacket,
  encodePreConnectRequest,
  encodePreConnectResponse,
  ProtoDecodeError,
  type Packet,
} from '../../adapters/grpc/packet-codec.js';

const PROTO = fileURLToPath(new URL('../../proto/transport.proto', import.meta.url));
const def = protoLoader.loadSync(PROTO, { keepCase: true, defaults: true });
const svc = def['protobuf.Transport'] as protoLoader.ServiceDefinition;
type LoaderPacket = { component: string; type: string; spec: Record<string, Buffer>; payload: Buffer };
const connect = svc['Connect'] as MethodDefinition<LoaderPacket, LoaderPacket>;
const preConnect = svc['PreConnect'] as MethodDefinition<Record<string, unknown>, { status: string; message: string }>;
const health = svc['HealthCheck'] as MethodDefinition<object, { status: string }>;

const arbPacket: fc.Arbitrary<Packet> = fc.record({
  component: fc.string({ maxLength: 8 }),
  type: fc.oneof(fc.constantFrom('AgentSessionOpen', 'ClientTCPConnectionWrite', 'GatewayKeepAlive'), fc.string({ maxLength: 40 })),
  spec: fc.uniqueArray(fc.tuple(fc.string({ maxLength: 30 }), fc.uint8Array({ maxLength: 64 })), { selector: ([k]) => k, maxLength: 6 }).map((entries) => new Map(entries.map(([k, v]) => [k, Buffer.from(v)]))),
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
});

function toLoader(p: Packet): LoaderPacket {
  return { component: p.component ?? '', type: p.type, spec: Object.fromEntries(p.spec), payload: p.payload };
}

function normalize(p: Packet): LoaderPacket {
  return { component: p.component ?? '', type: p.type, spec: Object.fromEntries([...p.spec].map(([k, v]) => [k, Buffer.from(v)])), payload: Buffer.from(p.payload) };
}

test('packets we encode decode identically with proto-loader, and the reverse', () => {
  fc.assert(
    fc.property(arbPacket, (p) => {
      // Strings with lone surrogates are not valid proto3 strings; both sides replace them.
      const viaLoader = connect.requestDeserialize(encodePacket(p));
      const ours = normalize(decodePacket(connect.requestSerialize(toLoader(p))));
      assert.deepStrictEqual(ours, viaLoader);
    }),
    { numRuns: 500 },
  );
});

test('non-empty fields encode byte for byte as protobufjs writes them', () => {
  const p: Packet = { type: 'AgentSessionOpen', spec: new Map([['gateway.session_id', Buffer.from('sid')]]), payload: Buffer.from([1, 2]), component: 'c' };
  assert.deepStrictEqual(encodePacket(p), connect.requestSerialize(toLoader(p)));
  // Empty fields are left out, as Go's protobuf does (protobufjs writes some of them; both read either).
  assert.deepStrictEqual(encodePacket({ type: 'GatewayKeepAlive', spec: new Map(), payload: Buffer.alloc(0) }), Buffer.from([0x12, 16, ...Buffer.from('GatewayKeepAlive')]));
});

test('the unary messages agree with proto-loader', () => {
  fc.assert(
    fc.property(
      fc.record({
        name: fc.string(),
        type: fc.string(),
        subtype: fc.string(),
        command: fc.array(fc.string(), { maxLength: 3 }),
        // protobufjs fills maps with plain assignment: a "__proto__" key is its problem, not the wire's.
        envs: fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'), fc.string({ maxLength: 8 }), { maxKeys: 3, noNullPrototype: true }),
        reviewers: fc.array(fc.string(), { maxLength: 2 }),
        redactTypes: fc.array(fc.string(), { maxLength: 2 }),
      }),
      fc.string(),
      fc.string(),
      (req, status, message) => {
        // fast-check may build null-prototype objects; compare plain JSON shapes.
        const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
        const ours = decodePreConnectRequest(preConnect.requestSerialize({ ...req, redact_types: req.redactTypes }));
        assert.deepStrictEqual(plain({ ...ours, envs: Object.fromEntries(ours.envs) }), plain(req));
        const theirs = preConnect.requestDeserialize(encodePreConnectRequest({ ...req, envs: new Map(Object.entries(req.envs)) }));
        const { redactTypes, ...rest } = req;
        assert.deepStrictEqual(plain(theirs), plain({ ...rest, redact_types: redactTypes }));
        assert.deepStrictEqual(decodePreConnectResponse(preConnect.responseSerialize({ status, message })), { status, message });
        assert.deepStrictEqual(preConnect.responseDeserialize(encodePreConnectResponse({ status, message })), { status, message });
        assert.deepStrictEqual(decodeHealthCheckResponse(health.responseSerialize({ status })), { status });
        assert.deepStrictEqual(health.responseDeserialize(encodeHealthCheckResponse({ status })), { status });
      },
    ),
    { numRuns: 200 },
  );
});

test('unknown fields of every wire type are skipped, as protobuf requires', () => {
  const known = encodePacket({ type: 'T', spec: new Map([['k', Buffer.from('v')]]), payload: Buffer.from('p') });
  const unknown = Buffer.from([
    0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, // field 5 varint, a negative int64
    0x31, 1, 2, 3, 4, 5, 6, 7, 8, // field 6 fixed64
    0x3a, 2, 9, 9, // field 7 bytes
    0x45, 1, 2, 3, 4, // field 8 fixed32
    0x10, 0x01, // field 2 (type) with the wrong wire type: skipped like an unknown field
  ]);
  const p = decodePacket(Buffer.concat([unknown, known]));
  assert.equal(p.type, 'T');
  assert.deepStrictEqual([...p.spec], [['k', Buffer.from('v')]]);
  assert.deepStrictEqual(p.payload, Buffer.from('p'));
});

test('random bytes decode or fail with a ProtoDecodeError, never anything else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        const p = decodePacket(Buffer.from(bytes));
        assert.equal(typeof p.type, 'string');
        assert.ok(p.spec instanceof Map);
      } catch (err) {
        assert.ok(err instanceof ProtoDecodeError, String(err));
      }
    }),
    { numRuns: 2000 },
  );
  assert.throws(() => decodePacket(Buffer.from([0x22, 0x05, 1])), /payload: length 5 runs past the end/);
  assert.throws(() => decodePacket(Buffer.from([0x0b])), /unsupported wire type 3/);
  assert.throws(() => decodePacket(Buffer.from([0x00])), /field number 0/);
});

test('a payload is a view of the received frame, not a copy', () => {
  const frame = encodePacket({ type: 'AgentTCPConnectionWrite', spec: new Map(), payload: Buffer.alloc(1024, 7) });
  const p = decodePacket(frame);
  assert.equal(p.payload.buffer, frame.buffer);
});
