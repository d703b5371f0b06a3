// Everything the apps link runs while it is started: the Docker command
// handler, the engine monitor, the projection, log streams and history, and
// the AppsService the studio link calls. Built by AppsLink.start, torn down
// by its stop.

import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import type { Json } from '../actors/types.js';
import type { LinkContext } from '../actors/link.js';
import type { AppInput } from '../machines/app.js';
import type { AppState, Stage } from '../machines/app-states.js';
import type { Redactor } from '../adapters/log/redactor.js';
import { DockerEngine } from '../adapters/docker/engine.js';
import { openContainerTerminal, type ContainerTerminal } from '../adapters/docker/terminal-exec.js';
import { DockerCommands } from './executors/command-handler.js';
import type { DockerCommand } from './executors/app-commands.js';
import { EngineMonitor } from './engine-monitor.js';
import { appImageRef, buildArchivePathFor, EMPTY_SPEC, type AppRuntimeSpec } from './executors/app-image.js';
import { containerName, parseAppContainerName, type AppIdentity } from '../adapters/docker/naming.js';
import type { OurContainer } from '../adapters/docker/types.js';
import {
  InvalidAppRequest,
  type AppLogQuery,
  type AppLogQueryResult,
  type AppStateRequest,
  type AppsService,
  type ImageSummary,
  type LogBatch,
  type PortReport,
  type ReportFields,
  type RequestOrigin,
} from './service.js';
import type { AppsSettings } from './config.js';
import type { RegistryAuthSource } from './credentials.js';
import { APPS_STORAGE } from './storage.js';
import { AppRequestsProjection, type AppRequestRow } from './projection.js';
import { AppLogHistory } from './log-history.js';
import { LogBatcher } from './log-batcher.js';
import { AppLogHub } from './log-hub.js';
import { LogFollows } from './log-follows.js';
import { CredentialVault } from './credentials.js';
import { AppActors } from './app-actors.js';
import { AppsJournalListener } from './journal-listener.js';
import { actualState, installedVersion, lastKnownState, planBoot, type AppFacts } from './boot-plan.js';
import { legacyEnv, portsJson, specFromPayload, validateRequest, type ValidatedRequest } from './request.js';
import { assignHostPorts, reportedPorts } from './ports.js';
import { MemorySecretStore, type SecretStore } from '../adapters/store/secret-store.js';
import type { RequestEventPayload } from './request.js';
import type { RequestDomainFields } from '../machines/app-request.js';
import { appCredentials } from './app-credential.js';
import { minimalRequest } from './internal-request.js';
import { DiskWatch } from './disk-watch.js';
import { planRemovals } from '../machines/studio-reconcile.js';
import { AppId } from '../machines/app-id.js';
import type { MachineCatalog } from '../machines/catalog.js';
import { sameExecutor, type CommandsWithPrefix, type CommandTypes } from '../actors/contracts.js';
import { LOG_QUERY_LIMITS, appLogHistory, queryAppLogs, validateAppContainerName } from './log-query.js';
import { migrateAppLayout } from './layout-migration.js';
import { ComposeOps } from './executors/compose-ops.js';
import { ComposeObserver } from './compose-observer.js';
import { composeImages } from '../adapters/compose/project.js';

const SOURCE = 'apps';

type AppsCommand = CommandsWithPrefix<MachineCatalog, 'apps'>;

/** The Docker executors and the request journal take their whole prefix; the lists keep them in step with the app machine. */
const DOCKER_COMMANDS: CommandTypes<DockerCommand> = {
  'docker.pull': true,
  'docker.build': true,
  'docker.publish': true,
  'docker.run': true,
  'docker.stop': true,
  'docker.remove': true,
  'docker.uninstall': true,
  'docker.cancel': true,
  'docker.prune-old-image': true,
};
const APPS_COMMANDS: CommandTypes<AppsCommand> = { 'apps.request-settled': true, 'apps.request-refused': true };
const HISTORY_PERSIST_MS = 30_000;

export interface AppsRuntimeDeps {
  ctx: LinkContext;
  settings: AppsSettings;
  docker: Dockerode;
  redactor?: Redactor;
  /** The device serial, part of APP_AUTH_ID/SECRET; without it apps get no per-app credentials. */
  serial?: string;
  /** Port reports for the studio (`update_app_on_device`). */
  reportPorts?(report: PortReport): void;
}

