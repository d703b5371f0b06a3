// Reads from a target are gathered per event-loop turn into one reply packet
// for plain `tcp` sessions (adapters/grpc/sessions/coalesce.ts), never for the
// database protocols, whose packets hoop's gateway reads one message each.
// A real target on loopback; the packets are caught at the session's sink.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { TcpSession } from '../../adapters/grpc/sessions/tcp.js';
import { ReadCoalescer } from '../../adapters/grpc/sessions/coalesce.js';
import { dialTcp } from '../../adapters/grpc/sessions/dial.js';
import { DEFAULT_LIMITS, type Dialer, type PacketSink, type SessionRecorder } from '../../adapters/grpc/sessions/types.js';
import { ClientPacket, SpecKey } from '../../adapters/grpc/wire-names.js';
import type { Packet } from '../../adapters/grpc/packet-codec.js';
import type { RelayReplyType } from '../../adapters/grpc/packet-validation.js';

const MiB = 1024 * 1024;

/**
 * A target that, once connected to, sends `data` in `chunk`-sized writes as
 * fast as it can, then closes. `backlogged` resolves once the kernel buffers
 * are full (or everything is written): from then on the reader has a backlog,
 * whatever the load on the machine.
 */
async function bulkTarget(data: Buffer, chunk: number): Promise<{ server: Server; port: number; backlogged: Promise<void> }> {
  let backlog!: () => void;
  const backlogged = new Promise<void>((r) => (backlog = r));
  const server = createServer((s: Socket) => {
    s.on('error', () => {});
    let off = 0;
    const pump = () => {
      while (off < data.length) {
        const end = Math.min(data.length, off + chunk);
        const ok = s.write(data.subarray(off, end));
        off = end;
        if (!ok) {
          backlog();
          return void s.once('drain', pump);
        }
      }
      s.end();
      backlog();
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port, backlogged };
}

function relay(reply: RelayReplyType, target: { port: number; backlogged: Promise<void> }): Promise<Packet[]> {
  const packets: Packet[] = [];
  return new Promise((resolve) => {
    const sink: PacketSink = {
      send(p) {
        packets.push(p);
        if (p.type === ClientPacket.TCPConnectionClose) resolve(packets);
        return true;
      },
      writable: true,
      onceWritable: (fn) => fn(),
    };
    const recorder: SessionRecorder = { opening() {}, record() {}, closed() {}, rejected() {} };
    // The connection is handed over only once the target has a backlog, so reads come in bulk.
    const dial: Dialer = (host, port, ms) => dialTcp(host, port, ms).then(async (socket) => (await target.backlogged, socket));
    const session = new TcpSession('sid-1', { host: '127.0.0.1', port: target.port }, { sink, gate: { block() {}, unblock() {} }, dial, recorder, limits: DEFAULT_LIMITS });
    // Server-first: the target talks as soon as it is dialled.
    session.write('1', reply, Buffer.alloc(0), true);
  });
}

describe('reads from a target, gathered per turn', () => {
  const data = Buffer.alloc(8 * MiB);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);

  it('plain tcp: every byte in order, in fewer and larger packets, all before the close', async () => {
    const target = await bulkTarget(data, 16 * 1024);
    try {
      const packets = await relay(ClientPacket.TCPConnectionWrite, target);
      const close = packets.pop()!;
      assert.equal(close.type, ClientPacket.TCPConnectionClose);
      assert.equal(close.payload.length, 0, 'a target that closed cleanly is not a failure');
      assert.ok(packets.every((p) => p.type === ClientPacket.TCPConnectionWrite && p.spec.get(SpecKey.ClientConnectionID)?.toString() === '1'));
      assert.ok(Buffer.concat(packets.map((p) => p.payload)).equals(data), 'the bytes arrive complete and in order');
      assert.ok(packets.every((p) => p.payload.length <= MiB), 'no packet is larger than 1 MiB');
      // 8 MiB read 64 KiB at a time is at least 128 reads; gathered, far fewer packets.
      assert.ok(packets.length < 128, `${packets.length} packets for 8 MiB`);
    } finally {
      target.server.close();
    }
  });

  it('postgres (and the other database protocols): one packet per read, never gathered', async () => {
    const target = await bulkTarget(data.subarray(0, 2 * MiB), 16 * 1024);
    try {
      const packets = await relay(ClientPacket.PGConnectionWrite, target);
      packets.pop();
      assert.ok(Buffer.concat(packets.map((p) => p.payload)).equals(data.subarray(0, 2 * MiB)));
      assert.ok(packets.every((p) => p.payload.length <= 64 * 1024), 'each packet is one socket read (at most 64 KiB)');
    } finally {
      target.server.close();
    }
  });
});

describe('ReadCoalescer', () => {
  it('emits the same bytes in the same order, in batches of at most maxBytes plus one chunk, within the turn', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { maxLength: 40 }), fc.integer({ min: 1, max: 1000 }), async (chunks, max) => {
        const out: Buffer[] = [];
        const c = new ReadCoalescer((b) => out.push(b), max);
        for (const chunk of chunks) c.push(Buffer.from(chunk));
        await new Promise((r) => setImmediate(r));
        assert.equal(c.pendingBytes, 0, 'nothing is left after the turn');
        assert.ok(Buffer.concat(out).equals(Buffer.concat(chunks.map((x) => Buffer.from(x)))));
        assert.ok(out.every((b) => b.length > 0 && b.length < max + 300));
      }),
    );
  });

  it('flush() sends what is pending at once; discard() drops it', async () => {
    const out: Buffer[] = [];
    const c = new ReadCoalescer((b) => out.push(b), 1024);
    c.push(Buffer.from('ab'));
    c.flush();
    assert.deepEqual(out.map(String), ['ab']);
    c.push(Buffer.from('cd'));
    c.discard();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(out.map(String), ['ab']);
    assert.throws(() => new ReadCoalescer(() => {}, 0), /maxBytes must be positive/);
  });
});
