// Apps and the Docker engine: request_app_state, get_images, prune_images,
// list_containers. Docker itself is the apps link's business (AppsService).
import { result, type ProcedureDef } from '../device-api.js';
import { parseAppStateRequest } from '../request-app-state.js';
import { firstArgObject, isObj, optionalBool } from '../validate.js';
import type { ProcedureDeps } from './deps.js';

export function appProcedures(deps: ProcedureDeps): ProcedureDef[] {
  return [
    {
      name: 'request_app_state',
      privilege: 'DEVELOP',
      async handle({ args, kwargs }) {
        // The studio sends kwargs; a positional object is read the same way.
        const fromArgs = Object.keys(kwargs).length === 0 && isObj(args[0]);
        const raw = fromArgs ? (args[0] as Record<string, unknown>) : kwargs;
        const request = parseAppStateRequest(raw, fromArgs ? 'args[0].' : '');
        await deps.apps.requestAppState(request, 'studio');
        return result();
      },
    },
    {
      name: 'get_images',
      privilege: 'READ',
      async handle() {
        return result(await deps.apps.getImages());
      },
    },
    {
      name: 'prune_images',
      privilege: 'MAINTAIN',
      async handle({ args }) {
        const o = firstArgObject(args, true);
        const all = optionalBool(o, 'all', 'args[0].') ?? false;
        return result([await deps.apps.pruneImages({ all })]);
      },
    },
    {
      name: 'list_containers',
      privilege: 'READ',
      async handle() {
        return result([await deps.apps.listContainers()]);
      },
    },
  ];
}
