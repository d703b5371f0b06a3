// The Docker adapter's single entry point: a thin, typed layer over dockerode with
// the agent's conventions (names, labels, mounts, ownership checks) built in.
//
// Everything is injected (dockerode client, apps dir, arch, logger), so a daemon can
// run one per engine and tests can point one at a private dockerd. Each job lives in
// its own module; this class only binds them to one set of dependencies and keeps
// the per-container log-follow bookkeeping.

import path from 'node:path';
import type { EngineDeps, EngineLogger, OurContainer, RegistryCredentials } from './types.js';
import { EngineError, toEngineError } from './errors.js';
import { containerName, imageName, type ImageNameParts, type Stage } from './naming.js';
import { pingEngine } from './ping.js';
import { watchEvents, type EngineEvent, type EngineStateChange, type EventWatcher, type WatchOptions } from './engine-events.js';
import { pull, type PullProgress, type PullResult } from './pull.js';
import { buildFromTgz, type BuildOptions, type BuildProgress, type BuildResult } from './build.js';
import * as containers from './containers.js';
import type { RunSpec } from './containers.js';
import { imageExists, pruneImages, removeImage, type PruneResult } from './images.js';
import { followLogs, type FollowOptions, type FollowResult } from './logs.js';
import type { LogLine } from './log-lines.js';
import { checkDisk, freeBytes, type DiskCheck } from './disk.js';

export type { EngineDeps, EngineLogger, OurContainer, RegistryCredentials } from './types.js';
export type { EngineEvent, EngineStateChange, EventWatcher, WatchOptions } from './engine-events.js';
export type { PullProgress, PullResult } from './pull.js';
export type { BuildOptions, BuildProgress, BuildResult } from './build.js';
export type { RunSpec, PortSpec } from './containers.js';
export type { PruneResult } from './images.js';
export type { FollowOptions, FollowResult } from './logs.js';
export type { LogLine, LogStream } from './log-lines.js';
export type { DiskCheck } from './disk.js';
export { EngineError } from './errors.js';
export { NamingError } from './naming.js';

export class DockerEngine {
  private readonly deps: EngineDeps;
  private readonly following = new Set<string>();

  constructor(deps: EngineDeps) {
    if (!path.isAbsolute(deps.appsDir)) throw new EngineError('engine', `appsDir must be absolute, got ${JSON.stringify(deps.appsDir)}`);
    this.deps = { ...deps, appsDir: path.resolve(deps.appsDir) };
  }

  get appsDir(): string {
    return this.deps.appsDir;
  }

  get arch(): string {
    return this.deps.arch;
  }

  ping(timeoutMs?: number): Promise<void> {
    return pingEngine(this.deps.docker, timeoutMs);
  }

  /** Docker's data root (where images and container layers live), for the disk guard. */
  async dataRoot(): Promise<string> {
    try {
      const info = (await this.deps.docker.info()) as { DockerRootDir?: unknown };
      if (typeof info.DockerRootDir !== 'string') throw new EngineError('engine', 'info: no DockerRootDir');
      return info.DockerRootDir;
    } catch (err) {
      throw toEngineError(err, 'info');
    }
  }

  watchEvents(onEvent: (e: EngineEvent) => void, onState: (s: EngineStateChange) => void, opts?: WatchOptions): EventWatcher {
    return watchEvents(this.deps, onEvent, onState, opts);
  }

  pull(image: string, credentials: RegistryCredentials | undefined, onProgress: (p: PullProgress) => void, signal?: AbortSignal): Promise<PullResult> {
    return pull(this.deps, image, credentials, onProgress, signal);
  }

  buildFromTgz(tgzPath: string, tag: string, onProgress: (p: BuildProgress) => void, signal?: AbortSignal, opts?: BuildOptions): Promise<BuildResult> {
    return buildFromTgz(this.deps, tgzPath, tag, onProgress, signal, opts);
  }

  runApp(spec: RunSpec): Promise<{ id: string; name: string }> {
    return containers.runApp(this.deps, spec);
  }

  stop(name: string, timeoutSec?: number): Promise<void> {
    return containers.stop(this.deps, name, timeoutSec);
  }

  remove(name: string, opts?: { force?: boolean }): Promise<boolean> {
    return containers.remove(this.deps, name, opts);
  }

  uninstall(appKey: string | number, stage: Stage, appName: string): Promise<{ containerRemoved: boolean; dataDirRemoved: boolean }> {
    return containers.uninstall(this.deps, appKey, stage, appName);
  }

  listOurContainers(): Promise<OurContainer[]> {
    return containers.listOurContainers(this.deps);
  }

  imageExists(ref: string): Promise<boolean> {
    return imageExists(this.deps, ref);
  }

  removeImage(ref: string, opts?: { force?: boolean }): Promise<boolean> {
    return removeImage(this.deps, ref, opts);
  }

  pruneImages(opts?: { all?: boolean; label?: string }): Promise<PruneResult> {
    return pruneImages(this.deps, opts);
  }

  /**
   * Follows one container's output until it stops or `signal` fires. At most one
   * follow per container: a second one would publish every line twice.
   */
  async followLogs(container: string, onLines: (lines: LogLine[]) => void, signal?: AbortSignal, opts?: FollowOptions): Promise<FollowResult> {
    if (this.following.has(container)) throw new EngineError('conflict', `follow logs of ${container}: already being followed`);
    this.following.add(container);
    try {
      return await followLogs(this.deps, container, onLines, signal, opts);
    } finally {
      this.following.delete(container);
    }
  }

  isFollowingLogs(container: string): boolean {
    return this.following.has(container);
  }

  freeBytes(p: string): Promise<number> {
    return freeBytes(p);
  }

  checkDisk(p: string, thresholdBytes: number): Promise<DiskCheck> {
    return checkDisk(p, thresholdBytes);
  }

  containerName(stage: Stage, appKey: string | number, appName: string): string {
    return containerName(stage, appKey, appName);
  }

  /** Image name for this device's arch; registry/repository as configured. */
  imageName(parts: Omit<ImageNameParts, 'arch'>): string {
    return imageName({ ...parts, arch: this.deps.arch });
  }
}
