// What the studio link's procedures need from the self-update
// (update_agent, get_agent_metadata, the agent_update_progress topic).
import type { Progress } from './updater.js';

/** The Reagent's `UpdateResult`, serialized with its Go field names (it has no json tags). */
export interface UpdateResult {
  CurrentVersion: string;
  LatestVersion: string;
  Message: string;
  DidAgentUpdate: boolean;
  DidTunnelUpdate: boolean;
  DidUpdate: boolean;
  InProgress: boolean;
  TotalFileSize: number;
  [k: string]: string | number | boolean;
}

export interface UpdateMetadata {
  canUpdate: boolean;
  /** '' when the manifest cannot be read now. */
  latestVersion: string;
  /** True only when the running version is known to be the latest. */
  hasLatest: boolean;
}

export interface AgentUpdates {
  /** Checks for a newer version and installs it; resolves once it is installed (the restart follows) or nothing is to be done. */
  update(): Promise<UpdateResult>;
  metadata(): Promise<UpdateMetadata>;
  /** Download progress of any update (start-up or studio). */
  onProgress(listener: (p: Progress) => void): () => void;
}
