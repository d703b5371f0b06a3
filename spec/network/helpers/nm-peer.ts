// A private system D-Bus with python3-dbusmock's NetworkManager template, for
// the network tests: started by scripts/nm-mock-peer.sh in a fresh temp dir and
// stopped by PID. The mock is set up and read back by nm_mock.py over libdbus,
// a client independent of the one under test.
//
// Without dbus-daemon or python3-dbusmock the tests skip loudly, except under
// CI=true, where that is an error (scripts/install.sh --test installs both).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { isCi } from '../../helpers/docker-peer.js';

const SCRIPT = fileURLToPath(new URL('../../../scripts/nm-mock-peer.sh', import.meta.url));
const HELPER = fileURLToPath(new URL('./nm_mock.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

export interface MockPaths {
  eth0: string;
  eth1: string;
  wlan0: string;
  aps: Record<'home' | 'cafe' | 'office' | 'corp' | 'sixghz', string>;
}

export interface MockConnection {
  path: string;
  settings: Record<string, Record<string, unknown>>;
}

export interface MockState {
  devices: Array<{ path: string; Interface: string; DeviceType: number; State: number; ActiveConnection: string; Ip4Config: string }>;
  connections: MockConnection[];
  active: Array<{ path: string; Connection: string; SpecificObject: string; Devices: string[]; Id: string }>;
}

export interface NmPeer {
  dir: string;
  /** The value for DBUS_SYSTEM_BUS_ADDRESS. */
  address: string;
  dbusPid: number;
  /** Creates the devices, access points and saved connections nm_mock.py describes. */
  setup(): Promise<MockPaths>;
  /** The mock's state, read over D-Bus. */
  state(): Promise<MockState>;
  /** Makes GetDevices block the (single-threaded) mock for `seconds`. */
  hang(seconds: number): Promise<void>;
  /** SIGKILLs the bus daemon (the mock loses its bus and exits). */
  killBus(): void;
  stop(): Promise<void>;
}

export type NmPeerOrSkip = NmPeer | { skipped: string };

function which(bin: string): boolean {
  return (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/bin']).some((d) => d !== '' && existsSync(path.join(d, bin)));
}

function missingPrerequisite(): string | undefined {
  if (process.platform !== 'linux') return `NetworkManager tests need Linux (this is ${process.platform})`;
  if (!which('dbus-daemon') || !which('dbus-send')) return 'dbus-daemon not found (apt-get install -y dbus)';
  try {
    execFileSync(PYTHON, ['-c', 'import dbusmock'], { stdio: 'ignore' });
  } catch {
    return 'python3-dbusmock not found (apt-get install -y python3-dbusmock)';
  }
  return undefined;
}

export function skipLoudly(what: string, reason: string): void {
  const bar = '#'.repeat(78);
  process.stderr.write(`\n${bar}\n#  NETWORKMANAGER TESTS SKIPPED (${what}): ${reason}\n#  Network management was NOT tested. (Under CI=true this is an error.)\n${bar}\n\n`);
  test(`${what}: skipped, no D-Bus mock`, { skip: reason }, () => {});
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function values(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m?.[1] && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

const live = new Set<string>();
process.once('exit', () => {
  for (const dir of live) {
    try {
      execFileSync('bash', [SCRIPT, 'stop', dir], { stdio: 'ignore', timeout: 10_000 });
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort while exiting */
    }
  }
});

/** `nm: false`: the bus alone, with no NetworkManager on it. */
export async function startNmPeer(opts: { nm?: boolean; dir?: string } = {}): Promise<NmPeerOrSkip> {
  const missing = missingPrerequisite();
  if (missing) {
    if (isCi()) throw new Error(`NetworkManager tests must run in CI, but: ${missing}`);
    return { skipped: missing };
  }
  // Short: a unix socket path must fit in 108 bytes.
  const dir = opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'nm-')));
  live.add(dir);
  const start = async () => values(await run('bash', [SCRIPT, 'start', dir, ...(opts.nm === false ? ['--no-nm'] : [])], process.env));
  const v = await start();
  const address = v.DBUS_SYSTEM_BUS_ADDRESS!;
  const env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: address };
  const helper = async (args: string[]) => JSON.parse(await run(PYTHON, [HELPER, ...args], env)) as unknown;
  const peer: NmPeer = {
    dir,
    address,
    dbusPid: Number(v.DBUS_PID),
    setup: async () => (await helper(['setup'])) as MockPaths,
    state: async () => (await helper(['state'])) as MockState,
    hang: async (seconds) => {
      await helper(['hang', String(seconds)]);
    },
    killBus() {
      try {
        process.kill(peer.dbusPid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    },
    async stop() {
      await run('bash', [SCRIPT, 'stop', dir], process.env).catch(() => {});
      live.delete(dir);
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
  return peer;
}

/** The saved connection whose Wi-Fi SSID (or, for others, id) is `name`. */
export function connectionNamed(state: MockState, name: string): MockConnection | undefined {
  return state.connections.find((c) => c.settings['802-11-wireless']?.ssid === name || (!c.settings['802-11-wireless'] && c.settings.connection?.id === name));
}
