// A real Docker engine and registry for the spec/docker tests.
//
// Each test file calls startDockerPeer() and stops what it got. The engine is a
// private dockerd started by scripts/docker-peer.sh in a fresh temp dir, unless
// `.ci/run` already started one and exported REAGENT_TEST_DOCKER_HOST and
// REAGENT_TEST_REGISTRY (+ _USER / _PASSWORD): then that one is shared and stop()
// leaves it running.
//
// Where no engine can run (no dockerd, not root) the result is { skipped }, and the
// tests skip loudly, except under CI=true, where that is an error: the Docker tests
// are the only check of the adapter against the real thing.

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import Dockerode from 'dockerode';

export const TEST_IMAGE = 'local/busybox:test' as const;

const SCRIPT = fileURLToPath(new URL('../../scripts/docker-peer.sh', import.meta.url));

export interface DockerPeer {
  /** unix://… */
  dockerHost: string;
  socketPath: string;
  registry: { host: string; username: string; password: string };
  image: typeof TEST_IMAGE;
  /** Started by `.ci/run` and shared with other test files: never restarted or stopped here. */
  shared: boolean;
  storageDriver: string;
  /** How long starting the peer took (0 when shared). */
  startupMs: number;
  /** A new dockerode client for this engine. */
  docker(): Dockerode;
  /** Runs the docker CLI against this engine (never touching ~/.docker). */
  cli(args: string[]): Promise<string>;
  stop(): Promise<void>;
  /** Stops dockerd by its PID (TERM by default) and starts it again on the same data root. */
  restartEngine(opts?: { signal?: 'TERM' | 'KILL' }): Promise<void>;
}

export type PeerOrSkip = DockerPeer | { skipped: string };

export function isCi(): boolean {
  return process.env['CI'] === 'true' || process.env['CI'] === '1';
}

/**
 * A banner nobody scrolls past, plus one skipped test so the skip shows up in the
 * runner's counts (a skipped describe() alone counts as nothing): a skipped Docker
 * suite means the adapter went untested.
 */
export function skipLoudly(what: string, reason: string): void {
  const bar = '#'.repeat(78);
  process.stderr.write(`\n${bar}\n#  DOCKER TESTS SKIPPED (${what}): ${reason}\n#  The Docker adapter was NOT tested. (Under CI=true this is an error.)\n${bar}\n\n`);
  test(`${what}: skipped, no Docker engine`, { skip: reason }, () => {});
}

function which(bin: string): string | undefined {
  const dirs = (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const d of dirs) {
    const p = path.join(d, bin);
    if (d && existsSync(p)) return p;
  }
  return undefined;
}

function missingPrerequisite(): string | undefined {
  if (process.platform !== 'linux') return `dockerd tests need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'dockerd needs root (run the tests as root, or in CI)';
  for (const [bin, pkg] of [
    ['dockerd', 'docker.io'],
    ['docker', 'docker.io'],
    ['docker-registry', 'docker-registry'],
    ['htpasswd', 'apache2-utils'],
    ['busybox', 'busybox-static'],
  ] as const) {
    if (!which(bin)) return `${bin} not found (apt-get install -y ${pkg})`;
  }
  return undefined;
}

interface ScriptOutput {
  values: Record<string, string>;
  stderr: string;
}

function runScript(args: string[], timeoutMs = 180_000): Promise<ScriptOutput> {
  return new Promise((resolve, reject) => {
    execFile('bash', [SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`docker-peer.sh ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        return;
      }
      const values: Record<string, string> = {};
      for (const line of stdout.split('\n')) {
        const m = /^([A-Z_]+)=(.*)$/.exec(line);
        if (m?.[1] && m[2] !== undefined) values[m[1]] = m[2];
      }
      resolve({ values, stderr });
    });
  });
}

// Peers started by this process, stopped synchronously if the process goes away
// before the test's own after() hook runs (a crash, a runner timeout, Ctrl-C).
const live = new Set<string>();
let hooksInstalled = false;

function stopSync(dir: string): void {
  try {
    execFileSync('bash', [SCRIPT, 'stop', dir], { stdio: 'ignore', timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort while exiting
  }
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const dir of live) stopSync(dir);
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const dir of live) stopSync(dir);
      live.clear();
      process.kill(process.pid, sig); // the default action, now that our handler is gone
    });
  }
}

