// Peers and builds for the self-update tests: a release server (node:http on
// loopback, the Reagent's layout under re-agent/), the real single executable
// copied alone, and "new versions" made from it by changing only its packaging
// stamp (the same bytes otherwise; test-only, no hook in the agent).
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** Re-stamps a packaged executable with another version (same length: the SEA blob keeps its size). */
export function restamp(exe: string, out: string, version: string): void {
  const bytes = readFileSync(exe);
  const m = /version:"(\d+\.\d+\.\d+)",commit:"/.exec(bytes.toString('latin1'));
  if (!m) throw new Error(`${exe} carries no build stamp`);
  if (m[1]!.length !== version.length) throw new Error(`restamp: ${version} must have the length of ${m[1]}`);
  const old = Buffer.from(`version:"${m[1]}",commit:"`, 'latin1');
  const at = bytes.indexOf(old);
  if (at < 0 || bytes.indexOf(old, at + 1) >= 0) throw new Error('restamp: the stamp is not unique');
  Buffer.from(`version:"${version}",commit:"`, 'latin1').copy(bytes, at);
  writeFileSync(out, bytes);
  chmodSync(out, 0o755);
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export interface ReleaseServer {
  base: string;
  dir: string;
  /** Paths asked for, in order. */
  requests: string[];
  /** Publishes `file` as `version` for amd64; `checksum`: the .sha256 text (undefined: none published). */
  publish(version: string, file: string, checksum?: string | null): void;
  manifest(entries: Record<string, string>): void;
  close(): Promise<void>;
}

export async function startReleaseServer(dir: string): Promise<ReleaseServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    requests.push(path);
    const file = join(dir, path);
    if (path.includes('..') || !file.startsWith(dir)) return void res.writeHead(400).end();
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error('not a file');
      res.writeHead(200, { 'Content-Length': st.size, 'Content-Type': 'application/octet-stream' });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    dir,
    requests,
    publish(version, file, checksum) {
      const d = join(dir, 're-agent/linux/amd64', version);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'reagent'), readFileSync(file));
      if (checksum !== null) writeFileSync(join(d, 'reagent.sha256'), checksum ?? `${sha256(file)}  reagent\n`);
    },
    manifest(entries) {
      mkdirSync(join(dir, 're-agent'), { recursive: true });
      writeFileSync(join(dir, 're-agent/availableVersions.json'), JSON.stringify(entries));
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export function linkTarget(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

export function readState(agentDir: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(join(agentDir, 'update-state.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export async function until(check: () => boolean, timeoutMs: number, what: string, output?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${output ? `; output:\n${output()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
