// The inspector's web server: the page (static files from inspector/public
// and elkjs's browser bundle from node_modules, nothing from the internet),
// a WebSocket for the page (/ws) and the same stream in Stately Inspect's
// format (/stately). Bound to 127.0.0.1 unless told otherwise; who may ask
// is decided by the access gate (access.ts): the random token printed once
// at start (or the cookie the page gets in exchange for it), and a Host
// header that names this server.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { AccessGate, parseAddress, plain, secureHeaders } from './access.js';
import type { InspectorSession } from './session.js';
import { embeddedFiles, type EmbeddedFiles } from '../packaging/embedded.js';
import type { TimelineFilter } from './timeline.js';

export interface InspectorServerOptions {
  session: InspectorSession;
  /** `HOST:PORT` as given to `-inspect`; port 0 picks a free one. */
  address: string;
  /** Fixed token (tests); a random one otherwise. */
  token?: string;
  /** Where the static files are; found next to the sources by default (see `publicDir`). */
  publicDir?: string;
  /** The page files by URL path; by default from the single executable, else from `publicDir` and node_modules. */
  pageFiles?: ReadonlyMap<string, PageFile>;
  /** Host names the server also answers to (`-inspectHosts`), for a non-loopback bind. */
  allowedHosts?: readonly string[];
}

export interface PageFile {
  read(): Buffer;
}