function cliRunner(dockerHost: string, configDir: string): (args: string[]) => Promise<string> {
  return (args) =>
    new Promise((resolve, reject) => {
      execFile(
        'docker',
        args,
        { env: { ...process.env, DOCKER_HOST: dockerHost, DOCKER_CONFIG: configDir }, timeout: 60_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`docker ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout.trim())),
      );
    });
}

function sharedPeer(): DockerPeer | undefined {
  const host = process.env['REAGENT_TEST_DOCKER_HOST'];
  const registry = process.env['REAGENT_TEST_REGISTRY'];
  if (!host && !registry) return undefined;
  const username = process.env['REAGENT_TEST_REGISTRY_USER'];
  const password = process.env['REAGENT_TEST_REGISTRY_PASSWORD'];
  if (!host?.startsWith('unix://') || !registry || !username || !password) {
    throw new Error(
      'REAGENT_TEST_DOCKER_HOST (unix://…), REAGENT_TEST_REGISTRY, REAGENT_TEST_REGISTRY_USER and REAGENT_TEST_REGISTRY_PASSWORD must be set together',
    );
  }
  const socketPath = host.slice('unix://'.length);
  const configDir = path.join(os.tmpdir(), `reagent-docker-cli-${process.pid}`);
  return {
    dockerHost: host,
    socketPath,
    registry: { host: registry, username, password },
    image: TEST_IMAGE,
    shared: true,
    storageDriver: process.env['REAGENT_TEST_STORAGE_DRIVER'] ?? 'unknown',
    startupMs: 0,
    docker: () => new Dockerode({ socketPath }),
    cli: cliRunner(host, configDir),
    stop: async () => {},
    restartEngine: async () => {
      throw new Error('restartEngine on the shared CI engine would disturb other test files; use startDockerPeer({ needsRestart: true })');
    },
  };
}

export interface StartOptions {
  /** The test restarts dockerd: always use a private engine, even when a shared one exists. */
  needsRestart?: boolean;
}

export async function startDockerPeer(opts: StartOptions = {}): Promise<PeerOrSkip> {
  if (!opts.needsRestart) {
    const shared = sharedPeer();
    if (shared) return shared;
  }
  const missing = missingPrerequisite();
  if (missing) {
    if (isCi()) throw new Error(`Docker tests must run in CI, but: ${missing}`);
    return { skipped: missing };
  }

  installExitHooks();
  // Short name: the socket path must fit in sun_path (108 bytes).
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rdp-'));
  live.add(dir);
  const started = Date.now();
  let out: ScriptOutput;
  try {
    out = await runScript(['start', dir]);
  } catch (err) {
    await runScript(['stop', dir]).catch(() => undefined);
    live.delete(dir);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    if (isCi()) throw err;
    return { skipped: `could not start dockerd: ${(err as Error).message.split('\n').slice(0, 12).join('\n')}` };
  }
  const startupMs = Date.now() - started;
  const v = out.values;
  const dockerHost = v['DOCKER_HOST'];
  const registry = v['REGISTRY'];
  if (!dockerHost || !registry || !v['REGISTRY_USER'] || v['REGISTRY_PASSWORD'] === undefined) {
    throw new Error(`docker-peer.sh start printed incomplete output:\n${JSON.stringify(v)}\n${out.stderr}`);
  }
  const socketPath = dockerHost.slice('unix://'.length);
  let stopped = false;
  return {
    dockerHost,
    socketPath,
    registry: { host: registry, username: v['REGISTRY_USER'], password: v['REGISTRY_PASSWORD'] },
    image: TEST_IMAGE,
    shared: false,
    storageDriver: v['STORAGE_DRIVER'] ?? 'unknown',
    startupMs,
    docker: () => new Dockerode({ socketPath }),
    cli: cliRunner(dockerHost, path.join(dir, 'cli')),
    async stop() {
      if (stopped) return;
      stopped = true;
      await runScript(['stop', dir]);
      live.delete(dir);
      await rm(dir, { recursive: true, force: true }).catch((err: unknown) => {
        process.stderr.write(`docker-peer: could not remove ${dir}: ${(err as Error).message}\n`);
      });
    },
    async restartEngine(o = {}) {
      await runScript(['restart-engine', dir, o.signal ?? 'TERM']);
    },
  };
}

/** Reads a Docker JSON progress stream to the end; throws on an error item. */
export async function drainProgress(stream: NodeJS.ReadableStream, what: string): Promise<string[]> {
  const lines: string[] = [];
  let buf = '';
  for await (const chunk of stream) buf += chunk.toString();
  for (const line of buf.split('\n')) {
    if (!line.trim()) continue;
    const item = JSON.parse(line) as { error?: string; errorDetail?: { message?: string }; stream?: string; status?: string };
    if (item.error || item.errorDetail) throw new Error(`${what}: ${item.errorDetail?.message ?? item.error}`);
    lines.push(item.stream ?? item.status ?? line);
  }
  return lines;
}

/**
 * Writes `files` into a fresh dir under `parent` and packs them with the system tar
 * (entries come out as "./name", like most hand-made uploads). Returns the .tgz path.
 */
export async function makeTgz(parent: string, files: Record<string, string | Buffer>): Promise<string> {
  const src = await mkdtemp(path.join(parent, 'ctx-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(src, name)), { recursive: true });
    await writeFile(path.join(src, name), content);
  }
  const out = `${src}.tgz`;
  await new Promise<void>((resolve, reject) =>
    execFile('tar', ['-czf', out, '-C', src, '.'], (err) => (err ? reject(err) : resolve())),
  );
  await rm(src, { recursive: true, force: true });
  return out;
}

/**
 * Puts a busybox-based image `<registry>/<name>:<tag>` into the peer's registry, with
 * one extra layer of `layerBytes` random bytes, and removes it locally again so
 * that a pull has to download that layer.
 */
export async function pushTestImage(peer: DockerPeer, name: string, tag: string, layerBytes = 1 << 20): Promise<string> {
  const docker = peer.docker();
  const ref = `${peer.registry.host}/${name}:${tag}`;
  const work = await mkdtemp(path.join(os.tmpdir(), 'rdp-push-'));
  try {
    const tgz = await makeTgz(work, {
      Dockerfile: `FROM ${peer.image}\nCOPY blob /blob\nCMD ["sh", "-c", "echo pushed ${tag}"]\n`,
      blob: randomBytes(layerBytes),
    });
    await drainProgress(await docker.buildImage(tgz, { t: ref, rm: true }), `build ${ref}`);
    const auth = { username: peer.registry.username, password: peer.registry.password, serveraddress: peer.registry.host };
    await drainProgress(await docker.getImage(ref).push({ authconfig: auth }), `push ${ref}`);
    await docker.getImage(ref).remove();
    return ref;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Polls `probe` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A random app key, so tests sharing the CI engine never collide on names. */
export function uniqueAppKey(): string {
  return String(100000 + Math.floor(Math.random() * 899999));
}
