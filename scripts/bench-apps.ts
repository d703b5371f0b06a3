// Apps at scale, each number next to a baseline measured in the same run:
// - 20 apps requested at once: time from the requests to all RUNNING, through
//   the whole daemon (journal, statecharts, Docker handler), vs `docker run -d`
//   of 20 containers by the docker CLI, 20 at once;
// - idle RSS of the built daemon converging and then following 20 running apps
//   (busybox `sleep`), vs the same daemon with no app.
// Needs a Docker engine it may start (root, dockerd; see spec/helpers/docker-peer.ts).
//
// `node --import tsx scripts/bench-apps.ts [--quick]` runs it alone.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { drainProgress, makeTgz, startDockerPeer, uniqueAppKey, type DockerPeer } from '../spec/helpers/docker-peer.js';
import { removeAppContainers, startAppsDaemon } from '../spec/helpers/apps-daemon.js';
import { dockerArch } from '../adapters/docker/arch.js';
import { AppId } from '../machines/app-id.js';

const MAIN = new URL('../dist/cli/main.cjs', import.meta.url).pathname;

export interface AppsBench {
  apps: number;
  /** All requests issued at once to the last app RUNNING. */
  requestToRunningMs: number;
  /** `docker run -d` of as many containers, all at once, by the CLI. */
  dockerCliMs: number;
  idleRssWithAppsKiB: number;
  idleRssNoAppsKiB: number;
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

/** Starts the built daemon, waits for "ready", idles, samples RSS, stops it. */
function daemonRss(agentDir: string, env: NodeJS.ProcessEnv, idleMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, '-offline', '-agentDir', agentDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sampled = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (sampled || !/"msg":"ready"/.test(out)) return;
      sampled = true;
      setTimeout(() => {
        void rssKiB(child.pid!).then((kib) => {
          child.kill('SIGTERM');
          child.once('exit', () => resolve(kib));
        }, reject);
      }, idleMs);
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      if (!sampled) reject(new Error(`daemon exited (${code}) before ready:\n${out}`));
    });
  });
}

async function sleepImage(peer: DockerPeer): Promise<string> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'rdp-bench-'));
  try {
    const tag = 'reagent-bench/sleep:1';
    const tgz = await makeTgz(work, { Dockerfile: `FROM ${peer.image}\nCMD ["sleep", "3600"]\n` });
    await drainProgress(await peer.docker().buildImage(tgz, { t: tag, rm: true }), `build ${tag}`);
    return tag;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function benchApps(opts: { apps?: number; idleMs?: number } = {}): Promise<AppsBench | { skipped: string }> {
  const n = opts.apps ?? 20;
  const idleMs = opts.idleMs ?? 3000;
  const peerOrSkip = await startDockerPeer();
  if ('skipped' in peerOrSkip) return peerOrSkip;
  const peer = peerOrSkip;
  const docker = peer.docker();
  const arch = dockerArch();
  const keys = Array.from({ length: n }, () => uniqueAppKey());
  const baseline: string[] = [];
  const dirs: string[] = [];
  try {
    const image = await sleepImage(peer);
    // Local images under the apps' own names: the measure is the agent, not the registry.
    for (const [i, k] of keys.entries()) await docker.getImage(image).tag({ repo: `prod_${arch}_${k}_b${i}`, tag: '1.0.0' });

    const t0 = performance.now();
    await Promise.all(
      keys.map((k, i) => peer.cli(['run', '-d', '--network', 'none', '--name', `bench_${k}_${i}`, image]).then(() => baseline.push(`bench_${k}_${i}`))),
    );
    const dockerCliMs = performance.now() - t0;
    await Promise.all(baseline.map((c) => peer.cli(['rm', '-f', c])));

    const d = await startAppsDaemon(peer, {});
    dirs.push(d.agentDir);
    const t1 = performance.now();
    await Promise.all(keys.map((k, i) => d.request({ appKey: Number(k), appName: `b${i}`, stage: 'PROD', targetState: 'RUNNING', version: '1.0.0' })));
    await Promise.all(keys.map((k) => d.waitForState(AppId.format('PROD', k), 'RUNNING', 120_000)));
    const requestToRunningMs = performance.now() - t1;
    await d.stop();

    const home = await mkdtemp(path.join(os.tmpdir(), 'rdp-bench-home-'));
    const empty = await mkdtemp(path.join(os.tmpdir(), 'rdp-bench-agent-'));
    dirs.push(home, empty);
    const env = { PATH: process.env['PATH'], HOME: home, DOCKER_HOST: peer.dockerHost, REAGENT_APP_NETWORK: 'none' };
    const idleRssNoAppsKiB = await daemonRss(empty, env, idleMs);
    // The apps are still running: the daemon finds them RUNNING and follows their logs.
    const idleRssWithAppsKiB = await daemonRss(d.agentDir, env, idleMs);
    return { apps: n, requestToRunningMs, dockerCliMs, idleRssWithAppsKiB, idleRssNoAppsKiB };
  } finally {
    await Promise.all(baseline.map((c) => peer.cli(['rm', '-f', c]).catch(() => undefined)));
    await removeAppContainers(docker, keys);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    await peer.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await benchApps({ idleMs: process.argv.includes('--quick') ? 1000 : 3000 });
  if ('skipped' in r) {
    console.log(`apps bench skipped: ${r.skipped}`);
  } else {
    console.log(`${r.apps} apps, request → all RUNNING: ${r.requestToRunningMs.toFixed(0)} ms  |  docker CLI run -d ×${r.apps}: ${r.dockerCliMs.toFixed(0)} ms  |  ${(r.requestToRunningMs / r.dockerCliMs).toFixed(2)}x`);
    console.log(`daemon idle RSS with ${r.apps} running apps: ${(r.idleRssWithAppsKiB / 1024).toFixed(1)} MiB  |  with none: ${(r.idleRssNoAppsKiB / 1024).toFixed(1)} MiB  |  +${((r.idleRssWithAppsKiB - r.idleRssNoAppsKiB) / 1024).toFixed(1)} MiB`);
  }
}
