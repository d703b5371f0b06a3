// The `docker` command handler: runs the app statechart's Docker operations
// through DockerEngine and answers each with OP_SUCCEEDED or OP_FAILED, its
// `op` and `opId` echoed (the contract is in the header of `AppCommand`,
// machines/app.ts). One lane per app keeps an app's operations in order and
// one at a time; different apps proceed in parallel.
//
// Pulls and builds are preceded by the disk check and report progress twice:
// as OP_PROGRESS events (at most one per interval, they are journaled) and as
// lines in the app's log history (what a person reads afterwards). Registry
// credentials are asked for at the moment of the pull; they never travel in a
// command, an event or a log line.

import { existsSync } from 'node:fs';
import type Dockerode from 'dockerode';
import type { DockerOp } from '../../machines/app-planner.js';
import { AppId } from '../../machines/app-id.js';
import type { AppInbound } from '../../machines/app.js';
import type { DockerEngine } from '../../adapters/docker/engine.js';
import type { EngineLogger, RegistryCredentials } from '../../adapters/docker/types.js';
import type { CredentialLookup } from '../credentials.js';
import { appUploadDir, type AppIdentity } from '../../adapters/docker/naming.js';
import { removeAppDir } from '../../adapters/docker/app-dirs.js';
import { EngineError } from '../../adapters/docker/errors.js';
import { dockerCommandOf, type AppDockerCommand, type DockerCommand } from './app-commands.js';
import { SerialLanes } from './op-queue.js';
import { appImageRef, buildArchivePathFor, registryHostOf, type AppRuntimeSpec } from './app-image.js';
import { judgeDisk, type DiskThresholds } from './disk-guard.js';
import { PullTally, Throttle } from './op-progress.js';
import { pushImage, tagImage } from '../../adapters/docker/push.js';
import type { ComposeOps } from './compose-ops.js';
import { portEnv } from '../ports.js';
import { writeEnvFiles } from '../env-files.js';

/** Where app events go: the actor system (or anything with its `send`), typed to the app machine's events. */
export interface EventSink {
  send(to: AppId, source: string, event: AppInbound): void;
}

/** The app's log history and live log stream, as far as Docker operations write to it. */
export interface AppLogSink {
  /** An agent message about the app, e.g. "Starting image build…". */
  agent(container: string, text: string): void;
  /** Lines of pull, build or push output. */
  progress(container: string, lines: string[]): void;
  /** An operation ended: a good moment to persist the history. */
  settle(container: string): void;
}

/** Engine liveness as the handler needs it: whether a failure was really the engine going away. */
export interface EngineHealth {
  /**
   * The engine may be gone. Returns true, after sending the app ENGINE_DOWN,
   * when it is unreachable; false when it answers.
   */
  confirmDown(actorId: string, err: unknown): Promise<boolean>;
}

export interface DockerCommandOptions {
  /** Docker network mode of app containers ("bridge" like the Reagent; "host" or "none"). */
  networkMode: string;
  /** Grace period between SIGTERM and SIGKILL when an app stops. */
  stopTimeoutSec: number;
  /** Extension of DEV build archives (`-compressedBuildExtension`). */
  buildExtension: string;
  disk: DiskThresholds;
  /** Minimum time between two OP_PROGRESS events of one operation. */
  progressIntervalMs: number;
}

export interface DockerCommandDeps {
  events: EventSink;
  engine: DockerEngine;
  /** The same engine's client, for the few calls DockerEngine does not wrap (tag, push, image lists). */
  docker: Dockerode;
  specOf(actorId: string): AppRuntimeSpec;
  /** Asked at every pull and push; asking again after an authentication failure is the token refresh. */
  credentialsFor(actorId: string, app: AppIdentity, registryHost: string | undefined): Promise<CredentialLookup>;
  /** Per-app variables added to the container's environment at creation (APP_AUTH_ID/SECRET); never journaled. */
  extraEnv?(actorId: string, app: AppIdentity): Record<string, string>;
  logs: AppLogSink;
  health: EngineHealth;
  /** Runs the operations of compose apps (those whose spec has a compose file). */
  compose?: ComposeOps;
  /** A container of ours was (re)created and started: its logs can be followed. */
  onContainerStarted?(container: string, containerId: string): void;
  logger: EngineLogger;
  /** Scrubs known secrets out of texts that leave the handler (reasons, progress lines). */
  redact(text: string): string;
  now(): number;
  options: DockerCommandOptions;
}

