// A private network namespace with only a loopback interface, for tests
// that need an address that is "not this machine" by the TLS rule (here
// 192.0.2.10, TEST-NET-1) without a packet leaving the machine. The holder
// process keeps the namespace alive; every process started in it with
// `inNetns` joins it through nsenter. Needs root (unshare, nsenter: both
// util-linux; ip: iproute2). Skips loudly without them, fails when CI=true.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export const REMOTE_ADDRESS = '192.0.2.10';

export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'tests do not run as root';
  const probe = spawnSync('unshare', ['-n', '--', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
  if (probe.error) return `unshare: ${probe.error.message}`;
  if (probe.status !== 0) return `unshare -n failed: ${probe.stderr.trim()}`;
  return null;
}

export function skipUnlessNetns(): string | false {
  const why = netnsUnavailable();
  if (why === null) return false;
  if (process.env.CI === 'true') throw new Error(`cannot make a network namespace in CI: ${why}`);
  process.stderr.write(`\n!!! SKIPPED: network namespace tests need root, unshare and ip (${why})\n\n`);
  return why;
}

export interface Netns {
  holder: ChildProcess;
  /** argv prefix that runs a command inside the namespace. */
  enter(args: string[]): { command: string; args: string[] };
  stop(): Promise<void>;
}

/** A namespace whose lo carries 127.0.0.1 and REMOTE_ADDRESS/32. */
export async function startNetns(): Promise<Netns> {
  const holder = spawn('unshare', ['-n', '--', 'sh', '-c', `ip link set lo up && ip addr add ${REMOTE_ADDRESS}/32 dev lo && echo ready && exec sleep 3600`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => holder.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    holder.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    holder.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then(() => reject(new Error(`the namespace holder exited: ${out}`)));
  });
  const ns = `/proc/${holder.pid}/ns/net`;
  return {
    holder,
    enter: (args) => ({ command: 'nsenter', args: [`--net=${ns}`, '--', ...args] }),
    async stop() {
      if (holder.exitCode !== null || holder.signalCode !== null) return;
      holder.kill('SIGKILL');
      await exited;
    },
  };
}
