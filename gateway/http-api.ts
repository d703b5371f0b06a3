// The development gateway's HTTP side, on loopback peers only:
//   POST /api/agents {name, token}    register a legacy x-agt token (what hoop's webapp did)
//   POST /api/agents {name, mode}     create a DSN agent; answers {token: "<dsn>"} once
//   PUT  /api/agents/NAME {token}     auto-registration: set (or replace) NAME's token
//   GET  /api/agents                  agents and whether they are connected
//   GET  /api/healthz                 (no credential)
//   GET  /agents/new/TOKEN            the web-registration page (no credential); its form POSTs back
// Loopback is where, not who: every /api/ call but healthz needs
// `Authorization: Bearer <admin token>`, and the registration form the admin
// token and its CSRF token. Against browsers on this machine: the Host
// header must name this server (DNS rebinding), a cross-site Origin or
// Sec-Fetch-Site is refused, and API writes must be application/json, which
// no cross-site form can send (CSRF).
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AgentMode, DsnScheme } from '../config/hoop-env.js';
import { sameSecret } from './admin-token.js';
import { AgentStoreError, type AgentStore } from './agents.js';
import { isLoopbackPeer } from './auth.js';
import { registeredPage, registrationPage } from './register-page.js';
import type { Router } from './router.js';

export interface HttpApiOptions {
  store: AgentStore;
  router: Router;
  logger: Logger;
  adminToken: string;
  /** What DSNs point agents at. */
  grpcUrl: () => { scheme: DsnScheme; host: string; port: number };
}

const MAX_BODY = 64 * 1024;
const MODES: readonly string[] = ['standard', 'embedded', 'multi-connection'];

