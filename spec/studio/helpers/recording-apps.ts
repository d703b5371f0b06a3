// The apps link's side of the boundary, for tests of the studio link alone:
// records what the studio link asks and lets the test play the apps' part
// (containers, log batches). Tests that need real apps use the AppsLink.
import type { Json } from '../../../actors/types.js';
import type { Stage } from '../../../machines/app-states.js';
import type {
  AppLogQuery,
  AppLogQueryResult,
  AppStateRequest,
  AppsService,
  ImageSummary,
  LogBatch,
  ReportFields,
  PortReport,
  RegistryAuthSource,
  RequestOrigin,
} from '../../../apps/service.js';
import type { ContainerTerminal } from '../../../adapters/docker/terminal-exec.js';
import type { PowerAction, StartedCommand, SystemAdapter, CommandRun } from '../../../adapters/wamp/system-adapter.js';

export class RecordingApps implements AppsService {
  readonly requests: Array<{ request: AppStateRequest; origin: RequestOrigin }> = [];
  readonly prunes: Array<{ all: boolean }> = [];
  readonly logQueries: AppLogQuery[] = [];
  readonly failedTransfers: string[] = [];
  containers: string[] = [];
  credentialKey: string | null | undefined;
  registryAuth: RegistryAuthSource | undefined;
  /** Apps the device keeps (for removeUnlisted). */
  kept: Array<{ appKey: number; stage: Stage; appName: string }> = [];
  /** Every removeUnlisted call's list. */
  readonly removalChecks: Array<Array<{ appKey: number; stage: Stage }>> = [];
  private readonly listeners = new Map<string, (b: LogBatch) => void>();

  async requestAppState(request: AppStateRequest, origin: RequestOrigin): Promise<void> {
    this.requests.push({ request, origin });
  }

  reportFields(_stage: Stage, appKey: string): ReportFields | undefined {
    return { device_to_app_key: Number(appKey) * 10, requestor_account_key: 1001, release_key: 5, request_update: false, release_build: false, updateStatus: '' };
  }

  async listContainers(): Promise<Json[]> {
    return this.containers.map((name) => ({ Id: `id-${name}`, Names: [`/${name}`], State: 'running' }));
  }

  async getImages(): Promise<ImageSummary[]> {
    return [{ created: 1, containers: 1, sharedSize: 0, virtualSize: 10, id: 'sha256:abc', labels: {}, size: 10, repoTags: ['busybox:latest'] }];
  }

  async pruneImages(opts: { all: boolean }): Promise<Json> {
    this.prunes.push(opts);
    return opts.all ? 'Total reclaimed space: 0 B' : { deleted: [], spaceReclaimed: 0 };
  }

  async appLogHistory(containerName: string): Promise<string[]> {
    return [`history of ${containerName}`];
  }

  async queryAppLogs(query: AppLogQuery): Promise<AppLogQueryResult> {
    this.logQueries.push(query);
    return { lines: ['a', 'b'], source: 'docker', returned: 2, truncated: false, device_time: new Date(0).toISOString() };
  }

  async logSources(): Promise<string[]> {
    return [...this.containers];
  }

  subscribeLogBatches(containerName: string, onBatch: (batch: LogBatch) => void): () => void {
    this.listeners.set(containerName, onBatch);
    return () => {
      if (this.listeners.get(containerName) === onBatch) this.listeners.delete(containerName);
    };
  }

  /** No Docker here: the studio terminal tests run the real apps link on a private dockerd. */
  async openTerminal(containerName: string): Promise<ContainerTerminal> {
    throw new Error(`container ${containerName} is not running`);
  }

  setAppCredentialKey(key: string | null): void {
    this.credentialKey = key;
  }

  transferFailed(containerName: string): void {
    this.failedTransfers.push(containerName);
  }

  useRegistryAuth(source: RegistryAuthSource): () => void {
    this.registryAuth = source;
    return () => {
      if (this.registryAuth === source) this.registryAuth = undefined;
    };
  }

  /** Port reports plugged in by the studio link; a test plays the apps runtime through them. */
  readonly portSinks = new Set<(report: PortReport) => void>();
  usePortReports(sink: (report: PortReport) => void): () => void {
    this.portSinks.add(sink);
    return () => this.portSinks.delete(sink);
  }

  /** A test plays the disk guard. */
  emergency = false;
  diskEmergency(): boolean {
    return this.emergency;
  }

  /** Records the listed apps; a test sets `kept` to play apps the device keeps. */
  async removeUnlisted(listed: ReadonlyArray<{ appKey: number; stage: Stage }>): Promise<Array<{ appKey: number; stage: Stage; appName: string }>> {
    this.removalChecks.push(listed.map((l) => ({ ...l })));
    const names = new Set(listed.map((l) => `${l.stage}:${l.appKey}`));
    return this.kept.filter((k) => !names.has(`${k.stage}:${k.appKey}`));
  }

  /** Which containers the studio link follows right now. */
  following(): string[] {
    return [...this.listeners.keys()];
  }

  /** Plays a batch of output, as the apps link would every 200 ms. */
  emit(containerName: string, lines: string[], dropped = 0): boolean {
    const l = this.listeners.get(containerName);
    if (!l) return false;
    l({ containerName, lines: dropped > 0 ? [...lines, `… ${dropped} log line(s) dropped (rate limit)`] : lines, messages: [], dropped });
    return true;
  }
}

/** Records power actions and commands instead of performing them. */
export class RecordingSystem implements SystemAdapter {
  readonly actions: PowerAction[] = [];
  readonly runs: Array<{ cmd: string; args: readonly string[]; timeoutMs: number }> = [];
  readonly starts: Array<{ cmd: string; args: readonly string[] }> = [];

  async power(action: PowerAction): Promise<void> {
    this.actions.push(action);
  }

  async run(cmd: string, args: readonly string[], timeoutMs: number): Promise<CommandRun> {
    this.runs.push({ cmd, args, timeoutMs });
    return { output: `ran ${cmd} ${args.join(' ')}`.trim(), exitCode: 0, timedOut: false };
  }

  start(cmd: string, args: readonly string[]): StartedCommand {
    this.starts.push({ cmd, args });
    return { pid: 4242, lines: () => ['line one', 'line two'] };
  }
}
