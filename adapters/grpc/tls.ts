// When the gateway link uses TLS, and with which trust. The rule is hoop's
// legacy IsInsecure plus the DSN's scheme rule:
//   - TLS_SERVER_NAME set: always TLS, and it is the SNI and the name checked;
//   - DSN (HOOP_KEY): TLS for grpcs/https/wss, plaintext for grpc/http/ws;
//   - local and auto-register modes: plaintext (the gateway is on loopback);
//   - any mode: plaintext towards exactly 127.0.0.1:8010;
//   - otherwise TLS, verified against the system roots or HOOP_TLSCA,
//     unless HOOP_TLS_SKIP_VERIFY=true says otherwise.
import { readFileSync } from 'node:fs';
import { credentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { TlsCaSource } from '../../config/hoop-env.js';
import type { CredentialMode } from '../../machines/credentials.js';

export const LOCAL_GATEWAY = { host: '127.0.0.1', port: 8010 } as const;

export interface TlsRuleInput {
  mode: CredentialMode;
  host: string;
  port: number;
  tlsServerName: string | null;
  /** The DSN scheme's verdict (grpcs/https/wss); only read in dsn mode. */
  dsnTls?: boolean;
}

export function usesTls(input: TlsRuleInput): boolean {
  if (input.tlsServerName) return true;
  if (input.mode === 'dsn') return input.dsnTls === true;
  if (input.mode === 'local' || input.mode === 'auto-register') return false;
  return !(input.host === LOCAL_GATEWAY.host && input.port === LOCAL_GATEWAY.port);
}

export interface TlsSettings {
  serverName: string | null;
  ca: TlsCaSource | null;
  skipVerify: boolean;
}

export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

/** The CA bundle named by HOOP_TLSCA: inline PEM, base64://DATA or file://PATH. */
export function loadCa(source: TlsCaSource, readFile: (path: string) => Buffer = (p) => readFileSync(p)): Buffer {
  let pem: Buffer;
  if (source.kind === 'pem') pem = Buffer.from(source.pem);
  else if (source.kind === 'base64') pem = Buffer.from(source.data.replace(/\s+/g, ''), 'base64');
  else {
    try {
      pem = readFile(source.path);
    } catch (err) {
      throw new TlsConfigError(`HOOP_TLSCA: cannot read ${source.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (!pem.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
    throw new TlsConfigError(`HOOP_TLSCA (${source.kind}): expected PEM certificates (-----BEGIN CERTIFICATE-----)`);
  }
  return pem;
}

export interface ChannelSecurity {
  credentials: ChannelCredentials;
  /** Channel options that go with them (SNI override). */
  options: ChannelOptions;
}

export function channelSecurity(tls: boolean, settings: TlsSettings, readFile?: (path: string) => Buffer): ChannelSecurity {
  if (!tls) return { credentials: credentials.createInsecure(), options: {} };
  const ca = settings.ca ? loadCa(settings.ca, readFile) : null;
  const verify = settings.skipVerify ? { rejectUnauthorized: false } : {};
  const options: ChannelOptions = settings.serverName
    ? { 'grpc.ssl_target_name_override': settings.serverName, 'grpc.default_authority': settings.serverName }
    : {};
  return { credentials: credentials.createSsl(ca, null, null, verify), options };
}
