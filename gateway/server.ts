// The development gateway: protobuf.Transport over gRPC (plaintext or TLS)
// plus its HTTP API, both loopback by default, both behind the admin token
// (agents authenticate with their own tokens, as with hoop's gateway). It exists to run and test
// the agent exactly as hoop's gateway would drive it, with no hoop install.
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { Http2Session } from 'node:http2';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { DsnScheme } from '../config/hoop-env.js';
import { FLOW_CONTROL_WINDOW, MAX_MESSAGE_BYTES } from '../adapters/grpc/transport.js';
import { PreConnectStatus } from '../adapters/grpc/wire-names.js';
import { AgentStore } from './agents.js';
import { createHttpApi } from './http-api.js';
import { Router } from './router.js';
import { transportService, type HealthCheckResponse, type PreConnectRequest, type PreConnectResponse } from './service.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface DevGatewayOptions {
  grpcListen: HostPort;
  apiListen: HostPort;
  /** Keeps agents across restarts; null keeps them in memory. */
  dataDir: string | null;
  tls: { cert: Buffer; key: Buffer } | null;
  /** Where DSNs point agents (defaults to the gRPC listen address). */
  advertise?: { scheme: DsnScheme; host: string; port: number };
  /** What clients (`connect`, `exec`) and the HTTP API must present (gateway/admin-token.ts). */
  adminToken: string;
  /** --allow-local-agent: token-less agents from this machine become agent "local" (hoop's local mode). */
  anonymousLocal: boolean;
  /** How long a client waits for an offline agent (hoop: 15 s). */
  offlineWaitMs: number;
  logger: Logger;
  /** Server-side HTTP/2 pings, so a dead agent's slot is freed. */
  keepalive?: { timeMs: number; timeoutMs: number };
}

export interface DevGatewayAddresses {
  grpc: string;
  api: string;
}

export class DevGateway {
  readonly store: AgentStore;
  readonly router: Router;
  private grpcServer: Server | null = null;
  private http: HttpServer | null = null;
  private grpcPort = 0;

  constructor(private readonly opts: DevGatewayOptions) {
    this.store = new AgentStore(opts.dataDir);
    this.router = new Router({ store: this.store, logger: opts.logger, adminToken: opts.adminToken, anonymousLocal: opts.anonymousLocal, offlineWaitMs: opts.offlineWaitMs });
  }

  async start(): Promise<DevGatewayAddresses> {
    const keepalive = this.opts.keepalive ?? { timeMs: 20_000, timeoutMs: 10_000 };
    const server = new Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': keepalive.timeMs,
      'grpc.keepalive_timeout_ms': keepalive.timeoutMs,
    });
    server.addService(transportService, {
      Connect: this.router.connect,
      HealthCheck: (_call: ServerUnaryCall<object, HealthCheckResponse>, done: sendUnaryData<HealthCheckResponse>) => done(null, { status: 'OK' }),
      PreConnect: (_call: ServerUnaryCall<PreConnectRequest, PreConnectResponse>, done: sendUnaryData<PreConnectResponse>) =>
        done(null, { status: PreConnectStatus.Backoff, message: 'the development gateway has no embedded agents' }),
    });
    const creds = this.opts.tls ? ServerCredentials.createSsl(null, [{ cert_chain: this.opts.tls.cert, private_key: this.opts.tls.key }], false) : ServerCredentials.createInsecure();
    const { host, port } = this.opts.grpcListen;
    this.grpcPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.grpcServer = server;
    widenWindows(server);

    const http = createHttpApi({
      store: this.store,
      router: this.router,
      logger: this.opts.logger,
      adminToken: this.opts.adminToken,
      grpcUrl: () => this.opts.advertise ?? { scheme: this.opts.tls ? 'grpcs' : 'grpc', host, port: this.grpcPort },
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.opts.apiListen.port, this.opts.apiListen.host, () => resolve());
    });
    this.http = http;
    const api = http.address() as AddressInfo;
    const apiHost = api.family === 'IPv6' ? `[${api.address}]` : api.address;
    return { grpc: `${host.includes(':') ? `[${host}]` : host}:${this.grpcPort}`, api: `http://${apiHost}:${api.port}` };
  }

  async stop(): Promise<void> {
    this.router.closeAll();
    const server = this.grpcServer;
    this.grpcServer = null;
    if (server) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    }
    const http = this.http;
    this.http = null;
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  }
}

/**
 * grpc-js servers keep HTTP/2's 64 KiB stream window, which allows one 64 KiB
 * packet per round trip from each agent (hoop's grpc-go gateway sizes its
 * windows by BDP instead). grpc-js has no option for a server's window, so
 * the development gateway sets it on each new HTTP/2 session through the
 * server's (private) list of HTTP/2 servers; if that ever moves, it only
 * gets slower.
 */
function widenWindows(server: Server): void {
  const servers = (server as unknown as { http2Servers?: Map<{ on(e: 'session', f: (s: Http2Session) => void): void }, unknown> }).http2Servers;
  for (const http2 of servers?.keys() ?? []) {
    http2.on('session', (session) => {
      session.settings({ initialWindowSize: FLOW_CONTROL_WINDOW });
      session.once('connect', () => session.setLocalWindowSize(FLOW_CONTROL_WINDOW));
      if (!session.connecting) session.setLocalWindowSize(FLOW_CONTROL_WINDOW);
    });
  }
}