/** Failures decided before Docker was asked: never the engine's absence. */
class OpRefused extends Error {}

const SOURCE = 'docker';
const SHUTDOWN = 'the agent is stopping';

interface OpTag {
  op: DockerOp | 'prune-old-image';
  opId: number;
}

export class DockerCommands {
  private readonly lanes = new SerialLanes<OpTag>();
  private dataRoot: Promise<string | undefined> | undefined;

  constructor(private readonly deps: DockerCommandDeps) {}

  /** For `system.handle('docker', …)`: the app machine's commands, typed as it emits them. */
  readonly handle = (command: DockerCommand, actorId: AppId): void => {
    this.dispatch(dockerCommandOf(command), actorId);
  };

  /** Aborts what runs, drops what waits (without answering: the system is going down), refuses more. */
  close(): void {
    this.lanes.close(SHUTDOWN);
  }

  /** Resolves when no operation runs any more (bounded). */
  idle(timeoutMs?: number): Promise<void> {
    return this.lanes.idle(timeoutMs);
  }

  busy(actorId: string): boolean {
    return this.lanes.busy(actorId);
  }

  private dispatch(c: AppDockerCommand, actorId: string): void {
    // The actor id is derived, not trusted: a command is about the app it names.
    const actor = AppId.format(c.app.stage, c.app.appKey);
    if (actor !== actorId) {
      this.deps.logger.warn({ actor: actorId, named: actor }, 'Docker command names another app than its actor; using the named app');
    }
    if (c.kind === 'cancel') {
      const where = this.lanes.cancel(actor, (t) => t.op === c.op && t.opId === c.opId);
      this.deps.logger.info({ actor, op: c.op, opId: c.opId, where }, 'cancel requested');
      return;
    }
    if (c.kind === 'prune-old-image') {
      this.lanes.enqueue(actor, {
        tag: { op: 'prune-old-image', opId: -1 },
        run: () => this.pruneOldImage(c),
        dropped: () => undefined,
      });
      return;
    }
    this.lanes.enqueue(actor, {
      tag: { op: c.op, opId: c.opId },
      run: (signal) => this.execute(c, actor, signal),
      dropped: (reason) => {
        if (reason !== SHUTDOWN) this.send(actor, { type: 'OP_FAILED', op: c.op, opId: c.opId, reason });
      },
    });
  }

  private async execute(c: Extract<AppDockerCommand, { kind: 'op' }>, actor: AppId, signal: AbortSignal): Promise<void> {
    let container: string;
    try {
      container = this.deps.engine.containerName(c.app.stage, c.app.appKey, c.app.appName);
    } catch (err) {
      // Only a bug gets here (names are checked where a request enters); the machine still gets its answer.
      const reason = `docker.${c.op}: ${err instanceof Error ? err.message : String(err)}`;
      this.deps.logger.error({ actor, op: c.op, opId: c.opId, error: reason }, 'refused a Docker command for an app name Docker cannot use');
      this.send(actor, { type: 'OP_FAILED', op: c.op, opId: c.opId, reason });
      return;
    }
    const t0 = this.deps.now();
    try {
      const result = await this.runOp(c, actor, container, signal);
      this.deps.logger.info({ actor, op: c.op, opId: c.opId, ms: this.deps.now() - t0 }, 'Docker operation succeeded');
      this.send(actor, { type: 'OP_SUCCEEDED', op: c.op, opId: c.opId, ...(result.containerId ? { containerId: result.containerId } : {}) });
    } catch (err) {
      if (signal.aborted) {
        const why = signal.reason instanceof Error ? signal.reason.message : 'canceled';
        if (why === SHUTDOWN) return;
        this.deps.logs.agent(container, `${c.op} canceled`);
        this.send(actor, { type: 'OP_FAILED', op: c.op, opId: c.opId, reason: 'canceled' });
        return;
      }
      const reason = this.deps.redact(err instanceof Error ? err.message : String(err));
      // ENGINE_DOWN goes first, so the machine waits for Docker instead of failing the app.
      if (!(err instanceof OpRefused)) await this.deps.health.confirmDown(actor, err);
      this.deps.logger.warn({ actor, op: c.op, opId: c.opId, reason }, 'Docker operation failed');
      this.deps.logs.agent(container, `${c.op} failed: ${reason}`);
      this.send(actor, { type: 'OP_FAILED', op: c.op, opId: c.opId, reason });
    } finally {
      this.deps.logs.settle(container);
    }
  }

