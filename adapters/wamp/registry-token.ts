// The Reagent's registry login (ironflock-reagent.md §2): username = the token
// `reswarm.containers.get_registry_token` answers, password = the `.flock`
// secret. Asked for only for the device's own registry (the `.flock`'s
// `docker_registry_url`), never cached: each pull asks again, which makes the
// retry after an authentication failure the Reagent's refresh. The token and
// the secret stay in memory (and in the redactor, so no log line shows them).
import type { Redactor } from '../log/redactor.js';
import type { RegistryAuthRequest, RegistryAuthSource, RegistryLogin } from '../../apps/service.js';
import type { WampSession } from './session.js';
import { BACKEND } from './wire.js';

/** A token is an opaque string; anything longer is not one. */
const MAX_TOKEN = 8192;

/** host[:port] of a `docker_registry_url` like "registry.ironflock.com/", "https://127.0.0.1:5000/" or "". */
export function registryHostOfUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const host = url.replace(/^[a-z]+:\/\//i, '').split('/')[0];
  return host ? host.toLowerCase() : undefined;
}

export interface RegistryTokenOptions {
  /** The live session, or null while the studio link is offline. */
  session: () => WampSession | null;
  secret: string;
  registryUrl: string | undefined;
  redactor: Redactor;
}

export function registryTokenSource(opts: RegistryTokenOptions): RegistryAuthSource {
  const ours = registryHostOfUrl(opts.registryUrl);
  return async (req: RegistryAuthRequest): Promise<RegistryLogin | undefined> => {
    // The device secret goes to the device's registry only.
    if (ours === undefined || req.registryHost.toLowerCase() !== ours) return undefined;
    const session = opts.session();
    if (!session) throw new Error(`cannot log in to registry ${req.registryHost}: ${BACKEND.getRegistryToken} needs the studio connection, which is down`);
    let answer: unknown;
    try {
      const r = await session.call(BACKEND.getRegistryToken, [{ callerID: req.callerId }]);
      answer = r.args[0];
    } catch (err) {
      throw new Error(`cannot log in to registry ${req.registryHost}: ${BACKEND.getRegistryToken} failed: ${opts.redactor.scrubString(err instanceof Error ? err.message : String(err))}`);
    }
    if (typeof answer !== 'string' || answer === '' || answer.length > MAX_TOKEN) {
      throw new Error(`cannot log in to registry ${req.registryHost}: ${BACKEND.getRegistryToken} answered no token in args[0] (expected a non-empty string of at most ${MAX_TOKEN} characters)`);
    }
    opts.redactor.addSecret(answer);
    return { username: answer, password: opts.secret, serveraddress: req.registryHost };
  };
}
