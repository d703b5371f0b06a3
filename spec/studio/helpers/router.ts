// Starts scripts/wamp-router.mjs (fox-wamp + the Crossbar behaviours the agent
// needs) as its own process on loopback and stops it by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../../scripts/wamp-router.mjs', import.meta.url));

export interface RouterUser {
  secret: string;
  role: string;
  salt?: string;
  iterations?: number;
  keylen?: number;
}

export interface RouterPeer {
  port: number;
  url: string;
  pid: number;
  /** Stops the process (SIGTERM, SIGKILL after 2 s), waits for it, removes its files. */
  stop(): Promise<void>;
  /** Kills the process only (default SIGKILL), for a `restart()` after. */
  crash(signal?: NodeJS.Signals): Promise<void>;
  /** Starts a new router process on the same port with the same users. */
  restart(): Promise<void>;
  /** Everything the router processes printed, across restarts. */
  output(): string;
}

export async function startRouter(users: Record<string, RouterUser>, port = 0, opts: { meta?: boolean; inject?: boolean } = {}): Promise<RouterPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'reagent-router-'));
  const usersFile = join(dir, 'users.json');
  writeFileSync(usersFile, JSON.stringify(users));
  let child: ChildProcess;
  let out = '';
  /** Output of the processes before a restart(). */
  let earlier = '';
  let current = port;

  const launch = (p: number) =>
    new Promise<number>((resolve, reject) => {
      child = spawn(process.execPath, [SCRIPT, '--users', usersFile, '--port', String(p), ...(opts.meta === false ? ['--no-meta'] : []), ...(opts.inject ? ['--inject'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
      const timer = setTimeout(() => reject(new Error(`router did not start; output:\n${out}`)), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /ROUTER port=(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`router exited (${code}) before listening; output:\n${out}`));
      });
    });

  const stopChild = (signal: NodeJS.Signals = 'SIGTERM') =>
    new Promise<void>((resolve) => {
      const c = child;
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const kill = setTimeout(() => c.kill('SIGKILL'), 2000);
      c.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      process.kill(c.pid!, signal);
    });

  current = await launch(current);
  const peer: RouterPeer = {
    get port() {
      return current;
    },
    get url() {
      return `ws://127.0.0.1:${current}/ws`;
    },
    get pid() {
      return child.pid!;
    },
    async stop() {
      await stopChild();
      rmSync(dir, { recursive: true, force: true });
    },
    async crash(signal = 'SIGKILL') {
      await stopChild(signal);
    },
    async restart() {
      await stopChild();
      earlier += out;
      out = '';
      current = await launch(current);
    },
    output: () => earlier + out,
  };
  return peer;
}
