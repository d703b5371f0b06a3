// The gateway link's channel security: TLS with the trust HOOP_TLSCA and
// HOOP_TLS_SKIP_VERIFY give, or plaintext. When plaintext is allowed at all
// is config/transport-rule.ts; plaintext to a loopback gateway additionally
// goes through OwnerCheckedCredentials, so no byte reaches a socket that
// belongs to another user.
import { credentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { TlsCaSource } from '../../config/hoop-env.js';
import { loadTlsCa, type CaFileSystem } from '../../config/tls-ca.js';
import { OwnerCheckedCredentials, type OwnerCheckOptions } from './owner-checked-credentials.js';

export { decideTransport, type TransportDecision } from '../../config/transport-rule.js';

export const LOCAL_GATEWAY = { host: '127.0.0.1', port: 8010 } as const;

export interface TlsSettings {
  serverName: string | null;
  ca: TlsCaSource | null;
  skipVerify: boolean;
}

export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

/** The CA bundle named by HOOP_TLSCA: inline PEM, base64://DATA or file://PATH. */
export function loadCa(source: TlsCaSource, fs?: CaFileSystem): Buffer {
  const loaded = loadTlsCa(source, fs);
  if (!loaded.ok) throw new TlsConfigError(loaded.error);
  return loaded.pem;
}

export interface ChannelSecurity {
  credentials: ChannelCredentials;
  /** Channel options that go with them (SNI override). */
  options: ChannelOptions;
}

export type Plaintext = { kind: 'owner-checked'; check?: OwnerCheckOptions } | { kind: 'unchecked' };

/**
 * `plaintext` says how a channel without TLS is made: owner-checked towards
 * loopback, unchecked only towards another machine allowed by
 * HOOP_GRPC_INSECURE (nothing on this machine can tell who answers there).
 */
export function channelSecurity(tls: boolean, settings: TlsSettings, plaintext: Plaintext = { kind: 'owner-checked' }, fs?: CaFileSystem): ChannelSecurity {
  if (!tls) {
    const creds = plaintext.kind === 'owner-checked' ? new OwnerCheckedCredentials(plaintext.check) : credentials.createInsecure();
    return { credentials: creds, options: {} };
  }
  const ca = settings.ca ? loadCa(settings.ca, fs) : null;
  const verify = settings.skipVerify ? { rejectUnauthorized: false } : {};
  const options: ChannelOptions = settings.serverName
    ? { 'grpc.ssl_target_name_override': settings.serverName, 'grpc.default_authority': settings.serverName }
    : {};
  return { credentials: credentials.createSsl(ca, null, null, verify), options };
}
