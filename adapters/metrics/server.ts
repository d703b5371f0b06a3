// `-metrics=HOST:PORT`: /healthz and /metrics over plain HTTP, read-only.
// No token, on purpose (README, "Health and metrics"): a health check and a
// Prometheus scraper must work without a secret, and what they read is
// fixed numbers and link phases. Every request is bounded: GET or HEAD only,
// no body, small headers, 5 s to arrive, 16 connections; the Host header must
// name this server (a web page that rebinds a name to 127.0.0.1 reads nothing).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccessGate, parseAddress, plain, secureHeaders } from '../../inspector/access.js';
import { CONTENT_TYPE } from './prom-text.js';
import { renderHealth, type Health } from './health.js';

export interface MetricsServerOptions {
  /** `HOST:PORT` as `-metrics` gives it (port 0: any free port). */
  address: string;
  health(): Health;
  metrics(): string;
  onError?(err: unknown): void;
}

export interface MetricsServer {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  close(): Promise<void>;
}

const MAX_CONNECTIONS = 16;
const REQUEST_TIMEOUT_MS = 5000;

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const { host, port } = parseAddress(opts.address, '-metrics');
  const gate = new AccessGate({ bindHost: host, cookiePrefix: 'reagent_metrics' });
  const server: Server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS, maxHeaderSize: 8192 }, (req, res) => {
    try {
      answer(req, res, gate, opts);
    } catch (err) {
      opts.onError?.(err);
      if (!res.headersSent) plain(res, 500, 'internal error\n');
      else res.destroy();
    }
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.maxHeadersCount = 32;
  server.keepAliveTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  gate.listening(bound.port);
  const shown = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    origin: `http://${shown}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function answer(req: IncomingMessage, res: ServerResponse, gate: AccessGate, opts: MetricsServerOptions): void {
  secureHeaders(res);
  if (!gate.hostAllowed(req)) return plain(res, 403, gate.forbiddenHostText(null));
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return plain(res, 405, 'read-only: GET or HEAD\n');
  }
  // A body on a GET is nothing we read; refuse it rather than let it trickle in.
  if ((req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined) {
    res.setHeader('Connection', 'close');
    return plain(res, 413, 'no request body expected\n');
  }
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') {
    const h = opts.health();
    return plain(res, h.ok ? 200 : 503, renderHealth(h));
  }
  if (path === '/metrics') {
    const text = opts.metrics();
    res.writeHead(200, { 'Content-Type': CONTENT_TYPE });
    res.end(req.method === 'HEAD' ? undefined : text);
    return;
  }
  plain(res, 404, 'not found: /healthz, /metrics\n');
}