export interface InspectorServer {
  /** The page's address with the token: print it once, never log it. */
  readonly url: string;
  readonly origin: string;
  readonly token: string;
  readonly port: number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The static files live in `inspector/public` of the source tree. From the
 * sources that is `./public`; from the build (`dist/inspector/server.js`) it
 * is `../../inspector/public`, so the build needs no copy step.
 */
export function publicDir(from: string = import.meta.url): string {
  const candidates = [new URL('./public/', from), new URL('../../inspector/public/', from)].map((u) => fileURLToPath(u));
  const found = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (!found) throw new Error(`inspector: page files not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** elkjs's browser bundle (it runs the layout in the page, no worker file needed). */
export function elkBundlePath(): string {
  return createRequire(import.meta.url).resolve('elkjs/lib/elk.bundled.js');
}

/** Asset key prefix of the page files in the single executable (scripts/package.ts embeds them). */
export const EMBEDDED_PAGE_PREFIX = 'inspector/';

/** URL path -> file: from the executable when it carries them, else from the source tree. */
export function pageFiles(dir?: string, files: EmbeddedFiles | null = embeddedFiles()): Map<string, PageFile> {
  const out = new Map<string, PageFile>();
  if (files) {
    for (const key of files.keys(EMBEDDED_PAGE_PREFIX)) out.set(`/${key.slice(EMBEDDED_PAGE_PREFIX.length)}`, { read: () => files.read(key) });
    if (!out.has('/index.html') || !out.has('/elk.js')) throw new Error('inspector: this executable carries no page files');
    return out;
  }
  const from = dir ?? publicDir();
  for (const name of readdirSync(from)) {
    const path = join(from, name);
    if (TYPES[extname(name)] && statSync(path).isFile()) out.set(`/${name}`, { read: () => readFileSync(path) });
  }
  const elk = elkBundlePath();
  out.set('/elk.js', { read: () => readFileSync(elk) });
  return out;
}

export { parseAddress };

export async function startInspectorServer(opts: InspectorServerOptions): Promise<InspectorServer> {
  const { session } = opts;
  const { host, port: wanted } = parseAddress(opts.address);
  const gate = new AccessGate({ bindHost: host, token: opts.token, cookiePrefix: 'reagent_inspect', allowedHosts: opts.allowedHosts });
  const { token } = gate;
  const files = opts.pageFiles ?? pageFiles(opts.publicDir);
  const filePath = (pathname: string) => files.get(pathname === '/' ? '/index.html' : pathname);

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://inspector');
    secureHeaders(res);
    if (!gate.hostAllowed(req)) return plain(res, 403, gate.forbiddenHostText('-inspectHosts'));
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed\n');
    const auth = gate.authorize(req, url);
    if (!auth) return plain(res, 401, 'unauthorized: open the URL with the token that reagent printed when it started\n');
    if (auth === 'query') {
      // Trade the token for a cookie and drop it from the address bar and history.
      // The redirect goes to one of our own files, never to a path taken from the
      // request: "/.//evil.example" parses to the path "//evil.example", which a
      // browser reads as another host.
      res.setHeader('Set-Cookie', gate.cookie());
      res.writeHead(303, { Location: filePath(url.pathname) ? url.pathname : '/' });
      return res.end();
    }
    const name = url.pathname === '/' ? '/index.html' : url.pathname;
    const file = filePath(url.pathname);
    if (!file) return plain(res, 404, 'not found\n');
    const body = file.read();
    res.writeHead(200, { 'Content-Type': TYPES[extname(name)] ?? 'application/octet-stream', 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });

  const pageSockets = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const statelySockets = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://inspector');
    const auth = gate.hostAllowed(req) ? gate.authorize(req, url) : null;
    const origin = req.headers.origin;
    // The page's socket rides on its cookie: only from its own origin. Stately's
    // tools live elsewhere and present the token itself.
    const sameOrigin = origin === undefined || origin === `http://${req.headers.host}`;
    const allowed = auth === 'query' || auth === 'header' || (auth === 'cookie' && sameOrigin);
    const target = !allowed ? null : url.pathname === '/ws' ? pageSockets : url.pathname === '/stately' ? statelySockets : null;
    if (!target) {
      socket.end(`HTTP/1.1 ${allowed ? 404 : 401} ${allowed ? 'Not Found' : 'Unauthorized'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    target.handleUpgrade(req, socket, head, (ws) => target.emit('connection', ws, req));
  });

  const pages = new Set<WebSocket>();
  pageSockets.on('connection', (ws: WebSocket) => {
    pages.add(ws);
    ws.on('close', () => pages.delete(ws));
    ws.on('error', () => ws.terminate());
    send(ws, hello(session));
    ws.on('message', (data) => {
      let req: Request;
      try {
        req = parseRequest(String(data));
      } catch (err) {
        send(ws, { type: 'error', message: (err as Error).message });
        return;
      }
      send(ws, { type: 'reply', id: req.id, ...answer(session, req) });
    });
  });

  statelySockets.on('connection', (ws: WebSocket) => {
    ws.on('error', () => ws.terminate());
    for (const m of session.stately.greeting()) send(ws, m);
    const off = session.stately.subscribe((m) => {
      // A client that cannot keep up is let go rather than buffered without bound.
      if (ws.bufferedAmount > 8 * 1024 * 1024) ws.close(1013, 'too slow');
      else send(ws, m);
    });
    ws.on('close', off);
  });

  // Live updates in batches: a busy daemon must not send one frame per event.
  let pending: NodeJS.Timeout | undefined;
  const offChange = session.onChange(() => {
    if (pending || pages.size === 0) return;
    pending = setTimeout(() => {
      pending = undefined;
      const activity = session.takeActivity();
      const grow = {
        type: 'grow',
        length: session.timeline.length,
        first: session.timeline.first,
        // The whole list only when it changed; otherwise the event counts of the actors that moved (the page orders by them).
        actors: activity.actorsChanged ? session.actorList() : undefined,
        events: activity.events,
        states: session.stateAt(session.timeline.length - 1),
      };
      for (const ws of pages) send(ws, grow);
    }, 100);
    pending.unref();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(wanted, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  gate.listening(port);
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const origin = `http://${shownHost}:${port}`;

  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    port,
    async close() {
      offChange();
      if (pending) clearTimeout(pending);
      for (const ws of [...pageSockets.clients, ...statelySockets.clients]) ws.terminate();
      pageSockets.close();
      statelySockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Request =
  | { id: number; op: 'rows'; filter: TimelineFilter; offset: number; limit: number }
  | { id: number; op: 'stateAt'; row: number }
  | { id: number; op: 'locate'; filter: TimelineFilter; row: number }
  | { id: number; op: 'detail'; actor: string; row?: number }
  | { id: number; op: 'chart'; machine: string };

/** Checks a page request field by field: the socket is authenticated, but still input. */
export function parseRequest(text: string): Request {
  const r = JSON.parse(text) as Record<string, unknown>;
  if (!r || typeof r !== 'object') throw new Error('request: expected a JSON object');
  const int = (k: string, min = 0, max = Number.MAX_SAFE_INTEGER): number => {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Error(`request: field "${k}": expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return v;
  };
  const str = (k: string): string => {
    const v = r[k];
    if (typeof v !== 'string' || v.length > 1000) throw new Error(`request: field "${k}": expected a string, got ${JSON.stringify(v)}`);
    return v;
  };
  const filter = (): TimelineFilter => {
    const f = r['filter'] as Record<string, unknown> | undefined;
    if (f === undefined) return {};
    if (!f || typeof f !== 'object') throw new Error('request: field "filter": expected an object');
    const out: TimelineFilter = {};
    for (const k of ['actor', 'source', 'type', 'text'] as const) {
      const v = f[k];
      if (v === undefined || v === '') continue;
      if (typeof v !== 'string' || v.length > 200) throw new Error(`request: field "filter.${k}": expected a string of at most 200 characters`);
      out[k] = v;
    }
    return out;
  };
  const id = int('id');
  switch (r['op']) {
    case 'rows':
      return { id, op: 'rows', filter: filter(), offset: int('offset'), limit: int('limit', 1, 1000) };
    case 'stateAt':
      return { id, op: 'stateAt', row: int('row', -1) };
    case 'locate':
      return { id, op: 'locate', filter: filter(), row: int('row', -1) };
    case 'detail':
      return r['row'] === undefined ? { id, op: 'detail', actor: str('actor') } : { id, op: 'detail', actor: str('actor'), row: int('row') };
    case 'chart':
      return { id, op: 'chart', machine: str('machine') };
    default:
      throw new Error(`request: field "op": expected rows, stateAt, locate, detail or chart, got ${JSON.stringify(r['op'])}`);
  }
}

function answer(session: InspectorSession, req: Request): object {
  switch (req.op) {
    case 'rows':
      return session.timeline.query(req.filter, req.offset, req.limit);
    case 'stateAt':
      return { row: req.row, entry: session.timeline.get(req.row) ?? null, actors: session.stateAt(req.row) };
    case 'locate':
      return { index: session.timeline.indexOf(req.filter, req.row) };
    case 'detail':
      return { actor: req.actor, row: req.row ?? null, detail: session.detail(req.actor, req.row) };
    case 'chart':
      return { machine: req.machine, chart: session.chart(req.machine) ?? null };
  }
}

function hello(session: InspectorSession): object {
  const actors = session.actorList();
  const machines = new Set(actors.map((a) => a.machine).filter((m): m is string => m !== null));
  return {
    type: 'hello',
    mode: session.mode,
    run: session.run,
    title: session.title,
    agentVersion: session.agentVersion,
    machines: session.machineVersions(),
    charts: Object.fromEntries([...machines].map((m) => [m, session.chart(m) ?? null])),
    actors,
    length: session.timeline.length,
    first: session.timeline.first,
    vocabulary: session.timeline.vocabulary(),
    replay: session.replay,
    states: session.stateAt(session.timeline.length - 1),
  };
}

function send(ws: WebSocket, message: object): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}
