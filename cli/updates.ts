// The self-update at the command line: the start guard (first thing a daemon
// start does), the update link with its updater, and `reagent update-guard`
// (systemd's ExecStartPre=, run by the last good version).
import { isSea } from 'node:sea';
import type { Flags } from './flags.js';
import type { FlockConfig } from '../config/flock.js';
import { agentArch } from './version.cjs';
import { isSemver, updateChannel, type Channel } from '../machines/update-rules.js';
import { guardStart } from '../adapters/update/guard.js';
import { refuseUpdateUrl } from '../adapters/update/fetch.js';
import { Updater } from '../adapters/update/updater.js';
import { UpdateLink } from '../adapters/update/update-link.js';

/** The Reagent's 2 minutes for a new version to become ready (REAGENT_UPDATE_PROBATION_S changes it). */
export const DEFAULT_PROBATION_MS = 120_000;
/** Architectures single executables are published for (the Reagent's names). */
const ARCHES = ['amd64', 'arm64', 'armv7'];

export interface UpdateSetup {
  argv: readonly string[];
  flags: Flags;
  flock: FlockConfig | undefined;
  env: NodeJS.ProcessEnv;
  version: string;
  /** systemd runs us (NOTIFY_SOCKET or INVOCATION_ID): hand over by exiting. */
  supervised: boolean;
  /** Network links this daemon runs. */
  networkLinks: readonly string[];
  now: string;
}

export type Prepared =
  /** `onProbation`: this start is a new version being judged. */
  | { kind: 'start'; link: UpdateLink; notes: string[]; onProbation: boolean }
  | { kind: 'restart'; note: string; link: UpdateLink };

/** Why this agent cannot replace itself, or null. */
export function cannotSelfUpdate(version: string, baseUrl: string, sea: boolean = isSea()): string | null {
  if (!sea) return 'it runs from a checkout (node dist/cli/main.cjs), not a single executable; update the checkout with git and npm, or install a single executable (npm run package)';
  if (!ARCHES.includes(agentArch())) return `no builds are published for ${agentArch()}`;
  if (!isSemver(version)) return `its version ${JSON.stringify(version)} is not x.y.z`;
  const refused = refuseUpdateUrl(`${baseUrl.replace(/\/+$/, '')}/re-agent/availableVersions.json`);
  return refused ? `the update URL is refused: ${refused}` : null;
}

export function probationMsFromEnv(env: NodeJS.ProcessEnv): number | string {
  const raw = env.REAGENT_UPDATE_PROBATION_S;
  if (raw === undefined || raw === '') return DEFAULT_PROBATION_MS;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 3600) return `REAGENT_UPDATE_PROBATION_S: expected seconds from 1 to 3600, got ${JSON.stringify(raw.slice(0, 32))}`;
  return Number(raw) * 1000;
}

/** Runs the start guard and builds the update link. */
export function prepareUpdates(s: UpdateSetup, probationMs: number): Prepared {
  const baseUrl = s.flock?.update_url ?? s.flags.remoteUpdateURL;
  const channel: Channel = updateChannel({
    flockEnvironment: s.flock?.environment,
    endpoint: s.flock?.device_endpoint_url,
    envFlag: s.flags.env,
    envFlagGiven: s.argv.some((a) => /^--?env(=|$)/.test(a)),
  });
  const sea = isSea();
  const cannot = cannotSelfUpdate(s.version, baseUrl, sea);
  const updater = new Updater({ agentDir: s.flags.agentDir, baseUrl, channel, arch: agentArch(), current: s.version, executable: process.execPath });
  // A checkout is never a version on probation: only single executables are swapped.
  const decision = sea ? guardStart({ agentDir: s.flags.agentDir, role: 'daemon', version: s.version, invocation: s.env.INVOCATION_ID ?? null, now: s.now }) : { action: 'start' as const, probation: null, blacklist: [], note: null };
  const link = new UpdateLink({
    current: s.version,
    updater,
    cannotUpdate: cannot,
    probation: decision.action === 'start' ? decision.probation : null,
    blacklist: decision.action === 'start' ? decision.blacklist : [],
    checkAtStart: s.flags.update && !s.flags.offline,
    networkLinks: s.networkLinks,
    supervised: s.supervised,
    probationMs,
    restartDelayMs: 1000,
    args: s.argv,
  });
  if (decision.action === 'restart') return { kind: 'restart', note: decision.note, link };
  return { kind: 'start', link, notes: decision.note ? [decision.note] : [], onProbation: decision.action === 'start' && decision.probation !== null };
}

/** `reagent update-guard`: judge the update on probation before the daemon starts; always exit 0 (a failing pre-start step would keep the agent down). */
export function runUpdateGuard(flags: Flags, env: NodeJS.ProcessEnv, version: string, out: (t: string) => void): number {
  try {
    const d = guardStart({ agentDir: flags.agentDir, role: 'guard', version, invocation: env.INVOCATION_ID ?? null, now: new Date().toISOString() });
    out(`reagent update-guard: ${d.note ?? 'no update on probation'}`);
  } catch (err) {
    out(`reagent update-guard: ${(err as Error).message}`);
  }
  return 0;
}
