// The agent's own version: get_agent_metadata (READ) and update_agent
// (MAINTAIN), the Reagent's procedures. update_agent answers once the new
// version is installed (or nothing is to be done), with the Reagent's
// UpdateResult and its Go field names; the restart into the new version
// follows the answer. Download progress goes to agent_update_progress.
import { result, type ProcedureDef } from '../device-api.js';
import { deviceArch, osVersion } from '../host-info.js';
import type { AgentUpdates, UpdateMetadata, UpdateResult } from '../../update/service.js';
import type { ProcedureDeps } from './deps.js';

export function updateProcedures(deps: ProcedureDeps, updates: AgentUpdates | undefined): ProcedureDef[] {
  return [
    {
      name: 'get_agent_metadata',
      privilege: 'READ',
      async handle() {
        const a = deviceArch();
        const u: UpdateMetadata = updates ? await updates.metadata() : { canUpdate: false, latestVersion: '', hasLatest: false };
        return result([
          {
            os: a.os,
            arch: a.arch,
            variant: a.variant,
            version: deps.agentVersion,
            serialNumber: deps.serial,
            canUpdate: u.canUpdate,
            OSVersion: osVersion(),
            // Tunnels (frp) are not part of this agent.
            tunnelCapable: false,
            latestVersion: u.latestVersion,
            latestTunnelVersion: '',
            latestAgentVersion: u.latestVersion,
            hasLatest: u.hasLatest,
          },
        ]);
      },
    },
    {
      name: 'update_agent',
      privilege: 'MAINTAIN',
      async handle({ caller }) {
        deps.logger.warn({ caller: caller.authid, account: caller.account }, 'update_agent requested');
        const r: UpdateResult = updates
          ? await updates.update()
          : { CurrentVersion: deps.agentVersion, LatestVersion: '', Message: 'this agent cannot update itself', DidAgentUpdate: false, DidTunnelUpdate: false, DidUpdate: false, InProgress: false, TotalFileSize: 0 };
        return result([r]);
      },
    },
  ];
}