export class AppsRuntime implements AppsService {
  readonly engine: DockerEngine;
  readonly history: AppLogHistory;
  readonly batcher: LogBatcher;
  private readonly ctx: LinkContext;
  private readonly settings: AppsSettings;
  private readonly reportPorts: ((report: PortReport) => void) | undefined;
  /** Sinks plugged in through the service interface (a studio link holding this runtime directly). */
  private readonly portSinks = new Set<(report: PortReport) => void>();
  private readonly docker: Dockerode;
  private readonly logger: Logger;
  private readonly projection: AppRequestsProjection;
  private readonly hub: AppLogHub;
  private readonly follows: LogFollows;
  private readonly vault: CredentialVault;
  /** Environment values by app actor: they leave the journal, and a container is recreated offline from them. */
  private readonly secrets: SecretStore;
  private readonly specs = new Map<string, AppRuntimeSpec>();
  private readonly actors: AppActors;
  private readonly monitor: EngineMonitor;
  private readonly commands: DockerCommands;
  private readonly composeObserver: ComposeObserver;
  private readonly compose: ComposeOps;
  private readonly listener: AppsJournalListener;
  private readonly offs: Array<() => void> = [];
  /** Requests are applied one after another, after the boot reconciliation. */
  private chain: Promise<void> = Promise.resolve();
  private booted = false;
  private orphanSweepPending = false;
  private persistTimer: NodeJS.Timeout | undefined;
  /** The per-session `get_app_cred_key` answer; memory only. */
  private appCredKey: string | null = null;
  private readonly serial: string | undefined;
  private readonly disk: DiskWatch;
  /** Apps whose reset after a failed upload is queued. */
  private readonly resetting = new Set<string>();
  private dataRootPath: string | undefined;
  private readonly redactor: Redactor | undefined;

  constructor(deps: AppsRuntimeDeps) {
    const { ctx, settings } = deps;
    this.ctx = ctx;
    this.settings = settings;
    this.reportPorts = deps.reportPorts;
    this.docker = deps.docker;
    this.logger = ctx.logger;
    this.serial = deps.serial;
    this.redactor = deps.redactor;
    const journal = ctx.journal;
    if (!journal) throw new Error('the apps link needs the journal (LinkContext.journal) for its projection');
    const storage = journal.storage('apps', APPS_STORAGE);
    const now = () => ctx.clock.now();
    const redact = (s: string) => deps.redactor?.scrubString(s) ?? s;
    this.engine = new DockerEngine({ docker: deps.docker, appsDir: settings.appsDir, arch: settings.arch, logger: this.logger });
    this.projection = new AppRequestsProjection(storage);
    this.history = new AppLogHistory(storage, settings.logs.historyLines, now);
    this.batcher = new LogBatcher(ctx.clock, settings.logs, (err) => this.logger.error({ err }, 'log batch listener threw'));
    this.hub = new AppLogHub(this.history, this.batcher);
    this.follows = new LogFollows({
      engine: this.engine,
      onLines: (c, lines) => this.hub.output(c, lines),
      onEnd: (c) => this.history.persist(c),
      logger: this.logger,
    });
    this.vault = new CredentialVault((secret) => deps.redactor?.addSecret(secret));
    this.secrets = ctx.secrets ?? new MemorySecretStore();
    this.actors = new AppActors(ctx.system);
    const specOf = (actor: string): AppRuntimeSpec => this.specs.get(actor) ?? this.specFromProjection(actor);
    this.monitor = new EngineMonitor({
      isCompose: (actor) => specOf(actor).compose !== undefined,
      engine: this.engine,
      events: ctx.system,
      view: this.actors,
      logs: this.hub,
      logger: this.logger,
      ...(settings.watch ? { watch: settings.watch } : {}),
      onContainerEvent: (e) => {
        if (e.kind === 'start') this.follows.ensure(e.container, e.id);
      },
      onUp: (containers) => this.onEngineUp(containers),
    });
    const compose = (this.compose = new ComposeOps({
      engine: this.engine,
      env: settings.composeEnv,
      logs: this.hub,
      credentialsFor: (app, host) => {
        const actor = AppId.format(app.stage, app.appKey);
        // compose pulls get the same login; no refresh round: the CLI reports a refusal
        return this.vault.lookup(actor, app, host, this.callerIdOf(actor)).then((l) => l.credentials);
      },
      redact,
      logger: this.logger,
      stopTimeoutSec: settings.stopTimeoutSec,
      timeoutMs: settings.composeTimeoutMs,
    }));
    this.composeObserver = new ComposeObserver({
      docker: deps.docker,
      events: ctx.system,
      view: this.actors,
      isCompose: (actor) => specOf(actor).compose !== undefined,
      logger: this.logger,
    });
    this.commands = new DockerCommands({
      events: ctx.system,
      compose,
      engine: this.engine,
      docker: deps.docker,
      specOf,
      credentialsFor: (actor, app, host) => this.vault.lookup(actor, app, host, this.callerIdOf(actor)),
      extraEnv: (actor, app) => this.appCredentialEnv(actor, app),
      logs: this.hub,
      health: this.monitor,
      onContainerStarted: (c, id) => this.follows.ensure(c, id),
      logger: this.logger,
      redact,
      now,
      options: {
        networkMode: settings.networkMode,
        stopTimeoutSec: settings.stopTimeoutSec,
        buildExtension: settings.buildExtension,
        disk: settings.disk,
        progressIntervalMs: settings.progressIntervalMs,
      },
    });
    this.disk = new DiskWatch({
      thresholds: settings.disk,
      timing: settings.diskWatch,
      paths: async () => {
        this.dataRootPath ??= await this.engine.dataRoot().catch(() => undefined);
        return [...(this.dataRootPath ? [this.dataRootPath] : []), settings.appsDir];
      },
      freeBytes: (p) => this.engine.freeBytes(p),
      onChange: (emergency, detail) => this.onDisk(emergency, detail),
      logger: this.logger,
    });
    this.listener = new AppsJournalListener({
      projection: this.projection,
      logs: this.hub,
      identity: (id) => this.actors.appView(id)?.app,
      context: (id) => this.actors.context(id),
      onForgotten: (id) => {
        this.vault.forget(id);
        this.specs.delete(id);
        this.secrets.forgetApp(id);
      },
      logger: this.logger,
    });
  }

