// Bounded HTTP(S) GETs for the self-update: the manifest, the checksum and the
// binary. An update is code a root daemon will run, so plain http:// is only
// for this machine (a test server, a local mirror); anything else needs
// https:// (verified against the system's CAs). Every fetch is bounded in
// size, total time and silence, and follows at most 3 redirects, each
// checked by the same rule.
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { isLoopbackHost } from '../../config/loopback.js';

export interface FetchLimits {
  maxBytes: number;
  /** The whole transfer. */
  totalMs: number;
  /** No byte for this long: the transfer is dropped. */
  idleMs: number;
}

export class FetchError extends Error {}

/** Why `url` may not carry an update, or null when it may. */
export function refuseUpdateUrl(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `not a URL`;
  }
  if (u.username || u.password) return 'a URL with a user name or password is not used for updates';
  if (u.protocol === 'https:') return null;
  if (u.protocol === 'http:') return isLoopbackHost(u.hostname) ? null : `http:// to ${u.hostname}, which is not this machine: an update is code the agent runs as root, so it needs https://`;
  return `${u.protocol.replace(/:$/, '')}:// is not http(s)`;
}

export interface Sink {
  /** Called with the announced size (Content-Length) before the first byte, or null. */
  start(size: number | null): void;
  write(chunk: Buffer): void;
}

/** GETs `url` into `sink`, within `limits`; resolves with the byte count. */
export function fetchInto(url: string, sink: Sink, limits: FetchLimits, signal?: AbortSignal): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const deadline = setTimeout(() => finish(new FetchError(`${shown(url)}: not complete after ${Math.round(limits.totalMs / 1000)} s`)), limits.totalMs);
    let idle: NodeJS.Timeout | undefined;
    let settled = false;
    let current: { destroy(err?: Error): void } | null = null;
    const finish = (err: Error | null, bytes = 0) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (idle) clearTimeout(idle);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        current?.destroy();
        reject(err);
      } else resolve(bytes);
    };
    const onAbort = () => finish(new FetchError(`${shown(url)}: cancelled`));
    signal?.addEventListener('abort', onAbort);
    const quiet = () => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => finish(new FetchError(`${shown(url)}: nothing received for ${Math.round(limits.idleMs / 1000)} s`)), limits.idleMs);
    };

    const request = (target: string, redirects: number) => {
      const refused = refuseUpdateUrl(target);
      if (refused) return finish(new FetchError(`${shown(target)}: ${refused}`));
      quiet();
      const get = target.startsWith('https:') ? httpsGet : httpGet;
      const req = get(target, { headers: { 'User-Agent': 'reagent-self-update', Accept: '*/*' } }, (res: IncomingMessage) => {
        current = res;
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
          res.resume();
          if (redirects >= 3) return finish(new FetchError(`${shown(url)}: more than 3 redirects`));
          return request(new URL(res.headers.location, target).toString(), redirects + 1);
        }
        if (status !== 200) {
          res.resume();
          return finish(new FetchError(`${shown(target)}: HTTP ${status}`), 0);
        }
        const announced = Number(res.headers['content-length']);
        const size = Number.isSafeInteger(announced) && announced >= 0 ? announced : null;
        if (size !== null && size > limits.maxBytes) return finish(new FetchError(`${shown(target)}: ${size} bytes announced, more than the bound of ${limits.maxBytes}`));
        try {
          sink.start(size);
        } catch (err) {
          return finish(err as Error);
        }
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          bytes += chunk.length;
          if (bytes > limits.maxBytes) return finish(new FetchError(`${shown(target)}: more than the bound of ${limits.maxBytes} bytes`));
          quiet();
          try {
            sink.write(chunk);
          } catch (err) {
            finish(err as Error);
          }
        });
        res.on('end', () => {
          if (size !== null && bytes !== size) return finish(new FetchError(`${shown(target)}: ${bytes} of ${size} bytes received`));
          finish(null, bytes);
        });
        res.on('error', (err) => finish(new FetchError(`${shown(target)}: ${err.message}`)));
        res.on('aborted', () => finish(new FetchError(`${shown(target)}: the connection was cut`)));
      });
      current = req;
      req.on('error', (err) => finish(new FetchError(`${shown(target)}: ${err.message}`)));
    };
    request(url, 0);
  });
}

/** GETs a small text (the manifest, a checksum). */
export async function fetchText(url: string, limits: FetchLimits, signal?: AbortSignal): Promise<string> {
  const parts: Buffer[] = [];
  await fetchInto(url, { start: () => {}, write: (c) => void parts.push(c) }, limits, signal);
  return Buffer.concat(parts).toString('utf8');
}

/** The URL as logs and answers show it: no query (a signed URL's signature stays out). */
export function shown(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}
