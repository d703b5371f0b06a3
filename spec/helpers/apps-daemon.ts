// A real daemon (lock, SQLite journal, actor system) with the apps link on a
// test Docker peer, plus what the app tests look at: the studio.report
// commands (recorded by a stand-in for the studio link), the journal, the log.
//
// Also the test images: busybox-based apps that print a line per second and
// exit on SIGTERM at once, pushed to the peer's password-protected registry.

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type Dockerode from 'dockerode';
import { startDaemon, type Daemon } from '../../actors/daemon.js';
import { SystemClock } from '../../actors/clock.js';
import type { Link, LinkContext } from '../../actors/link.js';
import type { Command } from '../../actors/types.js';
import type { Transition } from '../../actors/system.js';
import { builtinMachines } from '../../machines/registry.js';
import type { AppPolicy } from '../../machines/app.js';
import { createLogger } from '../../adapters/log/logger.js';
import { Redactor } from '../../adapters/log/redactor.js';
import { AppsLink } from '../../apps/apps-link.js';
import type { AppsSettings } from '../../apps/config.js';
import type { AppStateRequest } from '../../apps/service.js';
import { minimalRequest } from '../../apps/internal-request.js';
import { drainProgress, makeTgz, waitFor, type DockerPeer } from './docker-peer.js';
import { everyStudioCommand } from './studio-recorder.js';

/** Prints `tick <n>` every second; PID 1 traps TERM so a stop takes no grace period. */
export const TICKER_CMD = `["sh", "-c", "trap 'exit 0' TERM; echo started; i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done"]`;

export function tickerDockerfile(base: string): string {
  return `FROM ${base}\nCMD ${TICKER_CMD}\n`;
}

/**
 * Builds a ticker image as `<registry>/<repo>:<tag>` with a layer of its own
 * (`layerBytes` random bytes, so a pull downloads something), pushes it with
 * the peer's password, and removes it locally.
 */