  private runOp(
    c: Extract<AppDockerCommand, { kind: 'op' }>,
    actor: AppId,
    container: string,
    signal: AbortSignal,
  ): Promise<{ containerId?: string }> {
    const spec = this.spec(actor);
    if (spec.compose) {
      if (!this.deps.compose) return Promise.reject(new OpRefused('compose apps are not supported by this agent'));
      return this.deps.compose.execute(c.op, c.app, container, spec, signal).then(() => ({}));
    }
    switch (c.op) {
      case 'pull':
        return this.pull(c, actor, container, signal);
      case 'build':
        return this.build(c, actor, container, signal).then(() => ({}));
      case 'publish':
        return this.publish(c, actor, container, signal);
      case 'run':
        return this.run(c, actor, container);
      case 'stop':
        return this.stop(container);
      case 'remove':
        return this.remove(c.app, actor, container);
      case 'uninstall':
        return this.uninstall(c.app, actor, container);
    }
  }

  private spec(actor: string): AppRuntimeSpec {
    return this.deps.specOf(actor);
  }

  private async pull(c: Extract<AppDockerCommand, { kind: 'op' }>, actor: AppId, container: string, signal: AbortSignal) {
    if (c.app.stage === 'PROD' && c.version === null) throw new OpRefused('no version to pull: the request named none');
    const image = appImageRef(this.deps.engine.arch, this.spec(actor), c.app, c.version);
    if (await this.deps.engine.imageExists(image)) {
      this.deps.logs.agent(container, `Image ${image} is already on the device`);
      return {};
    }
    await this.checkDisk(`pulling ${image}`, container);
    const host = registryHostOf(image);
    const login = await this.deps.credentialsFor(actor, c.app, host);
    this.deps.logs.agent(container, `Pulling image ${image}…`);
    const tally = new PullTally();
    const throttle = new Throttle(this.deps.options.progressIntervalMs, this.deps.now);
    const attempt = (credentials: RegistryCredentials | undefined) =>
      this.deps.engine.pull(
        image,
        credentials,
        (p) => {
          const line = tally.add(p);
          if (line !== undefined) this.deps.logs.progress(container, [this.deps.redact(line)]);
          if (throttle.ready()) this.send(actor, { type: 'OP_PROGRESS', op: 'pull', opId: c.opId, ...tally.summary() });
        },
        signal,
      );
    const result = await this.withLogin(attempt, login, actor, c.app, host, container, signal);
    this.deps.logs.agent(container, `Image pulled${result.digest ? ` (${result.digest})` : ''}`);
    return {};
  }

  /**
   * Runs a registry operation with `login`. A token login the registry refuses
   * is asked for once more (the Reagent's refresh) and tried again; after that,
   * or without any login, the registry's own reason fails the operation. An
   * anonymous attempt refused for want of a login says which registry and why
   * no token could be had (the studio link offline, the backend refusing).
   */
  private async withLogin<T>(
    attempt: (credentials: RegistryCredentials | undefined) => Promise<T>,
    login: CredentialLookup,
    actor: string,
    app: AppIdentity,
    host: string | undefined,
    container: string,
    signal: AbortSignal,
  ): Promise<T> {
    try {
      return await attempt(login.credentials);
    } catch (err) {
      if (signal.aborted || !(err instanceof EngineError && err.code === 'unauthorized')) throw err;
      if (login.from === 'token') {
        this.deps.logger.warn({ actor, registry: host }, 'the registry refused the token login; asking for a new token once');
        this.deps.logs.agent(container, `Registry ${host} refused the login; fetching a new registry token`);
        const again = await this.deps.credentialsFor(actor, app, host);
        if (again.credentials) return await attempt(again.credentials);
        throw new OpRefused(`registry ${host} refused the login (${err.message}) and no new token could be had: ${again.problem ?? 'none offered'}`);
      }
      if (login.from === 'none' && host !== undefined) {
        throw new OpRefused(`registry ${host} needs a login: the request carried no docker_credentials for it and no registry token could be had (${login.problem ?? 'none offered'}); the registry said: ${err.message}`);
      }
      throw err;
    }
  }