  /** Registers the handlers, watches the engine, and converges the apps from the projection. */
  async start(): Promise<void> {
    const { system } = this.ctx;
    this.offs.push(system.handle('docker', sameExecutor<DockerCommand, AppId>(DOCKER_COMMANDS, this.commands.handle)));
    this.offs.push(system.handle('apps', sameExecutor<AppsCommand, AppId>(APPS_COMMANDS, this.listener.handle)));
    this.offs.push(system.subscribe(this.listener.onTransition));
    this.persistTimer = setInterval(() => this.history.persistAll(), HISTORY_PERSIST_MS);
    this.persistTimer.unref();
    // Files of the by-name layout move to the keyed one before any app runs on them.
    await migrateAppLayout(this.settings.appsDir, this.projection.all(), this.settings.buildExtension, this.logger).catch((err: unknown) =>
      this.logger.error({ err }, 'moving app files to the keyed layout failed; apps start on the keyed paths'),
    );
    this.monitor.start();
    this.composeObserver.start();
    // With no app to converge there is nothing to wait for; a first list that comes at once is still used.
    const standing = this.projection.all().length;
    const containers = await this.monitor.waitUp(standing > 0 ? this.settings.engineWaitMs : Math.min(this.settings.engineWaitMs, 2000), standing === 0);
    if (!containers && standing > 0) {
      this.logger.warn(
        { waitedMs: this.settings.engineWaitMs },
        'Docker engine not reachable at start: apps start from their last reported states and wait for it',
      );
    }
    // As the Reagent's CheckNow before CorrectAppStates: the apps learn of an emergency before they converge.
    await this.disk.start();
    // Requests (from the studio link, started later) queue behind the boot reconciliation.
    const booting = this.boot(containers);
    this.chain = booting.catch(() => undefined);
    await booting;
    await this.settle(this.settings.bootSettleMs);
  }

  async stop(): Promise<void> {
    this.disk.stop();
    this.monitor.close();
    this.composeObserver.close();
    this.commands.close();
    await this.commands.idle(5000);
    for (const off of this.offs.splice(0).reverse()) off();
    await this.follows.closeAll();
    clearInterval(this.persistTimer);
    this.history.persistAll();
    this.batcher.close();
  }

