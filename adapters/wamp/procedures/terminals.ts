// The studio's terminals (§7.4): request_terminal_session → start_terminal_session
// → stop_terminal_session for a shell in an app's container (DEVELOP), and
// init_device_terminal for a host shell, one per caller_authid. The Reagent
// checks no privilege on init_device_terminal although it hands out a root
// shell; here it needs MAINTAIN, the privilege of rebooting or updating the device.
import { NamingError, validateContainerName } from '../../docker/naming.js';
import { result, type ProcedureDef } from '../device-api.js';
import { DeviceApiError, WAMP_ERRORS } from '../errors.js';
import { fail, firstArgObject, requireString, requireUint } from '../validate.js';
import type { StudioTerminals } from '../../terminal/studio-terminals.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function sessionIdOf(args: unknown[]): string {
  const id = requireString(firstArgObject(args), 'sessionID', 'args[0].sessionID', { nonEmpty: true, max: 64 });
  if (!UUID.test(id)) throw fail('args[0].sessionID', 'a session id returned by request_terminal_session', id);
  return id;
}

export function terminalProcedures(terminals: () => StudioTerminals | null): ProcedureDef[] {
  const t = (): StudioTerminals => {
    const v = terminals();
    if (!v) throw new DeviceApiError(WAMP_ERRORS.canceled, 'terminals are not available on this device');
    return v;
  };
  return [
    {
      name: 'request_terminal_session',
      privilege: 'DEVELOP',
      async handle({ args, caller }) {
        const o = firstArgObject(args);
        let name: string;
        try {
          name = validateContainerName(o.containerName);
        } catch (err) {
          if (err instanceof NamingError) throw fail('args[0].containerName', err.expected, o.containerName);
          throw err;
        }
        return result([await t().requestContainer(name, caller.authid ?? '')]);
      },
    },
    {
      name: 'start_terminal_session',
      privilege: 'DEVELOP',
      async handle({ args }) {
        const id = sessionIdOf(args);
        const registrationId = requireUint(firstArgObject(args), 'registrationID', 'args[0].registrationID');
        await t().startContainer(id, registrationId);
        return result();
      },
    },
    {
      name: 'stop_terminal_session',
      privilege: 'DEVELOP',
      async handle({ args }) {
        const id = sessionIdOf(args);
        if (!t().stop(id, 'stop_terminal_session')) throw new DeviceApiError(WAMP_ERRORS.canceled, `no terminal session ${id} on this device`);
        return result();
      },
    },
    {
      name: 'init_device_terminal',
      privilege: 'MAINTAIN',
      async handle({ caller }) {
        const who = caller.authid;
        if (!who) throw new DeviceApiError(WAMP_ERRORS.canceled, 'the caller has no caller_authid');
        return result([await t().initDevice(who)]);
      },
    },
  ];
}
