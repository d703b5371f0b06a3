// The device itself: device_handshake, execute_cmd, host facts and power
// (its networking: network.ts).
import { result, type ProcedureDef } from '../device-api.js';
import { deviceArch, ipv4Addresses, osVersion, storageData } from '../host-info.js';
import type { PowerAction } from '../system-adapter.js';
import { fail, firstArgObject, optionalArray, optionalBool, optionalUint, requireString } from '../validate.js';
import { commandOutputTopic } from '../wire.js';
import type { ProcedureDeps } from './deps.js';

/** execute_cmd: how long a non-blocking command runs before its output is published (the Reagent's default). */
export const DEFAULT_COMMAND_WAIT_MS = 1000;
/** Bound of a blocking command when the caller gives none. */
export const BLOCKING_COMMAND_TIMEOUT_MS = 60_000;

function power(deps: ProcedureDeps, name: string, action: PowerAction): ProcedureDef {
  return {
    name,
    privilege: 'MAINTAIN',
    handle({ caller }) {
      deps.logger.warn({ action, caller: caller.authid, account: caller.account }, `${name} requested: acting in ${deps.powerDelayMs} ms`);
      // Answer first, act after: the caller should hear "accepted" before the link goes.
      deps.later(() => {
        deps.system.power(action).catch((err: unknown) => deps.logger.error({ err, action }, `${name} failed`));
      }, deps.powerDelayMs);
      return result();
    },
  };
}

export function systemProcedures(deps: ProcedureDeps): ProcedureDef[] {
  return [
    {
      name: 'device_handshake',
      privilege: 'READ',
      handle() {
        return result([], { utp: new Date(deps.clock.now()).toISOString(), id: deps.serial });
      },
    },
    {
      name: 'execute_cmd',
      privilege: 'MAINTAIN',
      async handle({ args, caller }) {
        const o = firstArgObject(args);
        const cmd = requireString(o, 'cmd', 'args[0].', { max: 4096 });
        const blocking = optionalBool(o, 'blocking', 'args[0].') ?? false;
        const list = optionalArray(o, 'args', 'args[0].', 256) ?? [];
        const cmdArgs = list.map((a, i) => {
          if (typeof a !== 'string' || a.length > 4096) throw fail(`args[0].args[${i}]`, 'a string of at most 4096 characters', a);
          return a;
        });
        const timeout = optionalUint(o, 'timeout', 'args[0].', 600_000);
        deps.logger.info({ cmd, args: cmdArgs.length, blocking, caller: caller.authid, account: caller.account }, 'execute_cmd');
        if (blocking) {
          const run = await deps.system.run(cmd, cmdArgs, timeout ?? BLOCKING_COMMAND_TIMEOUT_MS);
          return result([run.output]);
        }
        const started = deps.system.start(cmd, cmdArgs);
        deps.later(() => {
          const topic = commandOutputTopic(deps.serial, started.pid);
          for (const line of started.lines()) deps.publish(topic, [line]);
        }, timeout ?? DEFAULT_COMMAND_WAIT_MS);
        return result([{ pid: started.pid }]);
      },
    },
    {
      name: 'get_storage_data',
      privilege: 'READ',
      async handle() {
        return result([await storageData(deps.appsDir)]);
      },
    },
    {
      name: 'get_ipv4_addresses',
      privilege: 'READ',
      handle() {
        return result([ipv4Addresses()]);
      },
    },
    power(deps, 'system_reboot', 'reboot'),
    power(deps, 'system_shutdown', 'shutdown'),
    power(deps, 'system_restart_agent', 'restart-agent'),
  ];
}
