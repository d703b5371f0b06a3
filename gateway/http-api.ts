// The development gateway's HTTP side, on loopback peers only:
//   POST /api/agents {name, token}    register a legacy x-agt token (what hoop's webapp did)
//   POST /api/agents {name, mode}     create a DSN agent; answers {token: "<dsn>"} once
//   PUT  /api/agents/NAME {token}     auto-registration: set (or replace) NAME's token
//   GET  /api/agents                  agents and whether they are connected
//   GET  /api/healthz
//   GET  /agents/new/TOKEN            the web-registration page; its form POSTs back
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AgentMode, DsnScheme } from '../config/hoop-env.js';
import { AgentStoreError, type AgentStore } from './agents.js';
import { isLoopbackPeer } from './auth.js';
import { registeredPage, registrationPage } from './register-page.js';
import type { Router } from './router.js';

export interface HttpApiOptions {
  store: AgentStore;
  router: Router;
  logger: Logger;
  /** What DSNs point agents at. */
  grpcUrl: () => { scheme: DsnScheme; host: string; port: number };
}

const MAX_BODY = 64 * 1024;
const MODES: readonly string[] = ['standard', 'embedded', 'multi-connection'];

export function createHttpApi(opts: HttpApiOptions): Server {
  return createServer((req, res) => {
    handle(req, res, opts).catch((err: unknown) => {
      const e = err instanceof AgentStoreError ? err : null;
      if (!e) opts.logger.error({ err }, 'http api failed');
      send(res, e?.status ?? 500, { message: e ? e.message : 'internal error' });
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: HttpApiOptions): Promise<void> {
  if (!isLoopbackPeer(`${req.socket.remoteAddress ?? ''}:0`)) return send(res, 403, { message: 'the development gateway API answers this machine only' });
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;

  if (req.method === 'GET' && path === '/api/healthz') return send(res, 200, { status: 'OK' });
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
  const page = /^\/agents\/new\/([^/]+)$/.exec(path);
  if (page) {
    const token = decodeURIComponent(page[1]!);
    if (req.method === 'GET') return html(res, 200, registrationPage(token));
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      try {
        const a = opts.store.registerToken(form.get('name') ?? '', token, null);
        opts.logger.info({ agent: a.name }, 'agent registered through the web page');
        return html(res, 201, registeredPage(a.name));
      } catch (err) {
        if (err instanceof AgentStoreError) return html(res, err.status, registrationPage(token, err.message));
        throw err;
      }
    }
  }
  return send(res, 404, { message: 'not found' });
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function html(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
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
