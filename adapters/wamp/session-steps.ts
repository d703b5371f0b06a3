// The calls behind each `studio.<step>` command of the studio-session
// statechart. Each returns an outcome instead of throwing; the link turns it
// into STEP_DONE / STEP_FAILED for the machine. The details they return are
// journaled, so they hold counts and names, never payloads (those carry
// app environments and registry credentials).
import type { Logger } from 'pino';
import type { Json } from '../../actors/types.js';
import type { DeviceStatus as SequenceStatus } from '../../machines/studio-session.js';
import type { Redactor } from '../log/redactor.js';
import type { AppsService, AppStateRequest } from '../../apps/service.js';
import { reconcileRequested } from '../../apps/reconcile.js';
import type { DeviceApi } from './device-api.js';
import { DeviceApiError, WAMP_ERRORS, WampCallError } from './errors.js';
import { reportDeviceStatus, type DeviceIdentity } from './heartbeat.js';
import { deviceArch } from './host-info.js';
import type { LogPublisher } from './log-publisher.js';
import { parseAppStateRequest } from './request-app-state.js';
import type { WampSession } from './session.js';
import { isObj } from './validate.js';
import { BACKEND, GUARD_PROCEDURE, GUARD_REPLY, TESTAMENT_TOPIC, deviceProcedure } from './wire.js';

export type StepOutcome = { ok: true; detail?: { [key: string]: Json } } | { ok: false; reason: string; retryable?: boolean };

export interface StepContext {
  session: WampSession;
  identity: DeviceIdentity;
  apps: AppsService;
  api: DeviceApi;
  publisher: LogPublisher;
  logger: Logger;
  redactor: Redactor;
  appsDir: string;
  agentVersion: string;
  respTimeoutMs: number;
}

/** The Reagent bounds the testament and the status reports at 10 s. */
const TESTAMENT_TIMEOUT_MS = 10_000;

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function guard(ctx: StepContext): Promise<StepOutcome> {
  try {
    await ctx.session.register(deviceProcedure(ctx.identity.serial, GUARD_PROCEDURE), () => ({ args: [GUARD_REPLY], kwargs: {} }));
    return { ok: true };
  } catch (err) {
    if (err instanceof WampCallError && err.uri === WAMP_ERRORS.procedureAlreadyExists) {
      return { ok: false, reason: `a WAMP connection for ${ctx.identity.serial} already exists`, retryable: true };
    }
    return { ok: false, reason: reasonOf(err) };
  }
}

export async function testament(ctx: StepContext, wampSessionId: number): Promise<StepOutcome> {
  try {
    await ctx.session.call(
      BACKEND.addTestament,
      [TESTAMENT_TOPIC, [{ swarm_key: ctx.identity.swarm_key, device_key: ctx.identity.device_key, serial_number: ctx.identity.serial, wamp_session_id: wampSessionId }], {}],
      {},
      Math.min(TESTAMENT_TIMEOUT_MS, ctx.respTimeoutMs || TESTAMENT_TIMEOUT_MS),
    );
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: reasonOf(err) };
  }
}

export async function status(ctx: StepContext, value: SequenceStatus, wampSessionId: number): Promise<StepOutcome> {
  // The disk guard's emergency is reported in place of CONNECTED, as the Reagent does (§7.5).
  const wire = value === 'CONNECTED' && ctx.apps.diskEmergency() ? 'EMERGENCY' : value;
  try {
    await reportDeviceStatus(ctx.session, ctx.identity, wire, wampSessionId, ctx.appsDir, ctx.respTimeoutMs);
    return { ok: true, detail: { status: wire } };
  } catch (err) {
    return { ok: false, reason: reasonOf(err) };
  }
}

export async function register(ctx: StepContext): Promise<StepOutcome> {
  try {
    await ctx.api.registerAll(ctx.session);
    await ctx.publisher.attach(ctx.session);
    return { ok: true, detail: { procedures: ctx.api.names().length } };
  } catch (err) {
    return { ok: false, reason: reasonOf(err) };
  }
}

/**
 * Metadata (a move to another project changes the swarm key, hence the
 * authid of the next connect), the architecture report, and the per-session
 * app credential key. Each part is best effort.
 */
export async function describe(ctx: StepContext): Promise<StepOutcome> {
  const problems: string[] = [];
  const detail: { [key: string]: Json } = {};
  try {
    const r = await ctx.session.call(BACKEND.readDeviceMetadata, [{ device_key: ctx.identity.device_key }]);
    const meta = r.args[0];
    if (isObj(meta) && typeof meta.swarm_key === 'number' && Number.isSafeInteger(meta.swarm_key) && meta.swarm_key !== ctx.identity.swarm_key) {
      ctx.logger.warn({ from: ctx.identity.swarm_key, to: meta.swarm_key }, 'the device moved to another project; the next connection uses the new authid');
      detail.movedToSwarm = meta.swarm_key;
      ctx.identity.swarm_key = meta.swarm_key;
    }
  } catch (err) {
    problems.push(`read_device_metadata: ${reasonOf(err)}`);
  }
  try {
    const a = deviceArch();
    await ctx.session.call(BACKEND.updateDeviceArchitecture, [
      { swarm_key: ctx.identity.swarm_key, device_key: ctx.identity.device_key, architecture: a.architecture, os: a.os, arch: a.arch, variant: a.variant, agent_version: ctx.agentVersion },
    ]);
  } catch (err) {
    problems.push(`update_device_architecture: ${reasonOf(err)}`);
  }
  try {
    const r = await ctx.session.call(BACKEND.getAppCredKey, []);
    const key = r.args[0];
    if (typeof key === 'string' && key !== '') {
      ctx.redactor.addSecret(key);
      ctx.apps.setAppCredentialKey(key);
      detail.appCredentialKey = true;
    } else {
      ctx.apps.setAppCredentialKey(null);
      problems.push('get_app_cred_key: no key in the answer');
    }
  } catch (err) {
    ctx.apps.setAppCredentialKey(null);
    problems.push(`get_app_cred_key: ${reasonOf(err)}`);
  }
  return problems.length === 0 ? { ok: true, detail } : { ok: false, reason: problems.join('; ') };
}

/** Requested app states from the cloud, applied by the reconciliation rules (PROD wins, DEV untouched). */
export async function sync(ctx: StepContext): Promise<StepOutcome> {
  let entries: unknown[];
  try {
    const r = await ctx.session.call(BACKEND.getRequestedAppStates, [{ device_key: ctx.identity.device_key }]);
    const list = r.args[0];
    if (!Array.isArray(list)) return { ok: false, reason: 'get_requested_app_states: expected a list of requested app states in args[0]' };
    entries = list;
  } catch (err) {
    return { ok: false, reason: reasonOf(err) };
  }
  const parsed: AppStateRequest[] = [];
  let invalid = 0;
  entries.forEach((entry, i) => {
    try {
      parsed.push(parseAppStateRequest(entry, `[${i}].`));
    } catch (err) {
      invalid++;
      const message = err instanceof DeviceApiError ? err.message : reasonOf(err);
      ctx.logger.warn({ entry: i }, `requested app state from the cloud ignored: ${ctx.redactor.scrubString(message)}`);
    }
  });
  const { applied, skipped, removed } = await reconcileRequested(ctx.apps, parsed, invalid, (fields, message, err) =>
    ctx.logger.warn(fields ?? {}, err === undefined ? message : `${message}${ctx.redactor.scrubString(reasonOf(err))}`),
  );
  return { ok: true, detail: { listed: entries.length, applied, skipped, invalid, removed } };
}
