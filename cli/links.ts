// Which links a daemon runs, decided from its flags, .flock and environment.
// Each link lives in its adapter folder; this is only the choice.
import type { Logger } from 'pino';
import type { Flags } from './flags.js';
import type { FlockConfig } from '../config/flock.js';
import type { HoopEnv } from '../config/hoop-env.js';
import type { Redactor } from '../adapters/log/redactor.js';
import type { Link } from '../actors/link.js';

export interface LinkInputs {
  flags: Flags;
  flock: FlockConfig | undefined;
  hoop: HoopEnv;
  /** Whether one of the gateway credential sources is present. */
  gatewayCredentials: boolean;
  /** `reagent start agent`: the gateway link alone, down to web registration. */
  gatewayOnly: boolean;
  redactor: Redactor;
  env: NodeJS.ProcessEnv;
  home: string;
}

export function chooseLinks(inputs: LinkInputs, logger: Logger): Link[] {
  const links: Link[] = [];
  if (inputs.flags.offline) return links;
  if (inputs.flock && !inputs.gatewayOnly) {
    logger.warn({ endpoint: inputs.flock.device_endpoint_url }, 'the studio link (WAMP) is not part of this build yet: running with local state only');
  }
  if (inputs.gatewayCredentials || inputs.gatewayOnly) {
    logger.warn('the gateway link (gRPC) is not part of this build yet: running with local state only');
  }
  return links;
}