export async function pushTickerImage(peer: DockerPeer, repoPath: string, tag: string, layerBytes = 256 * 1024): Promise<string> {
  const docker = peer.docker();
  const ref = `${peer.registry.host}/${repoPath}:${tag}`;
  const work = await mkdtemp(path.join(os.tmpdir(), 'rdp-ticker-'));
  try {
    const tgz = await makeTgz(work, { Dockerfile: `${tickerDockerfile(peer.image)}COPY blob /blob\n`, blob: randomBytes(layerBytes) });
    await drainProgress(await docker.buildImage(tgz, { t: ref, rm: true }), `build ${ref}`);
    const auth = { username: peer.registry.username, password: peer.registry.password, serveraddress: peer.registry.host };
    await drainProgress(await docker.getImage(ref).push({ authconfig: auth }), `push ${ref}`);
    await docker.getImage(ref).remove();
    return ref;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A short crash-loop policy so a retry is seconds, not minutes, away. */
export const FAST_POLICY: AppPolicy = {
  retry: { initialMs: 300, maxMs: 1000, multiplier: 2, jitter: 0 },
  maxFailures: 5,
  healthyResetMs: 60_000,
  startTimeoutMs: 20_000,
};

/** Stands in for the studio link: records every studio.* command. */
class StudioRecorder implements Link {
  readonly name = 'studio-recorder';
  readonly commands: Array<{ actor: string; command: Command }> = [];
  private off: (() => void) | undefined;
  async start(ctx: LinkContext): Promise<void> {
    this.off = ctx.system.handle(
      'studio',
      everyStudioCommand((command, actor) => {
        this.commands.push({ actor, command });
      }),
    );
  }
  async stop(): Promise<void> {
    this.off?.();
  }
}

export interface AppsDaemon {
  daemon: Daemon;
  link: AppsLink;
  agentDir: string;
  appsDir: string;
  logFile: string;
  redactor: Redactor;
  transitions: Transition[];
  /** The states reported for one app, in order. */
  reports(actor: string): string[];
  /** Waits until the app's last report is `state` (and returns all its reports). */
  waitForState(actor: string, state: string, timeoutMs?: number): Promise<string[]>;
  request(req: Parameters<typeof appRequest>[0]): Promise<void>;
  stop(): Promise<void>;
}

export interface AppsDaemonOptions {
  agentDir?: string;
  registryUrl?: string;
  overrides?: Partial<AppsSettings>;
  env?: NodeJS.ProcessEnv;
}

export function appRequest(
  r: Partial<Omit<AppStateRequest, 'appName'>> & Pick<AppStateRequest, 'appKey' | 'stage' | 'targetState'> & { appName: string },
): AppStateRequest {
  // The agent's own minimal request (its name checked as the agent's own are), with the test's fields on top.
  const base = minimalRequest({ appKey: String(r.appKey), appName: r.appName, stage: r.stage }, r.targetState);
  return { ...base, ...r, appName: base.appName };
}

export async function startAppsDaemon(peer: DockerPeer, opts: AppsDaemonOptions = {}): Promise<AppsDaemon> {
  const ownDir = opts.agentDir === undefined;
  const agentDir = opts.agentDir ?? (await mkdtemp(path.join(os.tmpdir(), 'rdp-agent-')));
  const appsDir = path.join(agentDir, 'apps');
  await mkdir(appsDir, { recursive: true });
  const logFile = path.join(agentDir, 'reagent.log');
  const redactor = new Redactor();
  const logger = createLogger({ level: 'debug', encoding: 'json', pretty: false, file: logFile, stdout: { write: () => true }, redactor });
  const studio = new StudioRecorder();
  const link = new AppsLink({
    appsDir,
    buildExtension: 'tgz',
    ...(opts.registryUrl !== undefined ? { registryUrl: opts.registryUrl } : {}),
    env: { REAGENT_APP_NETWORK: 'none', REAGENT_APP_STOP_TIMEOUT: '2', ...opts.env },
    redactor,
    docker: peer.docker(),
    overrides: { engineWaitMs: 5000, bootSettleMs: 20_000, progressIntervalMs: 100, watch: { pingIntervalMs: 2000, maxBackoffMs: 500 }, ...opts.overrides },
  });
  let daemon: Daemon;
  try {
    daemon = await startDaemon({
      config: { agentDir, dbFile: path.join(agentDir, 'reagent.db'), journalMaxBytes: 64 << 20, compactEveryMs: 600_000, offline: true, agentVersion: 'test' },
      logger,
      clock: new SystemClock(),
      random: Math.random,
      registry: builtinMachines(),
      links: [studio, link],
    });
  } catch (err) {
    if (ownDir) await rm(agentDir, { recursive: true, force: true });
    throw err;
  }
  const transitions: Transition[] = [];
  daemon.system.subscribe((t) => transitions.push(t));
  const reports = (actor: string) =>
    studio.commands.filter((c) => c.actor === actor && c.command.type === 'studio.report').map((c) => String(c.command['state']));
  let stopped = false;
  return {
    daemon,
    link,
    agentDir,
    appsDir,
    logFile,
    redactor,
    transitions,
    reports,
    async waitForState(actor, state, timeoutMs = 30_000) {
      await waitFor(`${actor} to report ${state} (so far: ${reports(actor).join(' → ')})`, () => reports(actor).at(-1) === state, timeoutMs);
      return reports(actor);
    },
    request: (r) => link.service.requestAppState(appRequest(r), 'studio'),
    async stop() {
      if (stopped) return;
      stopped = true;
      await daemon.stop();
    },
  };
}

/** The log file's lines whose message matches. */
export function logLines(file: string, msg: RegExp): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => typeof o['msg'] === 'string' && msg.test(o['msg']));
}

/** Removes every container carrying one of `appKeys` in our labels. */
export async function removeAppContainers(docker: Dockerode, appKeys: readonly string[]): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: ['io.reagent.managed=true'] } });
  for (const c of list) {
    if (appKeys.includes(c.Labels['io.reagent.app-key'] ?? '')) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  }
}
