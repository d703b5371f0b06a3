// The apps link: apps as Docker containers, always on (`-offline` too) and
// started before any network link, so the apps have converged to their
// standing requests, from the projection and Docker's own facts, before the
// studio or the gateway hears from this device.
//
// `service` is what the studio link calls (apps/service.ts);
// it answers once the link is started.

import type Dockerode from 'dockerode';
import type { ContainerTerminal } from '../adapters/docker/terminal-exec.js';
import type { Link, LinkContext } from '../actors/link.js';
import type { Stage } from '../machines/app-states.js';
import type { Json } from '../actors/types.js';
import type { Redactor } from '../adapters/log/redactor.js';
import { dockerArch } from '../adapters/docker/arch.js';
import { dockerFromEnv } from '../adapters/docker/client.js';
import type { AppLogQuery, AppLogQueryResult, AppStateRequest, AppsService, ImageSummary, LogBatch, PortReport, ReportFields, RequestOrigin } from './service.js';
import { appsSettings, type AppsSettings } from './config.js';
import { AppsRuntime } from './apps-runtime.js';
import type { RegistryAuthSource } from './credentials.js';

export interface AppsLinkOptions {
  appsDir: string;
  /** `-compressedBuildExtension`. */
  buildExtension: string;
  /** The `.flock`'s `docker_registry_url` and `docker_main_repository`. */
  registryUrl?: string;
  repository?: string;
  /** Read for DOCKER_HOST and the REAGENT_APP_* / REAGENT_DISK_* knobs (see config.ts). */
  env: NodeJS.ProcessEnv;
  /** Registry passwords are registered here so no log line can show them. */
  redactor?: Redactor;
  arch?: string;
  /** The `.flock`'s serial_number, part of APP_AUTH_ID/SECRET. */
  serial?: string;
  /** Tests and benchmarks: a client for their engine, short policies, small thresholds. */
  docker?: Dockerode;
  overrides?: Partial<AppsSettings>;
}

/** The studio link's view of the apps. */
export type AppsLinkService = AppsService;

/** What the studio link plugs in; kept here so a restarted runtime gets it too. */
interface Plugged {
  source: RegistryAuthSource | undefined;
  appCredKey: string | null;
}

export class AppsLink implements Link {
  readonly name = 'apps';
  readonly service: AppsLinkService;
  private rt: AppsRuntime | undefined;
  private readonly plugged: Plugged = { source: undefined, appCredKey: null };
  /** Port report sinks: kept here, so they outlive a runtime's restart. */
  private readonly portSinks = new Set<(report: PortReport) => void>();

  constructor(private readonly opts: AppsLinkOptions) {
    this.service = new LateService(
      () => {
        if (!this.rt) throw new Error('the apps link is not running');
        return this.rt;
      },
      () => this.rt,
      this.plugged,
      this.portSinks,
    );
  }

  /** The running runtime (tests read its engine and history). */
  get runtime(): AppsRuntime | undefined {
    return this.rt;
  }

  async start(ctx: LinkContext): Promise<void> {
    const settings = appsSettings(
      {
        appsDir: this.opts.appsDir,
        buildExtension: this.opts.buildExtension,
        arch: this.opts.arch ?? dockerArch(),
        ...(this.opts.registryUrl !== undefined ? { registryUrl: this.opts.registryUrl } : {}),
        ...(this.opts.repository !== undefined ? { repository: this.opts.repository } : {}),
      },
      this.opts.env,
      this.opts.overrides,
    );
    if (!settings.ok) throw new Error(settings.error);
    const rt = new AppsRuntime({
      ctx,
      settings: settings.settings,
      docker: this.opts.docker ?? dockerFromEnv(this.opts.env),
      ...(this.opts.redactor ? { redactor: this.opts.redactor } : {}),
      ...(this.opts.serial !== undefined ? { serial: this.opts.serial } : {}),
      reportPorts: (report) => {
        for (const sink of this.portSinks) sink(report);
      },
    });
    if (this.plugged.source) rt.useRegistryAuth(this.plugged.source);
    rt.setAppCredentialKey(this.plugged.appCredKey);
    this.rt = rt;
    try {
      await rt.start();
    } catch (err) {
      this.rt = undefined;
      await rt.stop().catch(() => undefined);
      throw err;
    }
  }

  async stop(): Promise<void> {
    const rt = this.rt;
    this.rt = undefined;
    await rt?.stop();
  }
}

/** Forwards to the runtime of the moment, so the studio link can hold it from construction on. */
class LateService implements AppsLinkService {
  constructor(
    private readonly rt: () => AppsRuntime,
    private readonly current: () => AppsRuntime | undefined,
    private readonly plugged: Plugged,
    private readonly portSinks: Set<(report: PortReport) => void>,
  ) {}
  requestAppState(request: AppStateRequest, origin: RequestOrigin): Promise<void> {
    return this.rt().requestAppState(request, origin);
  }
  reportFields(stage: Stage, appKey: string): ReportFields | undefined {
    return this.rt().reportFields(stage, appKey);
  }
  listContainers(): Promise<Json[]> {
    return this.rt().listContainers();
  }
  getImages(): Promise<ImageSummary[]> {
    return this.rt().getImages();
  }
  pruneImages(opts: { all: boolean }): Promise<Json> {
    return this.rt().pruneImages(opts);
  }
  appLogHistory(containerName: string): Promise<string[]> {
    return this.rt().appLogHistory(containerName);
  }
  queryAppLogs(query: AppLogQuery): Promise<AppLogQueryResult> {
    return this.rt().queryAppLogs(query);
  }
  logSources(): Promise<string[]> {
    return this.rt().logSources();
  }
  openTerminal(containerName: string): Promise<ContainerTerminal> {
    return this.rt().openTerminal(containerName);
  }
  subscribeLogBatches(containerName: string, onBatch: (batch: LogBatch) => void): () => void {
    return this.rt().subscribeLogBatches(containerName, onBatch);
  }
  useRegistryAuth(source: RegistryAuthSource): () => void {
    this.plugged.source = source;
    const unplug = this.current()?.useRegistryAuth(source);
    return () => {
      if (this.plugged.source === source) this.plugged.source = undefined;
      unplug?.();
    };
  }
  setAppCredentialKey(key: string | null): void {
    this.plugged.appCredKey = key;
    this.current()?.setAppCredentialKey(key);
  }
  transferFailed(containerName: string, reason: string): void {
    this.current()?.transferFailed(containerName, reason);
  }
  diskEmergency(): boolean {
    return this.current()?.diskEmergency() ?? false;
  }
  removeUnlisted(listed: ReadonlyArray<{ appKey: number; stage: Stage }>): Promise<Array<{ appKey: number; stage: Stage; appName: string }>> {
    return this.rt().removeUnlisted(listed);
  }
  usePortReports(sink: (report: PortReport) => void): () => void {
    this.portSinks.add(sink);
    return () => this.portSinks.delete(sink);
  }
}
