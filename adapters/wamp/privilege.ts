// Who is calling, and may they? As in the Reagent (api/external.go `wrapDetails`,
// privilege/privilege.go), with every procedure checked:
// - the caller is INVOCATION.details.caller_authid (we register with
//   `disclose_caller: true`); a caller the router did not disclose is denied;
// - `system` is the backend relaying a user's request: the user is then the
//   requestor named in kwargs or args[0] (`requestor_account_key` or its alias
//   `account_id`, read by requestor-account.ts, as the request parser reads it),
//   and that account is checked; without one it is the backend itself, which
//   may call anything; a requestor that is present but malformed is refused
//   (invalid_argument), never taken for "without one";
// - anyone else is checked with `reswarm.devices.check_privilege`, which must
//   answer `[true]`; an error, a timeout or any other answer denies.
import type { AbInvocation } from './autobahn.js';
import type { WampSession } from './session.js';
import { BACKEND } from './wire.js';
import { requestorOfCall } from './requestor-account.js';

export type Privilege = 'READ' | 'DEVELOP' | 'MAINTAIN' | 'NETWORK';

export const SYSTEM_CALLER = 'system';

export interface Caller {
  /** As disclosed by the router; null when it was not. */
  authid: string | null;
  /** The account whose privilege is checked; null for the backend itself. */
  account: string | number | null;
}

/** Throws a DeviceApiError (invalid_argument) when a `system` call names its requestor badly. */
export function resolveCaller(details: AbInvocation, args: unknown[], kwargs: Record<string, unknown>): Caller {
  const authid = typeof details.caller_authid === 'string' && details.caller_authid !== '' ? details.caller_authid : null;
  if (authid !== SYSTEM_CALLER) return { authid, account: authid };
  return { authid, account: requestorOfCall(args, kwargs) };
}

export type PrivilegeVerdict = { allowed: true } | { allowed: false; reason: string };

export interface DeviceKeys {
  swarm_key: number;
  device_key: number;
}

export async function checkPrivilege(
  session: WampSession,
  keys: DeviceKeys,
  caller: Caller,
  privilege: Privilege,
  timeoutMs: number,
): Promise<PrivilegeVerdict> {
  if (caller.authid === null) return { allowed: false, reason: 'the router did not disclose the caller, so its privilege cannot be checked' };
  if (caller.authid === SYSTEM_CALLER && caller.account === null) return { allowed: true };
  try {
    const r = await session.call(
      BACKEND.checkPrivilege,
      [{ privilege, entity: 'DEVICE', entity_key: keys.device_key, requestor_account_key: caller.account, swarm_key: keys.swarm_key }],
      {},
      timeoutMs,
    );
    if (r.args[0] === true) return { allowed: true };
    return { allowed: false, reason: `caller ${String(caller.account)} lacks the ${privilege} privilege on this device` };
  } catch (err) {
    return { allowed: false, reason: `the ${privilege} privilege of caller ${String(caller.account)} could not be checked (${(err as Error).message}); denied` };
  }
}
