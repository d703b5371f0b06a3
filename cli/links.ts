// Which links a daemon runs, decided from its flags, .flock and environment.
// Each link lives in its adapter folder; this is only the choice.
import type { Logger } from 'pino';
import type { Flags } from './flags.js';
import type { FlockConfig } from '../config/flock.js';
import type { HoopEnv } from '../config/hoop-env.js';
import type { Redactor } from '../adapters/log/redactor.js';
import type { Link } from '../actors/link.js';
import type { AppsLink, AppsLinkService } from '../apps/apps-link.js';
import type { NetworkService } from '../adapters/network/service.js';
import type { AgentUpdates } from '../adapters/update/service.js';
import { agentVersion } from './version.cjs';
import { resolve } from 'node:path';

// Links are imported only when chosen: grpc-js and autobahn cost resident
// memory a device without a gateway or a studio should not carry.

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
  /** process.platform unless a test says otherwise (network management is Linux-only). */
  platform?: NodeJS.Platform;
  /** The self-update, for the studio's update_agent and get_agent_metadata. */
  updates?: AgentUpdates;
}

export async function chooseLinks(inputs: LinkInputs, logger: Logger): Promise<Link[]> {
  // `reagent start agent` is hoop's agent: the gateway link alone.
  if (inputs.gatewayOnly) return [await gatewayLinkFor(inputs, logger)];
  // The apps link runs always, -offline included, and before the network links:
  // the apps converge before any connection is made (the studio outbox is
  // ready earlier, in its prepare phase, to keep the reports of that boot).
  const apps = await appsLinkFor(inputs);
  // NetworkManager (-nmw) is local device management: it runs with -offline and without a studio too.
  const { networkFromFlags } = await import('../adapters/network/from-flags.js');
  const nm = await networkFromFlags(inputs.flags, inputs.env, inputs.platform ?? process.platform, inputs.redactor);
  const local: Link[] = nm.link ? [apps, nm.link] : [apps];
  const network = await chooseNetworkLinks(inputs, logger, apps.service, nm.service);
  if (network.some((l) => l.name === 'studio')) return [...local, ...network];
  // Without a studio link nobody receives app state reports (see apps/studio-fallback.ts).
  const { StudioFallbackLink } = await import('../apps/studio-fallback.js');
  return [new StudioFallbackLink(), ...local, ...network];
}

async function appsLinkFor(inputs: LinkInputs): Promise<AppsLink> {
  const { AppsLink } = await import('../apps/apps-link.js');
  return new AppsLink({
    appsDir: resolve(inputs.flags.appsDir),
    buildExtension: inputs.flags.compressedBuildExtension,
    ...(inputs.flock?.docker_registry_url !== undefined ? { registryUrl: inputs.flock.docker_registry_url } : {}),
    ...(inputs.flock?.docker_main_repository !== undefined ? { repository: inputs.flock.docker_main_repository } : {}),
    env: inputs.env,
    redactor: inputs.redactor,
    ...(inputs.flock?.serial_number !== undefined ? { serial: inputs.flock.serial_number } : {}),
  });
}

/** `apps`: the apps link's service, for the studio link (request_app_state, logs, images); `nm`: the device's networking. */
async function chooseNetworkLinks(inputs: LinkInputs, logger: Logger, apps: AppsLinkService, nm: NetworkService): Promise<Link[]> {
  const links: Link[] = [];
  // Whenever a .flock is given; with -offline it never connects and only keeps app state reports in its outbox.
  if (inputs.flock) {
    const [{ studioLinkFromFlags }, { diskThresholdsFromEnv }] = await Promise.all([import('../adapters/wamp/from-flags.js'), import('../apps/config.js')]);
    // Uploads keep the same free space as pulls and builds (REAGENT_DISK_MIN_MIB).
    const uploads = { diskMinBytes: diskThresholdsFromEnv(inputs.env).minBytes };
    links.push(studioLinkFromFlags(inputs.flags, inputs.flock, apps, inputs.redactor, agentVersion(), nm, uploads, inputs.updates));
  }
  if (inputs.flags.offline) return links;
  if (inputs.gatewayCredentials) links.push(await gatewayLinkFor(inputs, logger));
  return links;
}

async function gatewayLinkFor(inputs: LinkInputs, logger: Logger): Promise<Link> {
  const [{ GatewayLink }, { gatewayTuning }] = await Promise.all([
    import('../adapters/grpc/gateway-link.js'),
    import('../adapters/grpc/tuning.js'),
  ]);
  return new GatewayLink({
    hoop: inputs.hoop,
    env: inputs.env,
    home: inputs.home,
    gatewayOnly: inputs.gatewayOnly,
    redactor: inputs.redactor,
    out: inputs.out ?? ((text) => process.stdout.write(`${text}\n`)),
    version: agentVersion(),
    debugGrpc: inputs.flags.debugGrpc,
    ...gatewayTuning(inputs.env, (m) => logger.warn(m)),
  });
}

