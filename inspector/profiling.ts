// `-profiling`: CPU profiles and heap snapshots of the running daemon, served
// by the daemon itself on 127.0.0.1:<profilingPort> under the Reagent's pprof
// paths. Node has no pprof, and V8's own inspector port is a debugger: anyone
// who can connect to it runs code in the (root) daemon, token or not. So the
// profiles are taken in-process through `node:inspector`'s Session (no port
// is ever opened for it), and the HTTP endpoint admits a request only through
// the same access gate as the statechart inspector (token printed once on
// stderr, Host check).
//
//   GET /debug/pprof/                       index (links)
//   GET /debug/pprof/profile?seconds=N      CPU profile over N seconds (.cpuprofile, Chrome DevTools)
//   GET /debug/pprof/heap                   heap snapshot (.heapsnapshot, Chrome DevTools)
import { createServer, type ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import { AccessGate, plain, secureHeaders } from './access.js';

export interface ProfilingServerOptions {
  /** `-profilingPort`; 0 picks a free one (tests). */
  port: number;
  /** Fixed token (tests); a random one otherwise. */
  token?: string;
  /** Longest CPU profile one request may ask for. */
  maxSeconds?: number;
  /** Wall time, for file names. */
  now?: () => number;
}

export interface ProfilingServer {
  /** The index with the token: print it once, never log it. */
  readonly url: string;
  readonly origin: string;
  readonly token: string;
  readonly port: number;
  close(): Promise<void>;
}

export const PROFILE_PATHS = { index: '/debug/pprof/', profile: '/debug/pprof/profile', heap: '/debug/pprof/heap' } as const;
export const DEFAULT_PROFILE_SECONDS = 30;
export const MAX_PROFILE_SECONDS = 120;

/** The loopback interface only: a profile (a heap snapshot holds every secret in memory) never leaves the machine. */
const HOST = '127.0.0.1';

export async function startProfilingServer(opts: ProfilingServerOptions): Promise<ProfilingServer> {
  const gate = new AccessGate({ bindHost: HOST, token: opts.token, cookiePrefix: 'reagent_pprof' });
  const maxSeconds = opts.maxSeconds ?? MAX_PROFILE_SECONDS;
  const now = opts.now ?? Date.now;
  /** One profile at a time: two would measure each other. */
  let busy: { abort(): void } | null = null;

  const server = createServer((req, res) => {
    secureHeaders(res);
    const url = new URL(req.url ?? '/', 'http://profiling');
    if (!gate.hostAllowed(req)) return plain(res, 403, gate.forbiddenHostText(null));
    if (req.method !== 'GET') return plain(res, 405, 'method not allowed\n');
    const proof = gate.authorize(req, url);
    if (!proof) return plain(res, 401, 'unauthorized: give the token that reagent printed when it started (?token=, or Authorization: Bearer)\n');
    const path = url.pathname === '/' || url.pathname === '/debug/pprof' ? PROFILE_PATHS.index : url.pathname;
    const known = (Object.values(PROFILE_PATHS) as string[]).includes(path);
    if (!known) return plain(res, 404, `not found; see ${PROFILE_PATHS.index}\n`);
    if (proof === 'query') {
      // A browser trades the token for a cookie; the token leaves the address bar.
      const seconds = url.searchParams.get('seconds');
      res.setHeader('Set-Cookie', gate.cookie());
      res.writeHead(303, { Location: path + (path === PROFILE_PATHS.profile && seconds !== null ? `?seconds=${encodeURIComponent(seconds)}` : '') });
      return res.end();
    }
    if (path === PROFILE_PATHS.index) return index(res, maxSeconds);
    if (busy) return plain(res, 409, 'a profile is already being taken; try again when it is done\n');
    const stamp = new Date(now()).toISOString().replace(/[-:]|\.\d+/g, '');
    if (path === PROFILE_PATHS.profile) {
      const seconds = parseSeconds(url.searchParams.get('seconds'), maxSeconds);
      if (typeof seconds === 'string') return plain(res, 400, `${seconds}\n`);
      busy = cpuProfile(res, seconds, `reagent-${stamp}.cpuprofile`, () => (busy = null));
      return;
    }
    busy = heapSnapshot(res, `reagent-${stamp}.heapsnapshot`, () => (busy = null));
  });
  // The upgrade a debugger client would try: there is no debugger here, with or without a token.
  server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  gate.listening(port);
  const origin = `http://${HOST}:${port}`;
  return {
    url: `${origin}${PROFILE_PATHS.index}?token=${gate.token}`,
    origin,
    token: gate.token,
    port,
    async close() {
      busy?.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `seconds`: an integer 1..max (the default when absent), or what was wrong with it. */
export function parseSeconds(raw: string | null, max: number): number | string {
  if (raw === null || raw === '') return DEFAULT_PROFILE_SECONDS <= max ? DEFAULT_PROFILE_SECONDS : max;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    return `parameter "seconds": expected an integer from 1 to ${max}`;
  }
  return Number(raw);
}

function index(res: ServerResponse, maxSeconds: number): void {
  const body = [
    '<!doctype html><meta charset="utf-8"><title>reagent profiling</title>',
    '<h1>reagent profiling</h1>',
    '<p>Open the downloads in Chrome DevTools (Performance / Memory tab) or VS Code.</p>',
    '<ul>',
    `<li><a href="${PROFILE_PATHS.profile}?seconds=${DEFAULT_PROFILE_SECONDS}">CPU profile, ${DEFAULT_PROFILE_SECONDS} s</a> (<code>?seconds=N</code>, at most ${maxSeconds})</li>`,
    `<li><a href="${PROFILE_PATHS.heap}">heap snapshot</a> (pauses the daemon while it is taken; it holds every secret in memory: keep it private)</li>`,
    '</ul>',
  ].join('\n');
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(body);
}

function download(res: ServerResponse, file: string): void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Disposition': `attachment; filename="${file}"` });
}

function cpuProfile(res: ServerResponse, seconds: number, file: string, done: () => void): { abort(): void } {
  const session = new Session();
  let timer: NodeJS.Timeout | undefined;
  let finish: () => void = () => {};
  const elapsed = new Promise<void>((resolve) => (finish = resolve));
  let gone = false;
  const abort = () => {
    gone = true;
    finish();
  };
  // A client that hangs up ends the profile early; nothing is sent.
  res.on('close', () => {
    if (!res.writableFinished) abort();
  });
  void (async () => {
    try {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      timer = setTimeout(finish, seconds * 1000);
      await elapsed;
      const { profile } = await session.post('Profiler.stop');
      if (gone) return;
      download(res, file);
      res.end(JSON.stringify(profile));
    } catch (err) {
      if (!res.headersSent) plain(res, 500, `profile failed: ${(err as Error).message}\n`);
      else res.destroy();
    } finally {
      clearTimeout(timer);
      session.disconnect();
      done();
    }
  })();
  return { abort };
}

function heapSnapshot(res: ServerResponse, file: string, done: () => void): { abort(): void } {
  const session = new Session();
  void (async () => {
    try {
      session.connect();
      download(res, file);
      // V8 hands the snapshot over in chunks while it walks the heap; they go straight out.
      session.on('HeapProfiler.addHeapSnapshotChunk', (m) => {
        if (!res.destroyed) res.write(m.params.chunk);
      });
      await session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
      res.end();
    } catch (err) {
      if (!res.headersSent) plain(res, 500, `heap snapshot failed: ${(err as Error).message}\n`);
      else res.destroy();
    } finally {
      session.disconnect();
      done();
    }
  })();
  // A heap snapshot runs synchronously inside V8; there is nothing to cut short.
  return { abort() {} };
}
