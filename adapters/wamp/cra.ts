// WAMP-CRA, as the Reagent's nexus client answers it (`crsign.RespondChallenge`):
// the signature is base64(HMAC-SHA256(key, challenge)), where the key is the
// `.flock` secret itself, or, when the CHALLENGE carries salt/iterations/keylen,
// base64(PBKDF2-HMAC-SHA256(secret, salt, iterations, keylen)) used as a string.
// Same bytes as autobahn's `auth_cra.derive_key` + `auth_cra.sign` (a property
// test compares them), without crypto-js.
import { createHmac, pbkdf2Sync } from 'node:crypto';
import type { FlockConfig } from '../../config/flock.js';

export const REALM = 'realm1';
export const AUTH_METHODS = ['wampcra'] as const;

/** The authid the platform knows the device by. */
export function deviceAuthId(flock: Pick<FlockConfig, 'swarm_key' | 'device_key'>): string {
  return `${flock.swarm_key}-${flock.device_key}`;
}

export interface CraChallenge {
  challenge: string;
  salt?: string;
  iterations?: number;
  keylen?: number;
}

/** Reads a CHALLENGE's extra; throws a message naming the bad field (never the secret). */
export function parseCraChallenge(extra: unknown): CraChallenge {
  if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) throw new Error('WAMP-CRA challenge: expected an object in CHALLENGE.Extra');
  const e = extra as Record<string, unknown>;
  if (typeof e.challenge !== 'string') throw new Error('WAMP-CRA challenge: field "challenge" must be a string');
  const out: CraChallenge = { challenge: e.challenge };
  if (e.salt !== undefined && e.salt !== null) {
    if (typeof e.salt !== 'string') throw new Error('WAMP-CRA challenge: field "salt" must be a string');
    out.salt = e.salt;
    out.iterations = positiveInt(e.iterations, 'iterations', 1000);
    out.keylen = positiveInt(e.keylen, 'keylen', 32);
  }
  return out;
}

function positiveInt(value: unknown, field: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > 10_000_000) {
    throw new Error(`WAMP-CRA challenge: field "${field}" must be a positive integer`);
  }
  return value;
}

/** The PBKDF2 key the salted variant signs with (a base64 string, as in autobahn and nexus). */
export function deriveCraKey(secret: string, salt: string, iterations = 1000, keylen = 32): string {
  return pbkdf2Sync(secret, salt, iterations, keylen, 'sha256').toString('base64');
}

export function signCraChallenge(key: string, challenge: string): string {
  return createHmac('sha256', key).update(challenge).digest('base64');
}

/** The AUTHENTICATE signature for a CHALLENGE. */
export function respondToChallenge(secret: string, extra: unknown): string {
  const c = parseCraChallenge(extra);
  const key = c.salt === undefined ? secret : deriveCraKey(secret, c.salt, c.iterations, c.keylen);
  return signCraChallenge(key, c.challenge);
}
