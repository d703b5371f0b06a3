// HOOP_TLSCA, loaded and checked before the daemon says "ready": a file that
// is missing, a directory, unreadable, not PEM, or PEM that is not X.509
// certificates is one line naming the variable at start-up, not a failed
// link later. The file system is passed in, so this stays testable and free
// of grpc-js (the daemon imports it whether or not the gateway link runs).
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { TlsCaSource } from './hoop-env.js';

export interface CaFileSystem {
  stat(path: string): { isDirectory(): boolean; size: number };
  readFile(path: string): Buffer;
}

export const nodeCaFileSystem: CaFileSystem = { stat: (p) => statSync(p), readFile: (p) => readFileSync(p) };

export type CaLoad = { ok: true; pem: Buffer; certificates: number } | { ok: false; error: string };

/** System CA bundles are a few hundred KiB. */
export const MAX_CA_BYTES = 4 * 1024 * 1024;

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

export function loadTlsCa(source: TlsCaSource, fs: CaFileSystem = nodeCaFileSystem): CaLoad {
  let pem: Buffer;
  if (source.kind === 'pem') pem = Buffer.from(source.pem);
  else if (source.kind === 'base64') pem = Buffer.from(source.data.replace(/\s+/g, ''), 'base64');
  else {
    // The path is not quoted: whatever was pasted into a variable may be a secret.
    const where = 'the file:// path';
    try {
      const st = fs.stat(source.path);
      if (st.isDirectory()) return { ok: false, error: `HOOP_TLSCA: ${where} is a directory; expected a PEM file of CA certificates` };
      if (st.size > MAX_CA_BYTES) return { ok: false, error: `HOOP_TLSCA: ${where} is ${st.size} bytes; a CA bundle is at most ${MAX_CA_BYTES}` };
      pem = fs.readFile(source.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, error: `HOOP_TLSCA: ${where} names no file` };
      return { ok: false, error: `HOOP_TLSCA: cannot read ${where}: ${code ?? (err as Error).message}` };
    }
  }
  const text = pem.toString('latin1');
  const blocks = [...text.matchAll(BLOCK)];
  const certs = blocks.filter((b) => b[1] === 'CERTIFICATE');
  if (certs.length === 0) {
    return { ok: false, error: `HOOP_TLSCA (${source.kind}): expected PEM CA certificates (-----BEGIN CERTIFICATE-----), found ${blocks.length === 0 ? 'no PEM block' : `only ${describeKinds(blocks)}`}` };
  }
  for (const [i, block] of certs.entries()) {
    try {
      new X509Certificate(block[0]);
    } catch {
      return { ok: false, error: `HOOP_TLSCA (${source.kind}): certificate ${i + 1} of ${certs.length} is not a valid X.509 certificate` };
    }
  }
  return { ok: true, pem, certificates: certs.length };
}

function describeKinds(blocks: RegExpMatchArray[]): string {
  return [...new Set(blocks.map((b) => b[1]!))].map((k) => `"${k}"`).join(', ');
}
