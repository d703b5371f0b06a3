// Which links a daemon runs, decided from its flags, .flock and environment.
// Each link lives in its adapter folder; this is only the choice.
import type { Logger } from 'pino';
import type { Flags } from './flags.js';
import type { FlockConfig } from '../config/flock.js';
import type { HoopEnv } from '../config/hoop-env.js';
import type { Redactor } from '../adapters/log/redactor.js';
import type { Link } from '../actors/link.js';
import { GatewayLink } from '../adapters/grpc/gateway-link.js';
import { gatewayTuning } from '../adapters/grpc/tuning.js';
import { agentVersion } from './version.js';
import { resolve } from 'node:path';
import { AppsLink, type AppsLinkService } from '../adapters/apps/apps-link.js';
import { StudioFallbackLink } from '../adapters/apps/studio-fallback.js';
import { studioLinkFromFlags } from '../adapters/wamp/from-flags.js';

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
  /** Raw stdout, for what must not pass the log's redactor (the web-registration link). */
  out?: (text: string) => void;
}

export function chooseLinks(inputs: LinkInputs, logger: Logger): Link[] {
  // The apps link runs always, -offline included, and first: the apps converge before any network link starts.
  const apps = appsLinkFor(inputs);
  const network = chooseNetworkLinks(inputs, logger, apps.service);
  // Without a studio link nobody receives app state reports (see adapters/apps/studio-fallback.ts).
  const fallback = network.some((l) => l.name === 'studio') ? [] : [new StudioFallbackLink()];
  return [...fallback, apps, ...network];
}

function appsLinkFor(inputs: LinkInputs): AppsLink {
  return new AppsLink({
    appsDir: resolve(inputs.flags.appsDir),
    buildExtension: inputs.flags.compressedBuildExtension,
    ...(inputs.flock?.docker_registry_url !== undefined ? { registryUrl: inputs.flock.docker_registry_url } : {}),
    ...(inputs.flock?.docker_main_repository !== undefined ? { repository: inputs.flock.docker_main_repository } : {}),
    env: inputs.env,
    redactor: inputs.redactor,
  });
}

/** `apps`: the apps link's service, for the studio link (request_app_state, logs, images). */
function chooseNetworkLinks(inputs: LinkInputs, logger: Logger, apps: AppsLinkService): Link[] {
  const links: Link[] = [];
  // Whenever a .flock is given; with -offline it never connects and only keeps app state reports in its outbox.
  if (inputs.flock && !inputs.gatewayOnly) links.push(studioLinkFromFlags(inputs.flags, inputs.flock, apps, inputs.redactor, agentVersion()));
  if (inputs.flags.offline) return links;
  if (inputs.gatewayCredentials || inputs.gatewayOnly) {
    links.push(
      new GatewayLink({
        hoop: inputs.hoop,
        env: inputs.env,
        home: inputs.home,
        gatewayOnly: inputs.gatewayOnly,
        redactor: inputs.redactor,
        out: inputs.out ?? ((text) => process.stdout.write(`${text}\n`)),
        version: agentVersion(),
        debugGrpc: inputs.flags.debugGrpc,
        ...gatewayTuning(inputs.env, (m) => logger.warn(m)),
      }),
    );
  }
  return links;
}

