// systemd's side of sd_notify for tests: the Go program in notify-peer/ binds
// an AF_UNIX datagram socket (Node cannot) and prints each notification with
// its sender's pid. Built once per machine into the temp dir.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCE = new URL('./notify-peer/', import.meta.url).pathname;

export interface Notification {
  text: string;
  pid: number;
  fds: number;
}

export interface NotifyPeer {
  socket: string;
  messages(): Notification[];
  waitFor(test: (m: Notification) => boolean, timeoutMs?: number): Promise<Notification>;
  stop(): Promise<void>;
}

export function goEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '' };
  if (!env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) env.GOCACHE = join(tmpdir(), 'reagent-go-build');
  return env;
}

/** The peer binary, or a reason it cannot be built here (no Go). */
export function buildNotifyPeer(): string | { missing: string } {
  const hash = createHash('sha256').update(readFileSync(join(SOURCE, 'main.go'))).digest('hex').slice(0, 12);
  const bin = join(tmpdir(), 'reagent-notify-peer', `notify-peer-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(join(tmpdir(), 'reagent-notify-peer'), { recursive: true });
  const r = spawnSync('go', ['build', '-o', bin, '.'], { cwd: SOURCE, env: goEnv(), encoding: 'utf8', timeout: 180_000 });
  if (r.error || r.status !== 0) return { missing: `cannot build the notify-socket peer with go: ${r.error?.message ?? r.stderr.trim()}` };
  return bin;
}

export async function startNotifyPeer(bin: string, socket: string): Promise<NotifyPeer> {
  const child: ChildProcess = spawn(bin, [socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: Notification[] = [];
  const waiters: Array<() => void> = [];
  let buffer = '';
  let ready: () => void;
  const listening = new Promise<void>((r) => (ready = r));
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line === 'ready') ready();
      else messages.push(JSON.parse(line) as Notification);
    }
    for (const w of waiters.splice(0)) w();
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await Promise.race([listening, exited.then(() => Promise.reject(new Error(`notify peer exited: ${stderr}`)))]);
  return {
    socket,
    messages: () => [...messages],
    waitFor(test, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching notification; got ${JSON.stringify(messages)}`)), timeoutMs);
        const check = () => {
          const m = messages.find(test);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
