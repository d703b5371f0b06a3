// The first thing a start does (README, "Self-update"): read
// update-state.json and judge the update on probation, before the journal,
// the links or anything of the new version's own can fail. Run by the daemon
// itself and, under systemd, by the last good version as `reagent
// update-guard` (ExecStartPre=), which also covers a new version that
// crashes before it can run any of its own code.
import { guardAtStart, type StartRole, type UpdateState } from '../../machines/update-rules.js';
import type { UpdateProbation } from '../../machines/update.js';
import { UpdateLayout } from './layout.js';
import { readUpdateState, writeUpdateState } from './state-file.js';
import { rollBack } from './updater.js';

export type StartDecision =
  /** Start normally; `probation` when this start is a new version to be judged. */
  | { action: 'start'; probation: UpdateProbation | null; blacklist: string[]; note: string | null }
  /** The new version used up its starts and was rolled back: start the restored one instead. */
  | { action: 'restart'; note: string };

export interface GuardOptions {
  agentDir: string;
  role: StartRole;
  version: string;
  /** systemd's INVOCATION_ID (one per service start, shared by ExecStartPre and ExecStart). */
  invocation: string | null;
  now: string;
}

export function guardStart(opts: GuardOptions): StartDecision {
  const layout = new UpdateLayout(opts.agentDir);
  const read = readUpdateState(layout.stateFile);
  if (!read.ok) return { action: 'start', probation: null, blacklist: [], note: `update state ignored: ${read.error}` };
  const state: UpdateState | null = read.state;
  const verdict = guardAtStart({ state, role: opts.role, version: opts.version, invocation: opts.invocation, currentTarget: layout.target('current'), now: opts.now });
  const blacklist = state?.blacklist ?? [];
  switch (verdict.kind) {
    case 'none':
      if (verdict.state) writeUpdateState(layout.stateFile, verdict.state);
      return { action: 'start', probation: null, blacklist, note: verdict.state?.reason ?? null };
    case 'bystander':
      return { action: 'start', probation: null, blacklist, note: verdict.note };
    case 'rollback': {
      const done = rollBack(layout, { ...verdict.state, phase: 'probation' }, verdict.state.reason ?? 'probation failed', opts.now);
      return { action: 'restart', note: `update rolled back: ${done.reason}` };
    }
    case 'probation': {
      const s = verdict.state;
      writeUpdateState(layout.stateFile, s);
      return {
        action: 'start',
        probation: { from: s.from, to: s.to, probationMs: s.probationMs, links: s.links, linksMode: s.linksMode },
        blacklist,
        note: `${s.to} is on probation (start ${s.attempts}): it must become ready${s.links.length ? ` with ${s.linksMode === 'all' ? 'its links' : 'a link'} (${s.links.join(', ')}) up` : ''} within ${Math.round(s.probationMs / 1000)} s`,
      };
    }
  }
}
