// The continuous disk guard of the Reagent (ironflock-reagent.md §7.5): the
// free space of Docker's data root (and of the apps dir, where the apps'
// /data and uploads grow) is checked every 5 minutes, every 5 seconds while
// in emergency. Crossing the minimum is an emergency: the app statecharts are
// told (DISK events, journaled), stop their running apps and refuse
// disk-growing transitions; the studio link reports EMERGENCY instead of
// CONNECTED. Back above it, the apps are told again and drive to their
// requested states. Only changes are announced.
import type { EngineLogger } from '../adapters/docker/types.js';
import { judgeDisk, type DiskThresholds } from './executors/disk-guard.js';
import { formatBytes } from '../adapters/docker/disk.js';

export interface DiskWatchTiming {
  /** REAGENT_DISK_CHECK_MS: between checks (the Reagent's 5 min). */
  checkMs: number;
  /** REAGENT_DISK_EMERGENCY_CHECK_MS: between checks while in emergency (the Reagent's 5 s). */
  emergencyCheckMs: number;
}

export const DEFAULT_DISK_WATCH: DiskWatchTiming = { checkMs: 5 * 60_000, emergencyCheckMs: 5_000 };

export interface DiskWatchDeps {
  thresholds: DiskThresholds;
  timing: DiskWatchTiming;
  /** The filesystems to watch (Docker's data root when the engine says, the apps dir). */
  paths(): Promise<string[]>;
  freeBytes(path: string): Promise<number>;
  /** An emergency began (true) or ended (false). */
  onChange(emergency: boolean, detail: string): void;
  logger: EngineLogger;
}

export class DiskWatch {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private state = false;
  private warned = false;

  constructor(private readonly deps: DiskWatchDeps) {}

  get emergency(): boolean {
    return this.state;
  }

  /** Checks now, then on the schedule. */
  start(): Promise<void> {
    this.stopped = false;
    return this.tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One check; exposed so a start (or a test) need not wait for the schedule. */
  async check(): Promise<void> {
    const paths = await this.deps.paths().catch(() => [] as string[]);
    // The tightest filesystem decides: each path is judged, the lowest free space wins.
    let worst: { level: string; message?: string; freeBytes?: number; path: string } | undefined;
    for (const path of paths) {
      const v = await judgeDisk('the apps', [path], this.deps.thresholds, this.deps.freeBytes);
      if (v.level === 'unknown') continue;
      if (!worst || (worst.freeBytes ?? Infinity) > v.freeBytes) worst = { ...v, path };
    }
    if (!worst) return; // nothing readable: the state stays as it was
    const emergency = worst.level === 'refuse';
    if (worst.level === 'warn' && !this.warned) this.deps.logger.warn({ path: worst.path, freeBytes: worst.freeBytes }, worst.message ?? 'disk space low');
    this.warned = worst.level === 'warn';
    if (emergency === this.state) return;
    this.state = emergency;
    const detail = emergency
      ? worst.message ?? 'disk space below the minimum'
      : `disk: ${formatBytes(worst.freeBytes ?? 0)} free on the filesystem of ${worst.path} again (minimum ${formatBytes(this.deps.thresholds.minBytes)})`;
    this.deps.onChange(emergency, detail);
  }

  private async tick(): Promise<void> {
    try {
      await this.check();
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'disk check failed');
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.state ? this.deps.timing.emergencyCheckMs : this.deps.timing.checkMs);
    this.timer.unref();
  }
}
