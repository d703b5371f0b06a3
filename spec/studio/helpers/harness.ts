// A studio link inside a real daemon (journal, actor system, machines) against
// the real router process and the backend simulator; the apps side is a
// RecordingApps unless a test brings its own AppsService.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../../../actors/daemon.js';
import { SystemClock } from '../../../actors/clock.js';
import { builtinMachines } from '../../../machines/registry.js';
import { createLogger } from '../../../adapters/log/logger.js';
import { Redactor } from '../../../adapters/log/redactor.js';
import type { FlockConfig } from '../../../config/flock.js';
import type { AppsService } from '../../../apps/service.js';
import type { SerializerName } from '../../../adapters/wamp/autobahn.js';
import { StudioLink, type StudioLinkOptions } from '../../../adapters/wamp/studio-link.js';
import type { Link } from '../../../actors/link.js';
import { startRouter, type RouterPeer, type RouterUser } from './router.js';
import { BackendSim } from './backend-sim.js';
import { connectPeer, type Peer } from './wamp-peer.js';
import { RecordingApps, RecordingSystem } from './recording-apps.js';

export const DEVICE = { swarm_key: 7, device_key: 42, serial_number: 'b7d2c0de-0000-4000-8000-00000000cafe', secret: 'device-secret-5f3a9c' } as const;
export const DEVICE_AUTHID = `${DEVICE.swarm_key}-${DEVICE.device_key}`;
export const STUDIO_USER = { authid: '1001', secret: 'studio-user-secret' };
export const OTHER_USER = { authid: '2002', secret: 'other-user-secret' };
export const SYSTEM_USER = { authid: 'system', secret: 'backend-relay-secret' };
export const BACKEND_USER = { authid: 'backend', secret: 'backend-secret' };

export function routerUsers(opts: { salted?: boolean } = {}): Record<string, RouterUser> {
  return {
    [DEVICE_AUTHID]: { secret: DEVICE.secret, role: 'device', ...(opts.salted ? { salt: 'salt-of-the-earth', iterations: 100, keylen: 32 } : {}) },
    [BACKEND_USER.authid]: { secret: BACKEND_USER.secret, role: 'backend' },
    [STUDIO_USER.authid]: { secret: STUDIO_USER.secret, role: 'user' },
    [OTHER_USER.authid]: { secret: OTHER_USER.secret, role: 'user' },
    [SYSTEM_USER.authid]: { secret: SYSTEM_USER.secret, role: 'system' },
  };
}

export function flockFor(url: string, secret: string = DEVICE.secret): FlockConfig {
  return { device_endpoint_url: url, secret, swarm_key: DEVICE.swarm_key, device_key: DEVICE.device_key, serial_number: DEVICE.serial_number };
}

export function proc(name: string): string {
  return `re.mgmt.${DEVICE.serial_number}.${name}`;
}

export interface HarnessOptions {
  salted?: boolean;
  serializers?: readonly SerializerName[];
  /** Where the agent connects (a proxy in front of the router); the router's URL by default. */
  endpoint?: (router: RouterPeer) => string;
  secret?: string;
  link?: Partial<StudioLinkOptions>;
  apps?: AppsService;
  /** Links started before the studio link (the apps link). */
  before?: (h: { agentDir: string; redactor: Redactor }) => Link[];
  requestedAppStates?: unknown[];
  allow?: string[];
  /** false: a router without the subscription meta API. */
  meta?: boolean;
  /** A router with `test.inject` (raw frames to the agent: a hostile router). */
  inject?: boolean;
  /** Reuse an agent dir (a restart). */
  agentDir?: string;
  /** Keep the router and backend of an earlier harness. */
  peers?: { router: RouterPeer; backend: BackendSim };
}

