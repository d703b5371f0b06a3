// The device API: `re.mgmt.<serial>.<name>` procedures, registered on every
// session with `force_reregister` (a reconnect replaces the registrations a
// dead session left on the router) and `disclose_caller` (the privilege check
// needs the caller's authid). Each invocation goes: caller → privilege →
// handler (which validates its payload) → result, and every failure becomes a
// WAMP error the caller can read, never an exception in the daemon:
//   wamp.error.not_authorized    privilege denied or not checkable
//   wamp.error.invalid_argument  payload rejected; args[0].error names the field
//   wamp.error.canceled          the handler failed (the Reagent's reply for errors)
import type { Logger } from 'pino';
import type { Redactor } from '../log/redactor.js';
import type { AbInvocation } from './autobahn.js';
import { NamingError } from '../docker/naming.js';
import { InvalidAppRequest } from '../../apps/service.js';
import { DeviceApiError, WAMP_ERRORS } from './errors.js';
import { checkPrivilege, resolveCaller, type Caller, type DeviceKeys, type Privilege } from './privilege.js';
import { WampReply, type CallResult, type WampSession } from './session.js';
import type { Obj } from './validate.js';
import { deviceProcedure } from './wire.js';

export interface ProcedureCall {
  args: unknown[];
  kwargs: Obj;
  caller: Caller;
}

export interface ProcedureDef {
  /** The suffix after `re.mgmt.<serial>.`. */
  name: string;
  privilege: Privilege;
  handle(call: ProcedureCall): Promise<CallResult> | CallResult;
}

export function result(args: unknown[] = [], kwargs: Record<string, unknown> = {}): CallResult {
  return { args, kwargs };
}

export interface DeviceApiOptions {
  serial: string;
  /** Read per call: the swarm key can change when the device moves project. */
  keys: () => DeviceKeys;
  privilegeTimeoutMs: number;
  logger: Logger;
  redactor: Redactor;
}

export const REGISTER_OPTIONS = { force_reregister: true, disclose_caller: true } as const;

export class DeviceApi {
  private readonly byName = new Map<string, ProcedureDef>();

  constructor(
    private readonly opts: DeviceApiOptions,
    procedures: readonly ProcedureDef[],
  ) {
    for (const p of procedures) {
      if (this.byName.has(p.name)) throw new Error(`device API: procedure ${p.name} is defined twice`);
      this.byName.set(p.name, p);
    }
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  procedure(name: string): ProcedureDef | undefined {
    return this.byName.get(name);
  }

  /** Registers every procedure on the session; rejects if any registration fails. */
  async registerAll(session: WampSession): Promise<void> {
    await Promise.all(
      [...this.byName.values()].map((def) =>
        session.register(deviceProcedure(this.opts.serial, def.name), (args, kwargs, details) => this.invoke(session, def, args, kwargs, details), { ...REGISTER_OPTIONS }),
      ),
    );
  }

  /** One invocation end to end; failures are thrown as WampReply (what the caller receives). */
  async invoke(session: WampSession, def: ProcedureDef, args: unknown[], kwargs: Obj, details: AbInvocation): Promise<CallResult> {
    // Everything a caller's payload touches is inside the try: whatever throws
    // becomes this caller's error reply, never an exception in the daemon.
    try {
      let caller: Caller;
      try {
        caller = resolveCaller(details, args, kwargs);
      } catch (err) {
        // A relayed call that names its requestor badly is refused before any check runs.
        this.opts.logger.warn({ procedure: def.name, caller: details.caller_authid ?? null, privilege: def.privilege }, 'device API call denied: malformed requestor');
        throw this.reply(def, err);
      }
      const verdict = await checkPrivilege(session, this.opts.keys(), caller, def.privilege, this.opts.privilegeTimeoutMs);
      if (!verdict.allowed) {
        this.opts.logger.warn({ procedure: def.name, caller: caller.authid, account: caller.account, privilege: def.privilege }, `device API call denied: ${verdict.reason}`);
        throw new WampReply(WAMP_ERRORS.notAuthorized, [{ error: verdict.reason }]);
      }
      return await def.handle({ args, kwargs, caller });
    } catch (err) {
      throw err instanceof WampReply ? err : this.reply(def, err);
    }
  }

  private reply(def: ProcedureDef, err: unknown): WampReply {
    const scrub = (s: string) => this.opts.redactor.scrubString(s);
    if (err instanceof DeviceApiError) {
      this.opts.logger.info({ procedure: def.name, error: err.uri }, `device API call rejected: ${scrub(err.message)}`);
      return new WampReply(err.uri, [{ error: scrub(`${def.name}: ${err.message}`) }], err.kwargs);
    }
    // A name the apps link checks further (a container that is not an app's) is the caller's input too.
    if (err instanceof NamingError) {
      this.opts.logger.info({ procedure: def.name }, `device API call rejected: ${scrub(err.message)}`);
      return new WampReply(WAMP_ERRORS.invalidArgument, [{ error: scrub(`${def.name}: ${err.message}`) }], { field: err.field, expected: err.expected });
    }
    if (err instanceof InvalidAppRequest) {
      this.opts.logger.info({ procedure: def.name }, `device API call rejected: ${scrub(err.message)}`);
      return new WampReply(WAMP_ERRORS.invalidArgument, [{ error: scrub(`${def.name}: ${err.message}`) }]);
    }
    const message = err instanceof Error ? err.message : String(err);
    this.opts.logger.warn({ procedure: def.name, err }, 'device API call failed');
    return new WampReply(WAMP_ERRORS.canceled, [{ error: scrub(`${def.name}: ${message}`) }]);
  }
}