  private async build(c: Extract<AppDockerCommand, { kind: 'op' }>, actor: AppId, container: string, signal: AbortSignal, tag?: string) {
    const archive = buildArchivePathFor(this.deps.engine.appsDir, c.app, this.deps.options.buildExtension);
    if (!existsSync(archive)) throw new OpRefused(`no build archive at ${archive}: the app's sources have not been uploaded`);
    await this.checkDisk('building the image', container);
    const image = tag ?? appImageRef(this.deps.engine.arch, this.spec(actor), c.app, null, 'DEV');
    this.deps.logs.agent(container, 'Starting image build…');
    const throttle = new Throttle(this.deps.options.progressIntervalMs, this.deps.now);
    let lines = 0;
    const result = await this.deps.engine.buildFromTgz(
      archive,
      image,
      (p) => {
        lines++;
        const line = this.deps.redact(p.line);
        this.deps.logs.progress(container, [line]);
        if (throttle.ready()) this.send(actor, { type: 'OP_PROGRESS', op: c.op, opId: c.opId, lines, line: line.slice(0, 200) });
      },
      signal,
    );
    this.deps.logs.agent(container, `Image build finished (${result.dockerfile})`);
  }

  private async publish(c: Extract<AppDockerCommand, { kind: 'op' }>, actor: AppId, container: string, signal: AbortSignal) {
    if (c.version === null) throw new OpRefused('no version to publish: the request named none');
    const spec = this.spec(actor);
    const dev = appImageRef(this.deps.engine.arch, spec, c.app, null, 'DEV');
    const release = appImageRef(this.deps.engine.arch, spec, c.app, c.version, 'PROD');
    if (!(await this.deps.engine.imageExists(dev))) await this.build(c, actor, container, signal);
    await tagImage(this.deps.docker, dev, release);
    const host = registryHostOf(release);
    const login = await this.deps.credentialsFor(actor, c.app, host);
    this.deps.logs.agent(container, `Pushing release image ${release}…`);
    const attempt = (credentials: RegistryCredentials | undefined) =>
      pushImage(this.deps.docker, release, credentials, (line) => this.deps.logs.progress(container, [this.deps.redact(line)]), signal, this.deps.logger);
    await this.withLogin(attempt, login, actor, c.app, host, container, signal);
    this.deps.logs.agent(container, `Release ${c.version} published`);
    return {};
  }

  private async run(c: Extract<AppDockerCommand, { kind: 'op' }>, actor: AppId, container: string) {
    const spec = this.spec(actor);
    const image = appImageRef(this.deps.engine.arch, spec, c.app, c.version);
    if (!(await this.deps.engine.imageExists(image))) throw new OpRefused(`image ${image} is not on the device`);
    this.deps.logs.agent(container, 'Now running app…');
    // §7.2: the port variables in the environment and as files in /data/env.
    const ports = portEnv(spec.ports);
    if (Object.keys(ports).length) await writeEnvFiles(this.deps.engine.appsDir, c.app, ports);
    const { id } = await this.deps.engine.runApp({
      appKey: c.app.appKey,
      stage: c.app.stage,
      appName: c.app.appName,
      image,
      env: { ...spec.env, ...ports, ...this.deps.extraEnv?.(actor, c.app) },
      ports: spec.ports,
      networkMode: this.deps.options.networkMode,
      stopTimeoutSec: this.deps.options.stopTimeoutSec,
      replace: true,
    });
    this.deps.onContainerStarted?.(container, id);
    return { containerId: id };
  }

