// Wiring of the headless daemon: the single-instance lock, the journal, the
// actor system and (as they arrive) the links. Everything it needs is passed
// in; nothing here is a module-level singleton.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { ActorSystem } from './system.js';
import type { Clock } from './clock.js';
import type { MachineRegistry } from '../machines/registry.js';
import { acquireInstanceLock, type InstanceLock } from '../adapters/store/instance-lock.js';
import type { Link } from './link.js';
import { Journal } from '../adapters/store/journal.js';
import { TimedJournal, type CommitStats } from '../adapters/metrics/commit-stats.js';
import { FileSecretStore, type SecretStore } from '../adapters/store/secret-store.js';

export interface DaemonConfig {
  agentDir: string;
  dbFile: string;
  /** Compaction keeps the journal file under this size. */
  journalMaxBytes: number;
  /** How often the size is checked (ms). */
  compactEveryMs: number;
  offline: boolean;
  agentVersion: string;
  /** Bound of the memory held for events while the journal cannot commit (disk full). */
  journalBufferBytes?: number;
}

export interface DaemonDeps {
  config: DaemonConfig;
  logger: Logger;
  clock: Clock;
  random: () => number;
  registry: MachineRegistry;
  /** Started in order after the journal is open, stopped in reverse. */
  links?: Link[];
}

export interface Daemon {
  readonly run: string;
  readonly system: ActorSystem;
  readonly journal: Journal;
  /** How the journal's commits went in this run (latency, failures), for /metrics and /healthz. */
  commitStats(): CommitStats;
  /** Commits, stops every actor, closes the journal and releases the lock. */
  stop(): Promise<void>;
}

export async function startDaemon(deps: DaemonDeps): Promise<Daemon> {
  const { config, logger, clock } = deps;
  mkdirSync(config.agentDir, { recursive: true });
  // Throws InstanceLockedError (naming the holder's pid) when another daemon owns the dir.
  const lock: InstanceLock = acquireInstanceLock(config.agentDir);
  if (lock.recoveredFrom !== undefined) {
    logger.warn({ pid: lock.recoveredFrom, lock: lock.path }, 'took over the lock of a reagent that is no longer running');
  }

  let journal: Journal;
  try {
    // Holding the instance lock is what makes removing a stale `<db>.lock` safe.
    journal = Journal.open({
      path: config.dbFile,
      staleLockRecovery: true,
      maxBytes: config.journalMaxBytes,
      logger: journalLogger(logger),
    });
  } catch (err) {
    lock.release();
    throw err;
  }

  const run = randomUUID();
  let deferred: string | null;
  try {
    deferred = journal.appendRun(run, clock.now(), config.agentVersion, deps.registry.versions());
  } catch (err) {
    closeQuietly(journal, logger);
    lock.release();
    throw err;
  }
  if (deferred !== null) {
    // A full disk must not keep the device offline: the links come up, and the journal catches up when space returns.
    logger.error({ reason: deferred }, `journal cannot write (${deferred}); starting anyway: events wait in memory (bounded) and links connect, the journal catches up when it can write again`);
  }
  // The runtime commits through a timer: /metrics and /healthz read how the commits go.
  const timed = new TimedJournal(journal);
  const system = new ActorSystem({
    journal: timed,
    clock,
    registry: deps.registry,
    random: deps.random,
    run,
    logger,
    ...(config.journalBufferBytes !== undefined ? { maxPendingBytes: config.journalBufferBytes } : {}),
  });
  for (const r of journal.recovered) {
    // Loud in the log, and on the record: a bug report must show the journal was rebuilt.
    logger.error({ kind: r.kind, path: r.path }, `journal recovery: ${r.detail}`);
    system.note('journal', 'store', 'JOURNAL_RECOVERED', { kind: r.kind, detail: r.detail, path: r.path ?? null });
  }
  await system.flush();

  const compactor = setInterval(() => {
    // Compaction writes; while commits fail it would only fail too.
    if (system.journalFailing) return;
    try {
      const result = journal.compact({
        keepSnapshotData: () => ({ run, seq: journal.nextSeq - 1, at: clock.now(), data: system.persist() }),
      });
      if (result) logger.info({ ...result }, 'journal compacted');
    } catch (err) {
      logger.error({ err }, 'journal compaction failed');
    }
  }, config.compactEveryMs);
  // Deliberately not unref'd: with no link (offline) this timer is what keeps the daemon alive.

  const started: Link[] = [];
  const stopLinks = async () => {
    for (const link of started.splice(0).reverse()) {
      try {
        await link.stop();
      } catch (err) {
        logger.error({ err, link: link.name }, 'link failed to stop cleanly');
      }
    }
  };
  const links = deps.links ?? [];
  // One secret table per daemon, opened under the instance lock: two writers would lose each other's apps.
  let secrets: SecretStore | undefined;
  if (links.length > 0) {
    let store: FileSecretStore;
    try {
      store = new FileSecretStore(config.agentDir);
    } catch (err) {
      clearInterval(compactor);
      system.close();
      closeQuietly(journal, logger);
      lock.release();
      throw err;
    }
    for (const note of store.notes) logger.warn({ file: store.path }, note);
    secrets = store;
  }
  const contexts = links.map((link) => ({ system, logger: logger.child({ link: link.name }), clock, random: deps.random, run, agentDir: config.agentDir, journal, secrets }));
  let phase = 'prepare';
  try {
    for (const [i, link] of links.entries()) await link.prepare?.(contexts[i]!);
  } catch (err) {
    logger.error({ err }, 'a link failed to prepare');
    clearInterval(compactor);
    system.close();
    closeQuietly(journal, logger);
    lock.release();
    throw err;
  }
  phase = 'start';
  for (const [i, link] of links.entries()) {
    try {
      await link.start(contexts[i]!);
      started.push(link);
    } catch (err) {
      logger.error({ err, link: link.name, phase }, 'link failed to start');
      await stopLinks();
      clearInterval(compactor);
      system.close();
      closeQuietly(journal, logger);
      lock.release();
      throw err;
    }
  }

  logger.info(
    { run, agentDir: config.agentDir, db: config.dbFile, offline: config.offline, version: config.agentVersion, links: started.map((l) => l.name) },
    'reagent started',
  );

  let stopped = false;
  return {
    run,
    system,
    journal,
    commitStats: () => timed.stats(),
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(compactor);
      // Whatever fails on the way (a journal that cannot write), the lock is released and the process can exit cleanly.
      try {
        await stopLinks();
        await system.flush();
        system.close();
        closeQuietly(journal, logger);
      } finally {
        lock.release();
      }
      logger.info({ run }, 'reagent stopped');
    },
  };
}

/**
 * Closes the journal; what it could not write any more (disk full) is
 * logged, not thrown. The system's close() has already said how many events
 * that is and why, so this line is short.
 */
function closeQuietly(journal: Journal, logger: Logger): void {
  try {
    journal.close();
  } catch (err) {
    logger.warn({ reason: (err as Error).message }, 'journal closed without writing its last events');
  }
}

function journalLogger(logger: Logger) {
  return {
    info: (o: Record<string, unknown>, m: string) => logger.info(o, m),
    warn: (o: Record<string, unknown>, m: string) => logger.warn(o, m),
    error: (o: Record<string, unknown>, m: string) => logger.error(o, m),
  };
}
