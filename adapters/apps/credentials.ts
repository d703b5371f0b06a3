// Registry credentials, in memory only. They arrive with a request
// (`docker_credentials`) or come from a token source the studio link plugs in
// (the Reagent's `get_registry_token`), and are used at the moment of a pull
// or push. The journal and the projection only ever see the hosts they are for.

import type { AppIdentity } from '../docker/naming.js';
import type { RegistryCredentials } from '../docker/types.js';

/** Credentials for `registryHost` on behalf of `app`, or undefined for anonymous access. */
export type RegistryAuthSource = (app: AppIdentity, registryHost: string | undefined) => Promise<RegistryCredentials | undefined>;

const DOCKER_HUB = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];

export class CredentialVault {
  private readonly byActor = new Map<string, Map<string, RegistryCredentials>>();
  private source: RegistryAuthSource | undefined;

  /** `onSecret` hears every password, so the redactor can hide it wherever it turns up. */
  constructor(private readonly onSecret: (secret: string) => void = () => {}) {}

  /** Replaces the request credentials of an app (an empty map keeps the ones it had). */
  set(actor: string, credentials: ReadonlyMap<string, RegistryCredentials>): void {
    if (credentials.size === 0) return;
    for (const c of credentials.values()) this.onSecret(c.password);
    this.byActor.set(actor, new Map(credentials));
  }

  /** Plugs in a token source; returns how to unplug it. */
  useSource(source: RegistryAuthSource): () => void {
    this.source = source;
    return () => {
      if (this.source === source) this.source = undefined;
    };
  }

  async lookup(actor: string, app: AppIdentity, registryHost: string | undefined): Promise<RegistryCredentials | undefined> {
    const given = this.byActor.get(actor);
    if (given) {
      const hosts = registryHost === undefined ? DOCKER_HUB : [registryHost];
      for (const h of hosts) {
        const c = given.get(h);
        if (c) return c;
      }
    }
    if (!this.source) return undefined;
    const c = await this.source(app, registryHost);
    if (c) this.onSecret(c.password);
    return c;
  }

  forget(actor: string): void {
    this.byActor.delete(actor);
  }
}
