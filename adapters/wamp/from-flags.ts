// Builds the studio link from the command line's flags and the .flock.
import { resolve } from 'node:path';
import type { FlockConfig } from '../../config/flock.js';
import type { Redactor } from '../log/redactor.js';
import type { AppsService } from '../../apps/service.js';
import type { NetworkService } from '../network/service.js';
import type { UploadLimits } from './file-transfer.js';
import { StudioLink } from './studio-link.js';
import type { AgentUpdates } from '../update/service.js';

/** The flags the studio link reads (a subset of cli/flags.ts `Flags`). */
export interface StudioFlags {
  offline: boolean;
  connTimeout: number;
  ppTimeout: number;
  respTimeout: number;
  debugMessaging: boolean;
  appsDir: string;
  logFile: string;
}

export function studioLinkFromFlags(
  flags: StudioFlags,
  flock: FlockConfig,
  apps: AppsService,
  redactor: Redactor,
  agentVersion: string,
  network: NetworkService,
  uploads: Partial<UploadLimits> = {},
  updates?: AgentUpdates,
): StudioLink {
  return new StudioLink({
    flock,
    apps,
    offline: flags.offline,
    connTimeoutMs: flags.connTimeout,
    ppTimeoutMs: flags.ppTimeout,
    respTimeoutMs: flags.respTimeout,
    debugMessaging: flags.debugMessaging,
    redactor,
    appsDir: resolve(flags.appsDir),
    logFile: flags.logFile,
    agentVersion,
    network,
    uploads,
    ...(updates ? { updates } : {}),
  });
}
