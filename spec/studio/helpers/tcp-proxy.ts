// A TCP proxy on loopback between the agent and the router that can turn into
// a black hole: `stall()` stops forwarding in both directions without closing
// anything (no FIN, no RST), as a dead mobile link or a NAT that forgot the
// flow does. `heal()` forwards again for new connections and closes the
// stalled ones on the router's side only, as the router's own timeout would.
import net from 'node:net';

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  stalled: boolean;
}

export interface TcpProxy {
  port: number;
  url: string;
  stall(): void;
  heal(): void;
  connections(): number;
  /** Closes every connection on both sides (a closed socket, not a dead one); new ones are forwarded. */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let stalled = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair: Pair = { client, upstream, stalled };
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (d) => {
        // A black hole swallows bytes; it never answers, never closes.
        if (!pair.stalled) to.write(d);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => {
      if (!pair.stalled) end();
    });
    upstream.on('close', () => {
      if (!pair.stalled) end();
    });
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    stall() {
      stalled = true;
      for (const p of pairs) p.stalled = true;
    },
    heal() {
      stalled = false;
      for (const p of [...pairs]) {
        if (!p.stalled) continue;
        pairs.delete(p);
        p.upstream.destroy();
        // The agent's side stays half-dead: the agent must have noticed by itself.
        p.client.on('close', () => {});
      }
    },
    connections: () => pairs.size,
    cut() {
      for (const p of [...pairs]) {
        pairs.delete(p);
        p.client.destroy();
        p.upstream.destroy();
      }
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
