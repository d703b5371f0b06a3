// What the device procedures need from the rest of the studio link.
import type { Clock } from '../../../actors/clock.js';
import type { Logger } from 'pino';
import type { AppsService } from '../../../apps/service.js';
import type { FileTransfers } from '../file-transfer.js';
import type { NetworkService } from '../../network/service.js';
import type { SystemAdapter } from '../system-adapter.js';

export interface ProcedureDeps {
  serial: string;
  apps: AppsService;
  system: SystemAdapter;
  /** The device's networking (NetworkManager, or "unavailable"). */
  network: NetworkService;
  transfers: FileTransfers;
  clock: Clock;
  logger: Logger;
  /** `-logFile`, read by query_device_logs. */
  logFile: string;
  appsDir: string;
  agentVersion: string;
  /** Publishes on the live session, if there is one (fire and forget). */
  publish(topic: string, args: unknown[]): void;
  /** How long a power action waits after answering (the Reagent's 2 s). */
  powerDelayMs: number;
  /** Runs `fn` after `ms` on the link's clock; cancelled if the link stops first. */
  later(fn: () => void, ms: number): void;
}
