// `-metrics`: the health and metrics endpoint on a running daemon. Reads the
// daemon's actor system, journal and links; writes nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Daemon } from '../../actors/daemon.js';
import type { Link } from '../../actors/link.js';
import { AppActors } from '../../apps/app-actors.js';
import { collectFamilies } from './collect.js';
import { judgeHealth } from './health.js';
import { LinkWatch } from './link-watch.js';
import { renderFamilies } from './prom-text.js';
import { startMetricsServer, type MetricsServer } from './server.js';

export interface DaemonMetricsOptions {
  address: string;
  daemon: Daemon;
  links: readonly Link[];
  offline: boolean;
  version: string;
  agentDir: string;
  now: () => number;
  logger: Logger;
}

/** Network links whose health counts: those that connect somewhere. */
export const NETWORK_LINKS: readonly string[] = ['studio', 'gateway'];

export async function startDaemonMetrics(opts: DaemonMetricsOptions): Promise<MetricsServer & { close(): Promise<void> }> {
  const { daemon } = opts;
  const watch = new LinkWatch(daemon.system, opts.now());
  const configured = opts.offline ? [] : opts.links.map((l) => l.name).filter((n) => NETWORK_LINKS.includes(n));
  const apps = new AppActors(daemon.system);
  const studio = opts.links.find((l) => l.name === 'studio') as (Link & { reports?: { pending(): unknown[] } | null }) | undefined;
  const startedAtSeconds = Math.round((Date.now() - process.uptime() * 1000) / 1000);
  const server = await startMetricsServer({
    address: opts.address,
    health: () => judgeHealth({ now: opts.now(), commits: daemon.commitStats(), configured, links: watch.all() }),
    metrics: () =>
      renderFamilies(
        collectFamilies({
          version: opts.version,
          links: watch.all(),
          configured,
          commits: daemon.commitStats(),
          journalBytes: quietly(() => daemon.journal.sizeBytes()),
          journalBufferedBytes: quietly(() => daemon.journal.pendingBytes()) ?? 0,
          appStates: apps.appActors().map((id) => apps.appView(id)?.state ?? 'boot'),
          outboxDepth: studio?.reports ? (quietly(() => studio.reports!.pending().length) ?? null) : null,
          memory: process.memoryUsage(),
          startedAtSeconds,
          updatePhase: updatePhase(opts.agentDir),
        }),
      ),
    onError: (err) => opts.logger.error({ err }, 'metrics endpoint: a request failed'),
  });
  return {
    origin: server.origin,
    async close() {
      watch.close();
      await server.close();
    },
  };
}

function quietly<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}

function updatePhase(agentDir: string): string | null {
  try {
    const state = JSON.parse(readFileSync(join(agentDir, 'update-state.json'), 'utf8')) as { phase?: unknown };
    return typeof state.phase === 'string' ? state.phase : null;
  } catch {
    return null;
  }
}
