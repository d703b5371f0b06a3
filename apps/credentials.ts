// Registry credentials, in memory only. They arrive with a request
// (`docker_credentials`) or come from the token source the studio link plugs
// in (the Reagent's login: username = `get_registry_token`, password = the
// `.flock` secret), and are used at the moment of a pull or push. The journal
// and the projection only ever see the hosts they are for. A token is asked
// for at every pull (never cached), so asking again is the refresh after an
// authentication failure.

import type { AppIdentity } from '../adapters/docker/naming.js';
import type { RegistryCredentials } from '../adapters/docker/types.js';
import type { RegistryAuthSource } from './service.js';

export type { RegistryAuthSource };

/** What a pull or push logs in with, and where that came from. */
export interface CredentialLookup {
  credentials?: RegistryCredentials;
  /** `request`: the request's docker_credentials; `token`: the token source; `none`: anonymous. */
  from: 'request' | 'token' | 'none';
  /** Why the token source gave nothing (offline, refused); it names the registry. */
  problem?: string;
}

const DOCKER_HUB = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];

export class CredentialVault {
  private readonly byActor = new Map<string, Map<string, RegistryCredentials>>();
  private source: RegistryAuthSource | undefined;

  /** `onSecret` hears every password and token, so the redactor can hide it wherever it turns up. */
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

  get hasSource(): boolean {
    return this.source !== undefined;
  }

  async lookup(actor: string, app: AppIdentity, registryHost: string | undefined, callerId: number | string | null = null): Promise<CredentialLookup> {
    const given = this.byActor.get(actor);
    if (given) {
      const hosts = registryHost === undefined ? DOCKER_HUB : [registryHost];
      for (const h of hosts) {
        const c = given.get(h);
        if (c) return { credentials: c, from: 'request' };
      }
    }
    // Docker Hub images are pulled anonymously: the device secret is only ever sent to the device's registry.
    if (registryHost === undefined) return { from: 'none' };
    if (!this.source) return { from: 'none', problem: `no registry token source for ${registryHost} (no studio link)` };
    try {
      const c = await this.source({ registryHost, stage: app.stage, appKey: app.appKey, appName: app.appName, callerId });
      if (!c) return { from: 'none' };
      this.onSecret(c.username);
      this.onSecret(c.password);
      return { credentials: { username: c.username, password: c.password, serveraddress: c.serveraddress || registryHost }, from: 'token' };
    } catch (err) {
      return { from: 'none', problem: err instanceof Error ? err.message : String(err) };
    }
  }

  forget(actor: string): void {
    this.byActor.delete(actor);
  }
}
