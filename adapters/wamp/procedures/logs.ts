// Logs: get_app_log_history, query_app_logs (the apps link answers both) and
// query_device_logs (the agent's own rotated JSON log).
import { NamingError, validateContainerName } from '../../docker/naming.js';
import { DEVICE_LOG_LIMITS, DeviceLogQueries, LEVELS, type Level } from '../device-logs.js';
import { result, type ProcedureDef } from '../device-api.js';
import { parseWindow } from '../time-window.js';
import { fail, firstArgObject, optionalBool, toUint, type Obj } from '../validate.js';
import type { ProcedureDeps } from './deps.js';

export const APP_LOG_LIMITS = { defaultTail: 200, maxLines: 5000 } as const;

function containerName(o: Obj): string {
  try {
    return validateContainerName(o.containerName);
  } catch (err) {
    if (err instanceof NamingError) throw fail('args[0].containerName', err.expected, o.containerName);
    throw err;
  }
}

function count(o: Obj, key: string, fallback: number, max: number): number {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  const n = toUint(v);
  if (n === undefined) throw fail(`args[0].${key}`, `a non-negative integer (at most ${max} is used)`, v);
  return Math.min(n, max);
}

export function logProcedures(deps: ProcedureDeps): ProcedureDef[] {
  const deviceLogs = new DeviceLogQueries(deps.logFile);
  return [
    {
      name: 'get_app_log_history',
      privilege: 'READ',
      async handle({ args }) {
        const name = containerName(firstArgObject(args));
        return result([await deps.apps.appLogHistory(name)]);
      },
    },
    {
      name: 'query_app_logs',
      privilege: 'READ',
      async handle({ args }) {
        const o = firstArgObject(args);
        const now = deps.clock.now();
        const query = {
          containerName: containerName(o),
          tail: count(o, 'tail', APP_LOG_LIMITS.defaultTail, APP_LOG_LIMITS.maxLines),
          offset: count(o, 'offset', 0, APP_LOG_LIMITS.maxLines),
          timestamps: optionalBool(o, 'timestamps', 'args[0].') ?? true,
          ...parseWindow(o, 'args[0].', now),
        };
        return result([await deps.apps.queryAppLogs(query)]);
      },
    },
    {
      name: 'query_device_logs',
      privilege: 'READ',
      async handle({ args }) {
        const o = firstArgObject(args, true);
        const now = deps.clock.now();
        const levelRaw = o.level;
        let level: Level | undefined;
        if (levelRaw !== undefined && levelRaw !== null && levelRaw !== '') {
          const l = typeof levelRaw === 'string' ? levelRaw.toLowerCase() : levelRaw;
          if (typeof l !== 'string' || !(LEVELS as readonly string[]).includes(l)) throw fail('args[0].level', `one of ${LEVELS.join(', ')}`, levelRaw);
          level = l as Level;
        }
        const q = {
          tail: count(o, 'tail', DEVICE_LOG_LIMITS.defaultTail, DEVICE_LOG_LIMITS.maxLines),
          ...(level ? { level } : {}),
          ...parseWindow(o, 'args[0].', now),
        };
        return result([await deviceLogs.query(q, now)]);
      },
    },
  ];
}
