// A hostile hoop gateway for the fuzz test: a grpc-js server implementing
// protobuf.Transport/Connect from proto/transport.proto (read by
// proto-loader, independently of the agent's hand-written codec). It accepts
// the agent's stream, says AgentGatewayConnectOK, and then writes whatever
// packets the test gives it, honouring HTTP/2 flow control. Everything the
// agent sends back is kept for assertions.
import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials, type ServerDuplexStream, type ServiceDefinition } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = fileURLToPath(new URL('../../../proto/transport.proto', import.meta.url));

export interface WirePacket {
  type: string;
  spec: Record<string, Buffer>;
  payload: Buffer;
}

export interface HostileGateway {
  port: number;
  /** Resolves when an agent stream is open (after AgentGatewayConnectOK was written). */
  connected(timeoutMs: number): Promise<void>;
  /** Writes packets in order, waiting for the stream to drain when it must; false when the stream ended first. */
  send(packets: Iterable<WirePacket>): Promise<boolean>;
  /** Packets the agent sent, in order, across its streams. */
  received: WirePacket[];
  streams: number;
  stop(): Promise<void>;
}

export async function startHostileGateway(): Promise<HostileGateway> {
  const def = protoLoader.loadSync(PROTO, { keepCase: true, defaults: true });
  const service = def['protobuf.Transport'] as unknown as ServiceDefinition;
  const server = new Server({ 'grpc.max_receive_message_length': 32 * 1024 * 1024, 'grpc.max_send_message_length': 32 * 1024 * 1024 });
  let current: ServerDuplexStream<WirePacket, WirePacket> | null = null;
  const received: WirePacket[] = [];
  const waiters: Array<() => void> = [];
  let streams = 0;
  server.addService(service, {
    Connect(call: ServerDuplexStream<WirePacket, WirePacket>) {
      streams++;
      call.on('data', (p: WirePacket) => received.push(p));
      call.on('error', () => {});
      call.on('end', () => call.end());
      call.write({ type: 'AgentGatewayConnectOK', spec: {}, payload: Buffer.alloc(0) });
      current = call;
      for (const w of waiters.splice(0)) w();
    },
    PreConnect(_call: unknown, cb: (err: null, r: object) => void) {
      cb(null, { status: 'CONNECT', message: '' });
    },
    HealthCheck(_call: unknown, cb: (err: null, r: object) => void) {
      cb(null, { status: 'OK' });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    received,
    get streams() {
      return streams;
    },
    connected(timeoutMs) {
      if (current) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no agent stream within ${timeoutMs} ms`)), timeoutMs);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
    async send(packets) {
      for (const p of packets) {
        const call = current;
        if (!call || call.destroyed || call.writableEnded) return false;
        if (!call.write(p)) {
          await new Promise<void>((r) => {
            call.once('drain', r);
            call.once('close', r);
            call.once('error', r);
          });
        }
      }
      return true;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}