  /** PRESENT means "image, no container": stop removes the container too. */
  private async stop(container: string) {
    try {
      await this.deps.engine.stop(container, this.deps.options.stopTimeoutSec);
    } catch (err) {
      if (!(err instanceof EngineError && err.code === 'not-found')) throw err;
    }
    await this.deps.engine.remove(container, { force: true });
    return {};
  }

  private async remove(app: AppIdentity, actor: string, container: string) {
    await this.deps.engine.remove(container, { force: true });
    const removed = await this.removeAppImages(app, actor);
    this.deps.logs.agent(container, `App removed${removed.length ? ` with ${removed.join(', ')}` : ''}`);
    return {};
  }

  private async uninstall(app: AppIdentity, actor: string, container: string) {
    const res = await this.deps.engine.uninstall(app.appKey, app.stage, app.appName);
    const removed = await this.removeAppImages(app, actor);
    // The uploaded sources of this app (stage and key), not of another app of the same name.
    await removeAppDir(this.deps.engine.appsDir, appUploadDir(this.deps.engine.appsDir, app.stage, app.appKey, app.appName), `uninstall ${container}`);
    this.deps.logs.agent(container, `App uninstalled (data ${res.dataDirRemoved ? 'deleted' : 'absent'}${removed.length ? `; ${removed.join(', ')} removed` : ''})`);
    return {};
  }

  /** Every tag of the app's image names (DEV and PROD), whatever the version. */
  private async removeAppImages(app: AppIdentity, actor: string): Promise<string[]> {
    const spec = this.spec(actor);
    const removed: string[] = [];
    for (const stage of app.stage === 'DEV' ? (['DEV', 'PROD'] as const) : (['PROD'] as const)) {
      const repo = appImageRef(this.deps.engine.arch, spec, app, null, stage);
      let images: Dockerode.ImageInfo[];
      try {
        images = await this.deps.docker.listImages({ filters: { reference: [repo] } });
      } catch (err) {
        throw new EngineError('engine', `list images of ${repo}: ${(err as Error).message}`, { cause: err });
      }
      for (const image of images) {
        for (const tag of image.RepoTags ?? []) {
          if (tag !== repo && !tag.startsWith(`${repo}:`)) continue;
          if (await this.deps.engine.removeImage(tag, { force: true })) removed.push(tag);
        }
      }
    }
    return removed;
  }

  private async pruneOldImage(c: Extract<AppDockerCommand, { kind: 'prune-old-image' }>): Promise<void> {
    if (c.version === c.keep) return;
    const actor = AppId.format(c.app.stage, c.app.appKey);
    try {
      const image = appImageRef(this.deps.engine.arch, this.spec(actor), c.app, c.version);
      const removed = await this.deps.engine.removeImage(image);
      this.deps.logger.info({ actor, image, removed }, 'old image of an updated app pruned');
    } catch (err) {
      // Best effort: an image still in use, or an engine that is away, keeps it for now.
      this.deps.logger.debug({ actor, err: this.deps.redact(String((err as Error).message)) }, 'could not prune the old image');
    }
  }

  private async checkDisk(what: string, container: string): Promise<void> {
    this.dataRoot ??= this.deps.engine.dataRoot().catch(() => undefined);
    const root = await this.dataRoot;
    const paths = [...(root ? [root] : []), this.deps.engine.appsDir];
    const verdict = await judgeDisk(what, paths, this.deps.options.disk, (p) => this.deps.engine.freeBytes(p));
    if (verdict.level === 'refuse') throw new OpRefused(verdict.message);
    if (verdict.level === 'warn') {
      this.deps.logger.warn({ container, freeBytes: verdict.freeBytes }, verdict.message);
      this.deps.logs.agent(container, verdict.message);
    }
    if (verdict.level === 'unknown') this.deps.logger.debug({ container }, verdict.message);
  }

  private send(actor: AppId, event: AppInbound): void {
    this.deps.events.send(actor, SOURCE, event);
  }
}
