// Who may talk to a debugging endpoint of the daemon (the statechart inspector,
// the profiling endpoint): one model for both, so a fix to one is a fix to the
// other. Loopback is not identity: every request needs the random token
// printed once on stderr at start (in `?token=`, an `Authorization: Bearer`
// header, or the HttpOnly cookie a browser gets in exchange), and its Host
// header must name this server, so a page on evil.example that resolves to
// our address (DNS rebinding) is turned away before the token is even looked at.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

export interface AccessGateOptions {
  /** The address the server is bound to (`127.0.0.1`, `0.0.0.0`, `::`, a name). */
  bindHost: string;
  /** Fixed token (tests); a random one otherwise. */
  token?: string;
  /** Cookie name prefix; the port is appended (two servers on one host keep two cookies). */
  cookiePrefix: string;
  /** More names the server answers to (`-inspectHosts`), besides loopback and the bind address. */
  allowedHosts?: readonly string[];
}

/** How a request proved it holds the token. */
export type Proof = 'query' | 'header' | 'cookie';

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

export class AccessGate {
  readonly token: string;
  private port = 0;
  private readonly names: ReadonlySet<string>;
  private readonly wildcard: boolean;
  private readonly cookiePrefix: string;

  constructor(opts: AccessGateOptions) {
    this.token = opts.token ?? randomBytes(24).toString('base64url');
    this.cookiePrefix = opts.cookiePrefix;
    this.wildcard = WILDCARDS.has(opts.bindHost);
    const names = new Set(LOOPBACK_NAMES);
    if (!this.wildcard) names.add(hostForm(opts.bindHost));
    for (const h of opts.allowedHosts ?? []) names.add(hostForm(h));
    this.names = names;
  }

  /** The port the server really listens on (known after `listen`, when 0 was asked). */
  listening(port: number): void {
    this.port = port;
  }

  get cookieName(): string {
    return `${this.cookiePrefix}_${this.port}`;
  }

  /** The `Set-Cookie` value that trades the token for a cookie. */
  cookie(): string {
    return `${this.cookieName}=${this.token}; HttpOnly; SameSite=Strict; Path=/`;
  }

  /**
   * The Host header names this server: loopback, the bind address, a name
   * given with the flag, or (bound to every interface) one of this machine's
   * own addresses. An IP literal cannot be rebound, so only names need the list.
   */
  hostAllowed(req: IncomingMessage): boolean {
    const header = (req.headers.host ?? '').toLowerCase();
    const m = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(header);
    if (!m) return false;
    const name = m[1]!;
    const port = m[2] === undefined ? 80 : Number(m[2]);
    if (port !== this.port) return false;
    if (this.names.has(name)) return true;
    return this.wildcard && localAddresses().has(name);
  }

  /** How the request proves it holds the token, or null. */
  authorize(req: IncomingMessage, url: URL): Proof | null {
    const q = url.searchParams.get('token');
    if (q !== null && same(q, this.token)) return 'query';
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && /^Bearer /i.test(auth) && same(auth.slice(7).trim(), this.token)) return 'header';
    const cookie = parseCookies(req.headers.cookie)[this.cookieName];
    return cookie !== undefined && same(cookie, this.token) ? 'cookie' : null;
  }

  /** What a refused Host is told: how to allow a name, never the token. */
  forbiddenHostText(flag: string | null): string {
    return `forbidden host: this server answers to ${[...this.names].join(', ')}${this.wildcard ? " and this machine's addresses" : ''}` +
      `${flag ? ` (name more with ${flag})` : ''}\n`;
  }
}

/** `::1` → `[::1]`: the form a Host header carries. */
export function hostForm(host: string): string {
  const h = host.toLowerCase();
  return isIP(h) === 6 ? `[${h}]` : h;
}

function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.add(hostForm(a.address.replace(/%.*$/, '')));
  }
  return out;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** Headers every answer carries: nothing cached, framed, sniffed or referred. */
export function secureHeaders(res: ServerResponse): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'");
}

export function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/** `HOST:PORT` or `PORT` (loopback), as `-inspect` takes it. */
export function parseAddress(address: string, what = 'inspector'): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):)?(\d{1,5})$/.exec(address);
  if (!m || Number(m[2]) > 65535) throw new Error(`${what}: expected HOST:PORT or PORT, got ${JSON.stringify(address)}`);
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}
