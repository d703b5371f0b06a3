// A link is one outside world wired into the daemon: it registers command
// handlers on the actor system, spawns its actors, starts its adapters, and
// stops them again. The daemon starts links in order and stops them in reverse.
import type { Logger } from 'pino';
import type { ActorSystem } from './system.js';
import type { Clock } from './clock.js';
import type { Journal } from '../adapters/store/journal.js';
import type { SecretStore } from '../adapters/store/secret-store.js';

export interface LinkContext {
  system: ActorSystem;
  logger: Logger;
  clock: Clock;
  /** The daemon's random source, uniform [0, 1) (the one the actor system draws from): retry jitter outside machines uses it too. */
  random: () => number;
  /** The daemon's run id (also the journal's). */
  run: string;
  agentDir: string;
  /** The daemon's journal; a link keeps its tables (projections, outboxes) through `journal.storage(name, migrations)`. */
  journal?: Journal;
  /** The secret table (`<agentDir>/secrets.json`): what adapters keep that no event may carry. */
  secrets?: SecretStore;
}

export interface Link {
  /** Short name used in logs, e.g. "apps", "studio", "gateway". */
  readonly name: string;
  /** Resolves if the link gives up for good; the daemon then stops with `exitCode`. */
  readonly finished?: Promise<{ reason: string; exitCode: number }>;
  /**
   * Called for every link, in order, before any link starts: register command
   * handlers here that must exist before other links' actors emit (the studio
   * link's durable outbox must catch the reports of apps converging at boot,
   * before any network connection is made). Must not do network I/O.
   */
  prepare?(ctx: LinkContext): Promise<void>;
  start(ctx: LinkContext): Promise<void>;
  stop(): Promise<void>;
}