export interface Harness {
  router: RouterPeer;
  backend: BackendSim;
  daemon: Daemon;
  link: StudioLink;
  apps: AppsService;
  recordingApps: RecordingApps | null;
  system: RecordingSystem;
  agentDir: string;
  logFile: string;
  logs: string[];
  redactor: Redactor;
  studio(user?: { authid: string; secret: string }): Promise<Peer>;
  /** Stops the daemon only (the peers stay for a restart). */
  stopDaemon(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPeers(opts: { salted?: boolean; requestedAppStates?: unknown[]; allow?: string[]; meta?: boolean; inject?: boolean } = {}): Promise<{ router: RouterPeer; backend: BackendSim }> {
  const router = await startRouter(routerUsers({ salted: opts.salted }), 0, { meta: opts.meta, inject: opts.inject });
  const backend = new BackendSim({
    url: router.url,
    ...BACKEND_USER,
    allow: opts.allow ?? [`*:${STUDIO_USER.authid}`],
    requestedAppStates: opts.requestedAppStates ?? [],
  });
  try {
    await backend.start();
  } catch (err) {
    await router.stop();
    throw err;
  }
  return { router, backend };
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const peers = opts.peers ?? (await startPeers(opts));
  const { router, backend } = peers;
  const agentDir = opts.agentDir ?? mkdtempSync(join(tmpdir(), 'reagent-studio-'));
  const logFile = join(agentDir, 'reagent.log');
  const logs: string[] = [];
  const redactor = new Redactor();
  const logger = createLogger({ level: 'debug', encoding: 'json', pretty: false, file: logFile, redactor, stdout: { write: (l: string) => logs.push(l) } });
  const recordingApps = opts.apps ? null : new RecordingApps();
  const apps = opts.apps ?? recordingApps!;
  const system = new RecordingSystem();
  const link = new StudioLink({
    flock: flockFor(opts.endpoint ? opts.endpoint(router) : router.url, opts.secret ?? DEVICE.secret),
    apps,
    offline: false,
    connTimeoutMs: 2000,
    ppTimeoutMs: 1000,
    respTimeoutMs: 3000,
    debugMessaging: false,
    redactor,
    appsDir: join(agentDir, 'apps'),
    logFile,
    agentVersion: '0.0.0-test',
    system,
    serializers: opts.serializers ?? ['json'],
    backoff: { initialMs: 200, maxMs: 1000 },
    sessionPolicy: { heartbeatIntervalMs: 1000, guardRetryMs: 200 },
    powerDelayMs: 10,
    ...opts.link,
  });
  const daemon = await startDaemon({
    config: { agentDir, dbFile: join(agentDir, 'reagent.db'), journalMaxBytes: 64 * 1024 * 1024, compactEveryMs: 3_600_000, offline: false, agentVersion: '0.0.0-test' },
    logger,
    clock: new SystemClock(),
    random: Math.random,
    registry: builtinMachines(),
    links: [...(opts.before?.({ agentDir, redactor }) ?? []), link],
  });
  let daemonStopped = false;
  const peersToClose: Peer[] = [];
  const stopDaemon = async () => {
    if (daemonStopped) return;
    daemonStopped = true;
    await daemon.stop();
  };
  return {
    router,
    backend,
    daemon,
    link,
    apps,
    recordingApps,
    system,
    agentDir,
    logFile,
    logs,
    redactor,
    async studio(user = STUDIO_USER) {
      const p = await connectPeer(router.url, user.authid, user.secret);
      peersToClose.push(p);
      return p;
    },
    stopDaemon,
    async stop() {
      for (const p of peersToClose) await p.close().catch(() => {});
      await stopDaemon();
      if (!opts.peers) {
        await backend.stop().catch(() => {});
        await router.stop();
      }
      if (!opts.agentDir) rmSync(agentDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` holds. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The studio-session actor's state value, as the journal records it. */
export function sessionState(daemon: Daemon): unknown {
  return (daemon.system.snapshot('studio:session') as { value?: unknown } | undefined)?.value;
}
