// What answers the studio link's ping. A router sends its pong behind the
// frames it already queued for us: in the daemon fuzz test under load, 26 MiB
// were queued when the pong was due, the link was declared dead although it
// delivered all along, and the 24 calls in flight on it were never answered.
// So a frame after a ping answers it as a pong does; silence still does not.
// The peer is a real `ws` server that never pongs by itself (autoPong: false).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { openTransport, type WampTransport } from '../../adapters/wamp/transport.js';

interface Peer {
  transport: WampTransport;
  server: ServerSocket;
  /** PONGs the transport reported. */
  pongs: () => number;
  /** Resolves with the next frame the transport refused (every frame here is one: no session is joined). */
  nextRefusal: () => Promise<string>;
  /** Resolves when the server received the transport's next ping. */
  nextPing: () => Promise<void>;
  close: () => Promise<void>;
}

async function connect(): Promise<Peer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false, handleProtocols: () => 'wamp.2.json' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const port = (wss.address() as { port: number }).port;
  const accepted = new Promise<ServerSocket>((resolve) => wss.once('connection', (ws) => resolve(ws)));
  const refusals: string[] = [];
  let onRefusal: (() => void) | null = null;
  const transport = openTransport({
    url: `ws://127.0.0.1:${port}/ws`,
    serializers: ['json'],
    onRefused: (reason) => {
      refusals.push(reason);
      onRefusal?.();
    },
  });
  let pongs = 0;
  transport.onPong(() => pongs++);
  await transport.opened;
  const server = await accepted;
  return {
    transport,
    server,
    pongs: () => pongs,
    nextRefusal: () =>
      new Promise((resolve) => {
        const seen = refusals.length;
        onRefusal = () => {
          if (refusals.length > seen) resolve(refusals[seen]!);
        };
      }),
    nextPing: () => new Promise((resolve) => server.once('ping', () => resolve())),
    close: async () => {
      transport.terminate('test over');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

test('a frame after a ping answers it, once; a frame before any ping and a second frame do not', async () => {
  const p = await connect();
  try {
    let refused = p.nextRefusal();
    p.server.send('[2,1,{}]');
    assert.match(await refused, /WELCOME/);
    assert.equal(p.pongs(), 0, 'no ping was outstanding');

    const pinged = p.nextPing();
    p.transport.ping();
    await pinged;
    // The router's pong would come after this frame; it never comes at all here.
    refused = p.nextRefusal();
    p.server.send('[99]');
    await refused;
    assert.equal(p.pongs(), 1, 'the frame showed the link delivering');

    refused = p.nextRefusal();
    p.server.send('[99]');
    await refused;
    assert.equal(p.pongs(), 1, 'one answer per ping');
  } finally {
    await p.close();
  }
});

test('a pong still answers a ping; a ping met with silence is not answered', async () => {
  const p = await connect();
  try {
    let pinged = p.nextPing();
    p.transport.ping();
    await pinged;
    const answered = new Promise<void>((resolve) => p.transport.onPong(() => resolve()));
    p.server.pong();
    await answered;
    assert.equal(p.pongs(), 1);

    pinged = p.nextPing();
    p.transport.ping();
    await pinged;
    // Nothing but the end of the connection: that is no sign of life.
    const closed = new Promise<void>((resolve) => p.transport.onClosed(() => resolve()));
    p.server.close(1001, 'gone');
    await closed;
    assert.equal(p.pongs(), 1);
  } finally {
    await p.close();
  }
});
