// A link is one outside world wired into the daemon: it registers command
// handlers on the actor system, spawns its actors, starts its adapters, and
// stops them again. The daemon starts links in order and stops them in reverse.
import type { Logger } from 'pino';
import type { ActorSystem } from './system.js';
import type { Clock } from './clock.js';

export interface LinkContext {
  system: ActorSystem;
  logger: Logger;
  clock: Clock;
  /** The daemon's run id (also the journal's). */
  run: string;
  agentDir: string;
}

export interface Link {
  /** Short name used in logs, e.g. "apps", "studio", "gateway". */
  readonly name: string;
  start(ctx: LinkContext): Promise<void>;
  stop(): Promise<void>;
}
