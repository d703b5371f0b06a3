// HTTP requests that carry a credential to the development gateway's API
// (AUTO_REGISTER, `reagent admin`). Over http:// they go only to this
// machine, and only to a socket owned by root or this process's user, as the
// gRPC channel does (socket-owner.ts): the listener is checked before
// connecting, the accepted connection again before the request is written.
// https:// goes through fetch; its certificate is the check.
import { request as httpRequest } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { isLoopbackHost } from '../../config/loopback.js';
import { checkConnection, checkListener, ownUid, readSocketTable, type SocketTable } from './socket-owner.js';

export interface CredentialRequest {
  url: string;
  method: 'GET' | 'POST' | 'PUT';
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** For tests: whose sockets count as trusted, and the table to read. */
  uid?: number;
  table?: () => SocketTable;
}

export interface CredentialResponse {
  status: number;
  text: string;
}

/** The request was not sent: the peer is not one a credential may go to. */
export class RefusedPeerError extends Error {
  override readonly name = 'RefusedPeerError';
}

export async function sendWithCredential(req: CredentialRequest): Promise<CredentialResponse> {
  const url = new URL(req.url);
  if (url.protocol === 'https:') {
    const res = await fetch(url, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(req.timeoutMs) });
    return { status: res.status, text: await res.text() };
  }
  if (url.protocol !== 'http:') throw new RefusedPeerError(`${url.protocol}// is not http:// or https://`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 80);
  if (!isLoopbackHost(host)) {
    throw new RefusedPeerError(`http:// to ${host}, which is not this machine, would send the credential without TLS; use https://`);
  }
  const uid = req.uid ?? ownUid();
  const table = req.table ?? readSocketTable;
  const before = checkListener(host, port, uid, table());
  if (before.kind === 'foreign' || before.kind === 'unknown') throw new RefusedPeerError(before.line);
  const socket = await connectChecked(host, port, uid, table, req.timeoutMs);
  return new Promise<CredentialResponse>((resolve, reject) => {
    const r = httpRequest(
      { host, port, method: req.method, path: `${url.pathname}${url.search}`, headers: req.headers, createConnection: () => socket, timeout: req.timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          // An API answer is small; a peer streaming more is cut off.
          if (size > 1024 * 1024) res.destroy(new Error('answer larger than 1 MiB'));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(Object.assign(new Error(`timed out after ${req.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    r.on('error', reject);
    r.end(req.body);
  });
}

function connectChecked(host: string, port: number, uid: number, table: () => SocketTable, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      const verdict = checkConnection(socket, uid, table());
      if (verdict.kind !== 'trusted') {
        socket.destroy();
        reject(new RefusedPeerError(verdict.line));
        return;
      }
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}