  /** Resolves once every app is at rest, or after `timeoutMs`. */
  async settle(timeoutMs: number): Promise<boolean> {
    const t0 = Date.now();
    for (;;) {
      if (this.actors.allAtRest()) {
        this.logger.info({ apps: this.actors.appActors().length, ms: Date.now() - t0 }, 'apps settled');
        return true;
      }
      if (Date.now() - t0 >= timeoutMs) {
        this.logger.warn({ apps: this.actors.appActors().length, ms: timeoutMs }, 'apps are still converging; going on');
        return false;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  // ---- AppsService ---------------------------------------------------------

  async requestAppState(request: AppStateRequest, origin: RequestOrigin): Promise<void> {
    const v = validateRequest(request, this.settings.registry, {
      requestId: randomUUID(),
      resync: origin === 'reconcile',
      fingerprint: (value) => this.secrets.fingerprint(value),
    });
    if (!v.ok) throw new InvalidAppRequest(v.error);
    this.vault.set(v.request.actorId, v.request.credentials);
    const applied = this.chain.then(() => this.apply(v.request, request.ports));
    this.chain = applied.catch(() => undefined);
    await applied;
  }

  /** Plugs in the registry token source (the studio link's `get_registry_token`). */
  useRegistryAuth(source: RegistryAuthSource): () => void {
    return this.vault.useSource(source);
  }

  diskEmergency(): boolean {
    return this.disk.emergency;
  }

  setAppCredentialKey(key: string | null): void {
    if (key) this.redactor?.addSecret(key);
    this.appCredKey = key;
  }

  /** A DEV upload failed midway: the app goes back to REMOVED, as the Reagent resets it (write_data). */
  transferFailed(name: string, reason: string): void {
    let parsed: ReturnType<typeof parseAppContainerName>;
    try {
      parsed = parseAppContainerName(name);
    } catch {
      this.logger.warn({ container: name }, 'upload failed for a name that is no app container; nothing to reset');
      return;
    }
    const actorId = AppId.format(parsed.stage, parsed.appKey);
    const row = this.projection.get(parsed.appKey, parsed.stage);
    const appName = row?.appName ?? this.actors.appView(actorId)?.app.appName;
    // Only an app the device has: a caller's made-up container names must not spawn app actors.
    if (appName === undefined) {
      this.logger.info({ container: parsed.container, reason }, 'upload failed for an app this device does not have; nothing to reset');
      return;
    }
    // One reset per app at a time, however many uploads of it fail meanwhile.
    if (this.resetting.has(actorId)) return;
    this.resetting.add(actorId);
    this.logger.info({ container: parsed.container, reason }, 'upload failed; the app is reset to REMOVED');
    this.internalRequest({ stage: parsed.stage, appKey: parsed.appKey, appName }, 'REMOVED', { transferFailed: true })
      .catch((err: unknown) => this.logger.warn({ container: parsed.container, err: (err as Error).message }, 'could not reset the app after a failed upload'))
      .finally(() => this.resetting.delete(actorId));
  }

  async removeUnlisted(listed: ReadonlyArray<{ appKey: number; stage: Stage }>): Promise<Array<{ appKey: number; stage: Stage; appName: string }>> {
    const rows = this.projection.all();
    const plan = planRemovals(
      rows.map((r) => ({ appKey: r.appKey, stage: r.stage, appName: r.appName, target: r.target })),
      listed.map((l) => ({ appKey: String(l.appKey), stage: l.stage })),
    );
    const removed: Array<{ appKey: number; stage: Stage; appName: string }> = [];
    for (const app of plan) {
      this.logger.info(
        { actor: AppId.format(app.stage, app.appKey), app: app.appName },
        'the studio no longer lists this app (get_requested_app_states): removing it from Docker and the stored requests; its /data is kept',
      );
      await this.internalRequest(app, 'REMOVED', { unlisted: true });
      removed.push({ appKey: Number(app.appKey), stage: app.stage, appName: app.appName });
    }
    return removed;
  }

  reportFields(stage: Stage, appKey: string): ReportFields | undefined {
    const row = this.projection.get(appKey, stage);
    if (!row) return undefined;
    const report = (typeof row.payload['report'] === 'object' && row.payload['report'] !== null ? row.payload['report'] : {}) as Record<string, Json>;
    const key = (k: string): number | string | null => {
      const v = report[k];
      return typeof v === 'number' || typeof v === 'string' ? v : null;
    };
    const requestUpdate = row.payload['requestUpdate'] === true;
    const newest = typeof row.payload['newestVersion'] === 'string' ? row.payload['newestVersion'] : null;
    const deviceToAppKey = key('device_to_app_key');
    return {
      device_to_app_key: typeof deviceToAppKey === 'number' ? deviceToAppKey : null,
      requestor_account_key: key('requestor_account_key'),
      release_key: key('release_key'),
      request_update: requestUpdate,
      release_build: row.target === 'PUBLISHED',
      // The Reagent's UpdateStatus after an update's pull: the studio confirms it.
      updateStatus: requestUpdate && newest !== null && row.stateVersion === newest ? 'pending_remote_confirmation' : '',
    };
  }

  async listContainers(): Promise<Json[]> {
    return (await this.docker.listContainers({ all: true })) as unknown as Json[];
  }

  async getImages(): Promise<ImageSummary[]> {
    const images = await this.docker.listImages();
    return images.map((i) => ({
      created: i.Created,
      containers: i.Containers,
      sharedSize: i.SharedSize,
      virtualSize: i.VirtualSize ?? i.Size,
      id: i.Id,
      labels: i.Labels ?? {},
      size: i.Size,
      repoTags: i.RepoTags ?? [],
    }));
  }

  async pruneImages(opts: { all: boolean }): Promise<Json> {
    if (!opts.all) {
      const r = await this.engine.pruneImages();
      return { deleted: r.deleted, spaceReclaimed: r.spaceReclaimed };
    }
    // The Reagent's `docker system prune -af --volumes`.
    const containers = await this.docker.pruneContainers();
    const images = await this.engine.pruneImages({ all: true });
    const volumes = await this.docker.pruneVolumes();
    const networks = await this.docker.pruneNetworks();
    const reclaimed = (containers.SpaceReclaimed ?? 0) + images.spaceReclaimed + (volumes.SpaceReclaimed ?? 0);
    // args[0] is the prune output as one string, as the Reagent answers.
    return [
      `Deleted Containers: ${(containers.ContainersDeleted ?? []).length}`,
      `Deleted Images: ${images.deleted.length}`,
      `Deleted Volumes: ${(volumes.VolumesDeleted ?? []).length}`,
      `Deleted Networks: ${(networks.NetworksDeleted ?? []).length}`,
      `Total reclaimed space: ${reclaimed} B`,
    ].join('\n');
  }

  async appLogHistory(name: string): Promise<string[]> {
    const compose = this.composeAppOf(name);
    if (compose) {
      // The agent's lines about the app, then its services' last output (as Docker's last 50 for a container).
      const base = this.history.read(validateAppContainerName(name))?.lines ?? [];
      const tail = LOG_QUERY_LIMITS.historyDockerTail;
      const services = await this.compose.logs(compose.app, name, compose.spec, { tail, timestamps: false, maxBytes: LOG_QUERY_LIMITS.maxBytes }).catch(() => []);
      return [...base, ...services];
    }
    return appLogHistory(this.docker, this.history, name);
  }

  async queryAppLogs(query: AppLogQuery): Promise<AppLogQueryResult> {
    const compose = this.composeAppOf(query.containerName);
    if (compose) {
      // A compose app's output is its services': the compose CLI reads it (tail, offset, timestamps; no since/until in v1).
      try {
        const tail = Math.min(Math.max(0, Math.floor(query.tail)), LOG_QUERY_LIMITS.maxLines);
        const offset = Math.min(Math.max(0, Math.floor(query.offset)), LOG_QUERY_LIMITS.maxLines);
        const got = await this.compose.logs(compose.app, query.containerName, compose.spec, {
          tail: tail + offset,
          timestamps: query.timestamps,
          maxBytes: LOG_QUERY_LIMITS.maxBytes,
        });
        const lines = offset > 0 ? got.slice(0, Math.max(0, got.length - offset)) : got;
        const kept = lines.slice(-tail);
        return { lines: kept, source: 'compose', returned: kept.length, truncated: kept.length < got.length, device_time: new Date(this.ctx.clock.now()).toISOString() };
      } catch (err) {
        this.logger.warn({ container: query.containerName, err: (err as Error).message }, 'compose logs failed; answering from the history');
      }
    }
    return queryAppLogs(this.docker, this.history, query, this.ctx.clock.now());
  }

  openTerminal(name: string): Promise<ContainerTerminal> {
    return openContainerTerminal(this.docker, validateAppContainerName(name));
  }

  /** The compose app a container name stands for, if it is one. */
  private composeAppOf(name: string): { app: AppIdentity; spec: AppRuntimeSpec } | undefined {
    let parsed: ReturnType<typeof parseAppContainerName>;
    try {
      parsed = parseAppContainerName(name);
    } catch {
      return undefined;
    }
    const actor = AppId.format(parsed.stage, parsed.appKey);
    const app = this.actors.appView(actor)?.app;
    const spec = this.specs.get(actor);
    return app && spec?.compose ? { app, spec } : undefined;
  }

  async logSources(): Promise<string[]> {
    const names = new Set<string>();
    for (const id of this.actors.appActors()) {
      const app = this.actors.appView(id)?.app;
      if (app) names.add(containerName(app.stage, app.appKey, app.appName));
    }
    for (const row of this.projection.all()) names.add(containerName(row.stage, row.appKey, row.appName));
    return [...names].sort();
  }

  usePortReports(sink: (report: PortReport) => void): () => void {
    this.portSinks.add(sink);
    return () => this.portSinks.delete(sink);
  }

  subscribeLogBatches(name: string, onBatch: (batch: LogBatch) => void): () => void {
    return this.batcher.subscribe(validateAppContainerName(name), onBatch);
  }

  // ---- internals -----------------------------------------------------------

  /** The disk guard changed its verdict: every app is told (journaled); their statecharts stop, refuse or resume. */
  private onDisk(emergency: boolean, detail: string): void {
    if (emergency) this.logger.error({ detail }, 'disk emergency: running apps are stopped and disk-growing transitions refused until space returns');
    else this.logger.warn({ detail }, 'disk emergency over: apps drive to their requested states again');
    for (const id of this.actors.appActors()) this.ctx.system.send(id, 'disk', 'DISK', { emergency });
    void this.ctx.system.flush();
  }

  /** A newly spawned app learns of an emergency before its first request. */
  private tellDisk(actorId: AppId): void {
    if (this.disk.emergency) this.ctx.system.send(actorId, 'disk', 'DISK', { emergency: true });
  }

  /**
   * A request of the agent's own (an unlisted app removed, a failed upload
   * reset), on the app's stored request so its spec stays as it was. Queued
   * like the studio's requests.
   */
  private internalRequest(app: AppIdentity, target: AppState, mark: Pick<RequestDomainFields, 'unlisted' | 'transferFailed'>): Promise<void> {
    const actorId = AppId.format(app.stage, app.appKey);
    const row = this.projection.get(app.appKey, app.stage);
    const spec = this.specs.get(actorId) ?? (row ? specFromPayload(row.payload, this.settings.registry, this.secrets.appEnv(actorId)) : this.specFromProjection(actorId));
    let event: RequestEventPayload;
    const stored = row?.payload;
    if (stored?.spec !== undefined && stored.appName !== undefined) {
      event = { ...stored, appName: stored.appName, spec: stored.spec, target, requestId: randomUUID(), ...mark };
    } else {
      // no stored request, or one stored without the domain's fields: the agent's minimal one
      let v;
      try {
        v = validateRequest(minimalRequest(app, target), this.settings.registry, { requestId: randomUUID() });
      } catch (err) {
        return Promise.reject(err as Error);
      }
      if (!v.ok) return Promise.reject(new Error(v.error));
      event = { ...v.request.event, ...mark };
    }
    const applied = this.chain.then(() => this.apply({ app, actorId, event, spec, credentials: new Map() }));
    this.chain = applied.catch(() => undefined);
    return applied;
  }

  /** `get_registry_token`'s callerID for the app: PROD apps ask on behalf of the device owner when the request named one (§2). */
  private callerIdOf(actor: string): number | string | null {
    const id = AppId.partsOf(actor);
    const row = id ? this.projection.get(id.appKey, id.stage) : undefined;
    if (!id || !row) return null;
    const owner = row.payload['deviceOwnerAccountKey'];
    if (id.stage === 'PROD' && typeof owner === 'number') return owner;
    const report = row.payload['report'];
    const requestor = typeof report === 'object' && report !== null && !Array.isArray(report) ? report['requestor_account_key'] : null;
    return typeof requestor === 'number' || typeof requestor === 'string' ? requestor : null;
  }

  /** APP_AUTH_ID/APP_AUTH_SECRET for a container being created, while the session's key is known (§1.3). */
  private appCredentialEnv(actor: string, app: AppIdentity): Record<string, string> {
    if (!this.appCredKey || !this.serial) {
      this.logger.warn({ actor }, 'no app credential key (get_app_cred_key) yet: the app starts without APP_AUTH_ID/APP_AUTH_SECRET');
      return {};
    }
    const row = this.projection.get(app.appKey, app.stage);
    const epoch = row && typeof row.payload['appCredEpoch'] === 'number' ? row.payload['appCredEpoch'] : null;
    const env = appCredentials(this.appCredKey, { serial: this.serial, appKey: app.appKey, stage: app.stage, epoch });
    this.redactor?.addSecret(env.APP_AUTH_SECRET);
    return env;
  }

  private async apply(r: ValidatedRequest, rawPorts: Json[] | null = null): Promise<void> {
    this.assignPorts(r, rawPorts);
    this.specs.set(r.actorId, r.spec);
    // Saved before the event is journaled: a restart right after must find the values.
    this.secrets.setAppEnv(r.actorId, r.spec.env);
    if (!this.ctx.system.has(r.actorId)) await this.spawnFresh(r);
    this.ctx.system.send(r.actorId, SOURCE, 'REQUEST', r.event);
    await this.ctx.system.flush();
  }

  /**
   * Host ports for the request's rules, free of every other app's (§7.2),
   * recorded in the REQUEST event, and reported to the studio (the Reagent's
   * syncPortState). A device out of ports refuses the request, naming the rule.
   */
  private assignPorts(r: ValidatedRequest, rawPorts: Json[] | null): void {
    if (r.spec.ports.length === 0) return;
    const previous = (this.specs.get(r.actorId) ?? this.specFromProjection(r.actorId)).ports;
    const others = [...this.specs.entries()].filter(([id]) => id !== r.actorId).map(([, s]) => s.ports);
    const res = assignHostPorts(r.spec.ports, previous, others);
    if (!res.ok) throw new InvalidAppRequest(`request_app_state: field "ports": ${res.reason}`);
    r.spec.ports = res.ports;
    r.event.spec.ports = portsJson(res.ports);
    const appKey = /^\d{1,15}$/.test(r.app.appKey) ? Number(r.app.appKey) : r.app.appKey;
    const report: PortReport = { app_key: appKey, stage: r.app.stage, ports: reportedPorts(rawPorts, res.ports) };
    this.logger.info({ actor: r.actorId, ports: res.ports.map((p) => `${p.host_port}->${p.port}/${p.protocol ?? 'tcp'}`) }, 'app host ports assigned');
    try {
      this.reportPorts?.(report);
      for (const sink of this.portSinks) sink(report);
    } catch (err) {
      this.logger.error({ err, actor: r.actorId }, 'port report could not be handed to the studio link');
    }
  }

  private input(app: AppIdentity, version: string | null, initial: AppState): AppInput {
    return { appKey: app.appKey, appName: app.appName, stage: app.stage, version, initial, policy: this.settings.policy };
  }

  /** A new app: it starts in the state Docker shows (image, container), or REMOVED when the engine cannot say. */
  private async spawnFresh(r: ValidatedRequest): Promise<void> {
    const version = typeof r.event.version === 'string' ? r.event.version : null;
    let initial: AppState = 'REMOVED';
    let container: OurContainer | undefined;
    const known = !this.monitor.isDown && (await this.engine.ping(2000).then(() => true, () => false));
    if (known) {
      try {
        const name = containerName(r.app.stage, r.app.appKey, r.app.appName);
        container = (await this.engine.listOurContainers()).find((c) => c.name === name);
        initial = actualState({ stage: r.app.stage, last: null }, container, await this.facts(r.app, r.spec, version));
      } catch (err) {
        this.logger.warn({ actor: r.actorId, err: (err as Error).message }, 'could not inspect a new app; starting it as REMOVED');
      }
    }
    this.ctx.system.spawn(r.actorId, 'app', this.input(r.app, version, initial), SOURCE);
    this.tellDisk(r.actorId);
    if (!known) this.monitor.tellDown(r.actorId, 'Docker engine unreachable');
    if (container?.state === 'running') this.follows.ensure(container.name, container.id);
  }

  private async facts(app: AppIdentity, spec: AppRuntimeSpec, version: string | null): Promise<AppFacts> {
    let imagePresent = false;
    let archivePresent = false;
    try {
      // A compose app is "installed" when every image its services name is here.
      imagePresent = spec.compose
        ? (await Promise.all(composeImages(spec.compose).map((i) => this.engine.imageExists(i)))).every(Boolean)
        : await this.engine.imageExists(appImageRef(this.settings.arch, spec, app, version));
    } catch (err) {
      this.logger.warn({ app: app.appName, err: (err as Error).message }, 'could not check the app image');
    }
    if (app.stage === 'DEV') {
      try {
        archivePresent = existsSync(buildArchivePathFor(this.settings.appsDir, app, this.settings.buildExtension));
      } catch {
        archivePresent = false;
      }
    }
    return { imagePresent, archivePresent };
  }

  private specFromProjection(actor: string): AppRuntimeSpec {
    for (const row of this.projection.all()) {
      if (AppId.format(row.stage, row.appKey) === actor) return specFromPayload(row.payload, this.settings.registry, this.secrets.appEnv(actor));
    }
    return { ...EMPTY_SPEC, registry: this.settings.registry.registry, repository: this.settings.registry.repository };
  }

  /**
   * The start-up reconciliation: orphans removed, every standing request's app
   * spawned in its actual state and handed its request again.
   */
  private async boot(containers: OurContainer[] | undefined): Promise<void> {
    const { system } = this.ctx;
    const rows = this.projection.all((row, why) =>
      this.logger.error({ app_key: row['app_key'], stage: row['stage'], why }, 'a stored app request is damaged; skipped'),
    );
    for (const row of rows) {
      const actor = AppId.format(row.stage, row.appKey);
      // A request stored before environment values left the journal: its values move to the secret
      // table, and the payload re-sent below (and so the projection) no longer has them.
      const legacy = legacyEnv(row.payload, (value) => this.secrets.fingerprint(value));
      if (legacy) {
        if (this.secrets.appEnv(actor) === undefined) this.secrets.setAppEnv(actor, legacy.env);
        row.payload = legacy.payload as typeof row.payload;
      }
      this.specs.set(actor, specFromPayload(row.payload, this.settings.registry, this.secrets.appEnv(actor) ?? {}));
    }
    let orphans = 0;
    if (containers) {
      const facts = new Map<AppRequestRow, AppFacts>();
      for (const row of rows) facts.set(row, await this.facts(row, this.specs.get(AppId.format(row.stage, row.appKey))!, installedVersion(row)));
      const plan = planBoot(rows, containers, (row) => facts.get(row)!);
      orphans = await this.removeOrphans(plan.orphans);
      for (const a of plan.apps) {
        system.spawn(a.actorId, 'app', this.input(a.row, a.version, a.initial), SOURCE);
        this.tellDisk(a.actorId);
        system.send(a.actorId, SOURCE, 'REQUEST', { ...a.row.payload, target: a.row.target, resync: true });
        if (a.container?.state === 'running') this.follows.ensure(a.container.name, a.container.id, this.sinceFor(a.container.name));
      }
    } else {
      this.orphanSweepPending = true;
      for (const row of rows) {
        const actor = AppId.format(row.stage, row.appKey);
        system.spawn(actor, 'app', this.input(row, installedVersion(row), lastKnownState(row)), SOURCE);
        this.tellDisk(actor);
        this.monitor.tellDown(actor, 'Docker engine unreachable at start');
        system.send(actor, SOURCE, 'REQUEST', { ...row.payload, target: row.target, resync: true });
      }
    }
    await system.flush();
    this.booted = true;
    this.logger.info({ apps: rows.length, orphansRemoved: orphans, engine: containers ? 'up' : 'unreachable' }, 'apps reconciled with Docker');
  }

  private async removeOrphans(orphans: readonly OurContainer[]): Promise<number> {
    let removed = 0;
    for (const o of orphans) {
      try {
        await this.engine.remove(o.name, { force: true });
        removed++;
        this.logger.info({ container: o.name, id: o.id }, 'removed a container of ours that no app request accounts for');
      } catch (err) {
        this.logger.warn({ container: o.name, err: (err as Error).message }, 'could not remove an orphaned container');
      }
    }
    return removed;
  }

  /** Every (re)attach: follow the running apps' logs again; a start without Docker sweeps orphans now. */
  private onEngineUp(containers: OurContainer[]): void {
    if (!this.booted) return;
    for (const c of containers) {
      if (c.state === 'running' && this.actors.appView(AppId.format(c.stage, c.appKey))) this.follows.ensure(c.name, c.id, this.sinceFor(c.name));
    }
    if (this.orphanSweepPending) {
      this.orphanSweepPending = false;
      const wanted = new Set(this.actors.appActors());
      void this.removeOrphans(containers.filter((c) => !wanted.has(AppId.format(c.stage, c.appKey))));
    }
  }

  /** Re-attaching to a running container: skip what the history already has. */
  private sinceFor(container: string): number | undefined {
    const at = this.history.updatedAt(container);
    return at === undefined ? undefined : Math.floor(at / 1000);
  }
}