export function createHttpApi(opts: HttpApiOptions): Server {
  // Per gateway process: a registration page's CSRF token is only good for this run.
  const csrfKey = randomBytes(32);
  const server = createServer((req, res) => {
    handle(req, res, opts, csrfKey).catch((err: unknown) => {
      const e = err instanceof AgentStoreError ? err : null;
      if (!e) opts.logger.error({ err }, 'http api failed');
      if (!res.headersSent) send(res, e?.status ?? 500, { message: e ? e.message : 'internal error' });
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}

/** The Host values this server answers to: the address and port it was reached on, or localhost. */
export function allowedHosts(localAddress: string, localPort: number): Set<string> {
  const address = localAddress.replace(/^::ffff:/, '');
  const hosts = [`localhost:${localPort}`, `127.0.0.1:${localPort}`, `[::1]:${localPort}`, address.includes(':') ? `[${address}]:${localPort}` : `${address}:${localPort}`];
  return new Set(hosts);
}

export function csrfToken(key: Buffer, agentToken: string): string {
  return createHmac('sha256', key).update(`register:${agentToken}`).digest('base64url');
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: HttpApiOptions, csrfKey: Buffer): Promise<void> {
  if (!isLoopbackPeer(`${req.socket.remoteAddress ?? ''}:0`)) return send(res, 403, { message: 'the development gateway API answers this machine only' });
  const hosts = allowedHosts(req.socket.localAddress ?? '', req.socket.localPort ?? 0);
  const host = req.headers.host?.toLowerCase();
  if (!host || !hosts.has(host)) {
    return send(res, 403, { message: `Host: expected one of ${[...hosts].join(', ')} (a page on another name is refused: DNS rebinding)` });
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !(hosts.has(origin.replace(/^http:\/\//, '').toLowerCase()) && origin.startsWith('http://'))) {
    return send(res, 403, { message: 'Origin: requests from pages of other sites are refused' });
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  const page = /^\/agents\/new\/([^/]+)$/.exec(path);
  // A link to the registration page may be followed from anywhere (it only shows a form); nothing else may be reached from another site.
  const site = req.headers['sec-fetch-site'];
  const crossSite = site !== undefined && site !== 'same-origin' && site !== 'none';
  if (crossSite && !(page && req.method === 'GET')) return send(res, 403, { message: 'Sec-Fetch-Site: requests from pages of other sites are refused' });

  if (req.method === 'GET' && path === '/api/healthz') return send(res, 200, { status: 'OK' });
  if (page) return registration(req, res, opts, csrfKey, decodeURIComponent(page[1]!));
  if (!path.startsWith('/api/')) return send(res, 404, { message: 'not found' });

  const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (!bearer || !sameSecret(bearer, opts.adminToken)) {
    opts.logger.warn({ method: req.method, path }, 'refused an API request without the admin token');
    res.setHeader('www-authenticate', 'Bearer realm="reagent gateway"');
    return send(res, 401, { message: 'Authorization: expected "Bearer <admin token>" (the gateway wrote it to <data-dir>/admin.token)' });
  }
  if ((req.method === 'POST' || req.method === 'PUT') && !isJson(req)) {
    return send(res, 415, { message: 'Content-Type: expected application/json' });
  }

  if (req.method === 'GET' && path === '/api/agents') {
    return send(
      res,
      200,
      opts.store.list().map((a) => ({ ...opts.router.status(a.name), id: a.id, kind: a.kind, mode: a.mode, org: a.org, created_at: a.createdAt })),
    );
  }
  if (req.method === 'POST' && path === '/api/agents') {
    const body = await readJson(req);
    if (typeof body['token'] === 'string') {
      const a = opts.store.registerToken(body['name'] as string, body['token'], null);
      opts.logger.info({ agent: a.name }, 'agent registered with a token');
      return send(res, 201, { id: a.id, name: a.name });
    }
    const mode = body['mode'] ?? 'standard';
    if (typeof mode !== 'string' || !MODES.includes(mode)) throw new AgentStoreError(400, 'mode: expected standard, embedded or multi-connection');
    const { agent, dsn } = opts.store.createDsn(body['name'] as string, mode as AgentMode, opts.grpcUrl());
    opts.logger.info({ agent: agent.name, mode }, 'DSN agent created');
    return send(res, 201, { id: agent.id, name: agent.name, token: dsn });
  }
  const put = /^\/api\/agents\/([^/]+)$/.exec(path);
  if (req.method === 'PUT' && put) {
    const body = await readJson(req);
    if (typeof body['token'] !== 'string') throw new AgentStoreError(400, 'token: expected a string');
    const org = typeof body['org'] === 'string' ? body['org'] : null;
    const a = opts.store.upsertToken(decodeURIComponent(put[1]!), body['token'], org);
    opts.logger.info({ agent: a.name, org }, 'agent auto-registered');
    return send(res, 200, { id: a.id, name: a.name });
  }
  return send(res, 404, { message: 'not found' });
}

/** GET shows the form; POST registers, with the admin token and the page's CSRF token. */
async function registration(req: IncomingMessage, res: ServerResponse, opts: HttpApiOptions, csrfKey: Buffer, token: string): Promise<void> {
  const csrf = csrfToken(csrfKey, token);
  if (req.method === 'GET') return html(res, 200, registrationPage(token, csrf));
  if (req.method !== 'POST') return send(res, 405, { message: 'expected GET or POST' });
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    return html(res, 415, registrationPage(token, csrf, 'the form must be sent as application/x-www-form-urlencoded'));
  }
  const form = new URLSearchParams(await readBody(req));
  if (!sameSecret(form.get('csrf') ?? '', csrf)) {
    opts.logger.warn('refused a registration form without a valid CSRF token');
    return html(res, 403, registrationPage(token, csrf, 'this form has expired or was not sent from this page: reload it and try again'));
  }
  if (!sameSecret(form.get('admin_token') ?? '', opts.adminToken)) {
    opts.logger.warn('refused a registration form without the admin token');
    return html(res, 403, registrationPage(token, csrf, 'wrong admin token (it is in the gateway\'s <data-dir>/admin.token)'));
  }
  try {
    const a = opts.store.registerToken(form.get('name') ?? '', token, null);
    opts.logger.info({ agent: a.name }, 'agent registered through the web page');
    return html(res, 201, registeredPage(a.name));
  } catch (err) {
    if (err instanceof AgentStoreError) return html(res, err.status, registrationPage(token, csrf, err.message));
    throw err;
  }
}

function isJson(req: IncomingMessage): boolean {
  return /^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '');
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function html(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    // No scripts, no framing (clickjacking), the form posts only here, and the token in the URL never goes to
    // another site as a Referer. Not no-referrer: with it, Chromium sends `Origin: null` with the form, which the
    // Origin check (rightly) refuses.
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'x-frame-options': 'DENY',
    'referrer-policy': 'same-origin',
  });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new AgentStoreError(413, 'request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req);
  try {
    const v = JSON.parse(text) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new AgentStoreError(400, 'expected a JSON object');
}
