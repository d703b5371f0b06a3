// The per-app credentials of the Reagent (ironflock-reagent.md §1.3,
// src/apps/app_credential.go): every app container gets an identity and a
// secret derived from the per-session key (`get_app_cred_key`), so an app can
// prove to the platform which app on which device it is without the device
// secret (`DEVICE_SECRET` is deliberately no longer injected). The key and the
// derived secret live in memory and in the container's environment only.
import { createHmac } from 'node:crypto';
import type { Stage } from '../machines/app-states.js';

export interface AppCredentialInput {
  serial: string;
  appKey: string | number;
  stage: Stage;
  /** `app_cred_epoch` from the request; 0, absent or invalid is read as 1. */
  epoch: number | null | undefined;
}

export function credentialEpoch(epoch: number | null | undefined): number {
  return typeof epoch === 'number' && Number.isSafeInteger(epoch) && epoch > 0 ? epoch : 1;
}

/** `APP_AUTH_ID = app-<appKey>-<stage lower>-e<epoch>@<serial>`, `APP_AUTH_SECRET = base64(HMAC-SHA256(key, "ironflock/app-cred/v1|<serial>|<appKey>|<STAGE>|<epoch>"))`. */
export function appCredentials(key: string, app: AppCredentialInput): { APP_AUTH_ID: string; APP_AUTH_SECRET: string } {
  const epoch = credentialEpoch(app.epoch);
  const id = `app-${app.appKey}-${app.stage.toLowerCase()}-e${epoch}@${app.serial}`;
  const secret = createHmac('sha256', key).update(`ironflock/app-cred/v1|${app.serial}|${app.appKey}|${app.stage}|${epoch}`).digest('base64');
  return { APP_AUTH_ID: id, APP_AUTH_SECRET: secret };
}
