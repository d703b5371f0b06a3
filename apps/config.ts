// Settings of the apps link: from flags and the .flock (apps dir, build
// archive extension, registry), from the environment (device tuning knobs),
// and overrides for tests and benchmarks. Bad environment values stop the
// start with a message naming the variable.

import type { AppPolicy } from '../machines/app.js';
import { DEFAULT_APP_POLICY } from '../machines/app.js';
import type { WatchOptions } from '../adapters/docker/engine-events.js';
import { DEFAULT_DISK_THRESHOLDS, type DiskThresholds } from './executors/disk-guard.js';
import type { RegistryDefaults } from './request.js';
import { DEFAULT_DISK_WATCH, type DiskWatchTiming } from './disk-watch.js';
import { childEnv } from '../adapters/compose/cli.js';

export interface LogSettings {
  /** Lines of history kept per app (the Reagent's 100). */
  historyLines: number;
  /** Batches for the studio link: one per interval, at most this many bytes each. */
  batchIntervalMs: number;
  maxBatchBytes: number;
  /** Bytes buffered per app between two batches; beyond it lines are counted as dropped. */
  maxBufferBytes: number;
}

export interface AppsSettings {
  appsDir: string;
  buildExtension: string;
  arch: string;
  registry: RegistryDefaults;
  networkMode: string;
  stopTimeoutSec: number;
  disk: DiskThresholds;
  /** How often the continuous disk guard looks (REAGENT_DISK_CHECK_MS, REAGENT_DISK_EMERGENCY_CHECK_MS). */
  diskWatch: DiskWatchTiming;
  policy: AppPolicy;
  logs: LogSettings;
  /** Minimum time between two OP_PROGRESS events of one pull or build. */
  progressIntervalMs: number;
  /** How long the start waits for Docker to answer before going on without it. */
  engineWaitMs: number;
  /** How long the start waits for the apps to settle before the network links start. */
  bootSettleMs: number;
  watch?: WatchOptions;
  /** What the compose CLI gets of the daemon's environment (DOCKER_HOST, PATH, HOME: see compose/cli.ts). */
  composeEnv: NodeJS.ProcessEnv;
  /** Bound of one compose CLI run. */
  composeTimeoutMs: number;
}

export const DEFAULT_LOG_SETTINGS: LogSettings = {
  historyLines: 100,
  batchIntervalMs: 200,
  maxBatchBytes: 256 * 1024,
  maxBufferBytes: 1024 * 1024,
};

const MiB = 1024 * 1024;

export type SettingsResult = { ok: true; settings: AppsSettings } | { ok: false; error: string };

/** "https://registry.example.com/" → "registry.example.com/": image names carry no scheme. */
export function registryPrefix(url: string | undefined): string {
  if (!url) return '';
  return url.trim().replace(/^[a-z]+:\/\//i, '');
}

function uintVar(env: NodeJS.ProcessEnv, name: string, fallback: number, what: string): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new Error(`${name}=${JSON.stringify(raw)}: expected a non-negative integer (${what})`);
  return Number(raw);
}

/** REAGENT_DISK_WARN_MIB / REAGENT_DISK_MIN_MIB; throws with the variable named. */
export function diskThresholdsFromEnv(env: NodeJS.ProcessEnv): DiskThresholds {
  const warnMiB = uintVar(env, 'REAGENT_DISK_WARN_MIB', DEFAULT_DISK_THRESHOLDS.warnBytes / MiB, 'MiB free below which pulls and builds warn');
  const minMiB = uintVar(env, 'REAGENT_DISK_MIN_MIB', DEFAULT_DISK_THRESHOLDS.minBytes / MiB, 'MiB free below which pulls, builds and uploads are refused');
  if (minMiB > warnMiB) throw new Error(`REAGENT_DISK_MIN_MIB (${minMiB}) must not exceed REAGENT_DISK_WARN_MIB (${warnMiB})`);
  return { warnBytes: warnMiB * MiB, minBytes: minMiB * MiB };
}

export function appsSettings(
  base: { appsDir: string; buildExtension: string; arch: string; registryUrl?: string; repository?: string },
  env: NodeJS.ProcessEnv,
  overrides: Partial<AppsSettings> = {},
): SettingsResult {
  try {
    const network = env['REAGENT_APP_NETWORK'] ?? 'bridge';
    // bridge (the Reagent's), host, none, or the name of a user-defined network (ports are published on it too).
    if (!['bridge', 'host', 'none'].includes(network) && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(network)) {
      throw new Error(`REAGENT_APP_NETWORK=${JSON.stringify(network)}: expected bridge, host, none or the name of a Docker network`);
    }
    const disk = diskThresholdsFromEnv(env);
    const diskWatch: DiskWatchTiming = {
      checkMs: uintVar(env, 'REAGENT_DISK_CHECK_MS', DEFAULT_DISK_WATCH.checkMs, 'ms between disk checks'),
      emergencyCheckMs: uintVar(env, 'REAGENT_DISK_EMERGENCY_CHECK_MS', DEFAULT_DISK_WATCH.emergencyCheckMs, 'ms between disk checks in a disk emergency'),
    };
    if (diskWatch.checkMs < 100) throw new Error(`REAGENT_DISK_CHECK_MS=${diskWatch.checkMs}: expected at least 100`);
    if (diskWatch.emergencyCheckMs < 100) throw new Error(`REAGENT_DISK_EMERGENCY_CHECK_MS=${diskWatch.emergencyCheckMs}: expected at least 100`);
    const historyLines = uintVar(env, 'REAGENT_APP_LOG_LINES', DEFAULT_LOG_SETTINGS.historyLines, 'lines of log history kept per app');
    if (historyLines < 1 || historyLines > 10_000) throw new Error(`REAGENT_APP_LOG_LINES=${historyLines}: expected 1 to 10000`);
    const stopTimeoutSec = uintVar(env, 'REAGENT_APP_STOP_TIMEOUT', 10, 'seconds between SIGTERM and SIGKILL when an app stops');
    const settings: AppsSettings = {
      appsDir: base.appsDir,
      buildExtension: base.buildExtension,
      arch: base.arch,
      registry: { registry: registryPrefix(base.registryUrl), repository: base.repository ?? '' },
      networkMode: network,
      stopTimeoutSec,
      disk,
      diskWatch,
      policy: DEFAULT_APP_POLICY,
      logs: { ...DEFAULT_LOG_SETTINGS, historyLines },
      progressIntervalMs: 1000,
      engineWaitMs: 10_000,
      bootSettleMs: 15_000,
      composeEnv: childEnv(env),
      composeTimeoutMs: 600_000,
      ...overrides,
    };
    return { ok: true, settings };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
