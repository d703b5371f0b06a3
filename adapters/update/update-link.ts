// The self-update wired into the daemon: the `update` actor (machines/update.ts)
// decides, this link does the I/O its commands ask for and turns the results
// into events. It also serves the studio link (service.ts) and tells the CLI
// how to hand over to the new version: exit under systemd (Restart=always
// starts `<agentDir>/current/reagent` again, after the pre-start guard),
// execve() of `<agentDir>/current/reagent` otherwise (same pid, same
// arguments).
import type { Logger } from 'pino';
import type { Clock } from '../../actors/clock.js';
import { actorId, guardExecutors, type CommandNamed, type Executors } from '../../actors/contracts.js';
import type { Link, LinkContext } from '../../actors/link.js';
import { isNewer } from '../../machines/update-rules.js';
import type { UpdateCommand, UpdateInbound, UpdateInput, UpdateProbation, UpdateResultCommand } from '../../machines/update.js';
import { LinkWatch } from '../metrics/link-watch.js';
import type { AgentUpdates, UpdateMetadata, UpdateResult } from './service.js';
import { rollBack, type Progress, type Updater } from './updater.js';

export const UPDATE_ACTOR = actorId('update', 'update');
const SOURCE = 'update';

export interface UpdateLinkOptions {
  current: string;
  /** null when this agent cannot update itself (then `cannotUpdate` says why). */
  updater: Updater | null;
  cannotUpdate: string | null;
  /** From the start guard: this start is a new version on probation. */
  probation: UpdateProbation | null;
  blacklist: string[];
  /** `-update` and not `-offline`: look for a newer version once the daemon is up. */
  checkAtStart: boolean;
  /** Network links this daemon runs (`studio`, `gateway`): what a new version must bring up. */
  networkLinks: readonly string[];
  /** Under systemd: hand over by exiting; else by execve(). */
  supervised: boolean;
  probationMs: number;
  restartDelayMs: number;
  /** The daemon's own arguments, for execve(). */
  args: readonly string[];
}

/** What the process does after the daemon stopped for an update. */
export type Handover = { kind: 'exit' } | { kind: 'exec'; path: string; args: string[] };

export class UpdateLink implements Link, AgentUpdates {
  readonly name = 'update';
  readonly finished: Promise<{ reason: string; exitCode: number }>;
  private finish!: (e: { reason: string; exitCode: number }) => void;
  private ctx: LinkContext | null = null;
  /** Kept after stop: a command still running when the link stops dates what it writes. */
  private clock: Clock | null = null;
  private logger!: Logger;
  private watch: LinkWatch | null = null;
  private readonly unhandle: Array<() => void> = [];
  private readonly waiters: Array<(r: UpdateResult) => void> = [];
  private readonly progress = new Set<(p: Progress) => void>();
  private readonly abort = new AbortController();
  private latestKnown: { version: string; at: number } | null = null;
  private latestFetch: Promise<string | null> | null = null;
  private handoverPlan: Handover | null = null;

  constructor(private readonly opts: UpdateLinkOptions) {
    this.finished = new Promise((resolve) => (this.finish = resolve));
  }

  /** `<agentDir>/current/reagent`: what a restart runs. */
  get currentBinary(): string {
    return this.opts.updater?.layout.currentBinary ?? '';
  }

  /** Set once the daemon must stop for an update; read by the CLI after the stop. */
  get handover(): Handover | null {
    return this.handoverPlan;
  }

  async start(ctx: LinkContext): Promise<void> {
    this.ctx = ctx;
    this.logger = ctx.logger;
    this.clock = ctx.clock;
    this.unhandle.push(ctx.system.handle('update', guardExecutors(this.executors, () => this.ctx !== null)));
    const p = this.opts.probation;
    const input = {
      current: this.opts.current,
      cannotUpdate: this.opts.cannotUpdate,
      blacklist: [...this.opts.blacklist],
      probation: p ? { from: p.from, to: p.to, probationMs: p.probationMs, links: [...p.links], linksMode: p.linksMode } : null,
      restartDelayMs: this.opts.restartDelayMs,
    } satisfies UpdateInput;
    ctx.system.spawn(UPDATE_ACTOR, 'update', input);
    this.watch = new LinkWatch(ctx.system, ctx.clock.now());
    for (const s of this.watch.all()) ctx.system.send(UPDATE_ACTOR, SOURCE, 'LINK', { name: s.name, up: s.working });
    this.unhandle.push(this.watch.onChange((s) => ctx.system.send(UPDATE_ACTOR, SOURCE, 'LINK', { name: s.name, up: s.working })));
    if (this.opts.probation) this.logger.warn({ from: this.opts.probation.from, to: this.opts.probation.to }, `update: ${this.opts.current} is on probation`);
    if (this.opts.cannotUpdate) this.logger.info({ reason: this.opts.cannotUpdate }, `self-update unavailable: ${this.opts.cannotUpdate}`);
    else if (this.opts.checkAtStart) ctx.system.send(UPDATE_ACTOR, SOURCE, 'CHECK', { trigger: 'start' });
  }

  /** The daemon is ready (journal open, apps reconciled, links started): half of a new version's probation. */
  ready(): void {
    this.ctx?.system.send(UPDATE_ACTOR, SOURCE, 'READY');
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.watch?.close();
    for (const off of this.unhandle.splice(0)) off();
    for (const w of this.waiters.splice(0)) w(this.answer({ type: 'update.result', current: this.opts.current, latest: '', message: 'the agent is stopping', didUpdate: false, inProgress: false, totalBytes: 0 }));
    this.ctx = null;
  }

  // ---- AgentUpdates (the studio link) ----------------------------------------

  update(): Promise<UpdateResult> {
    const ctx = this.ctx;
    if (!ctx) return Promise.resolve(this.answer({ type: 'update.result', current: this.opts.current, latest: '', message: 'the agent is stopping', didUpdate: false, inProgress: false, totalBytes: 0 }));
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      ctx.system.send(UPDATE_ACTOR, SOURCE, 'CHECK', { trigger: 'studio' });
    });
  }

  async metadata(): Promise<UpdateMetadata> {
    const latest = await this.latestVersion();
    return { canUpdate: this.opts.cannotUpdate === null, latestVersion: latest ?? '', hasLatest: latest !== null && !isNewer(latest, this.opts.current) };
  }

  onProgress(listener: (p: Progress) => void): () => void {
    this.progress.add(listener);
    return () => this.progress.delete(listener);
  }

  // ---- update.* commands -----------------------------------------------------

  private readonly executors: Executors<UpdateCommand> = {
    'update.check': () => this.check(),
    'update.download': (c) => this.download(c),
    'update.swap': (c) => this.swap(c),
    'update.commit': () => this.commitUpdate(),
    'update.rollback': (c) => this.rollback(c),
    'update.handover': () => this.handOver(),
    'update.result': (c) => this.result(c),
  };

  /** Tells the update machine how a command went. */
  private tell(event: UpdateInbound): void {
    this.ctx?.system.send(UPDATE_ACTOR, SOURCE, event);
  }

  private now(): string {
    return new Date(this.clock!.now()).toISOString();
  }

  private async check(): Promise<void> {
    const updater = this.opts.updater;
    if (!updater) return this.tell({ type: 'CHECK_FAILED', reason: this.opts.cannotUpdate ?? 'no updater' });
    try {
      const latest = await updater.latest(this.abort.signal);
      this.latestKnown = { version: latest, at: Date.now() };
      this.tell({ type: 'MANIFEST', latest });
    } catch (err) {
      this.logger.warn({ reason: (err as Error).message }, `update check failed: ${(err as Error).message}`);
      this.tell({ type: 'CHECK_FAILED', reason: (err as Error).message });
    }
  }

  private async download(command: CommandNamed<UpdateCommand, 'update.download'>): Promise<void> {
    const updater = this.opts.updater;
    const version = command.version;
    if (!updater) return this.tell({ type: 'DOWNLOAD_FAILED', reason: this.opts.cannotUpdate ?? 'no updater' });
    this.logger.info({ version, from: updater.binaryUrl(version) }, `update: downloading ${version}`);
    try {
      const r = await updater.download(version, (p) => this.emitProgress(p), this.abort.signal);
      this.logger.info({ version, bytes: r.bytes, path: r.path }, `update: ${version} downloaded, checksum verified, installed`);
      this.tell({ type: 'DOWNLOADED', version, bytes: r.bytes });
    } catch (err) {
      this.logger.error({ version, reason: (err as Error).message }, `update to ${version} refused: ${(err as Error).message}`);
      this.tell({ type: 'DOWNLOAD_FAILED', reason: (err as Error).message });
    }
  }

  private swap(command: CommandNamed<UpdateCommand, 'update.swap'>): void {
    const updater = this.opts.updater;
    const to = command.to;
    if (!updater) return this.tell({ type: 'SWAP_FAILED', reason: 'no updater' });
    const up = (this.watch?.all() ?? []).filter((s) => s.working).map((s) => s.name);
    // The new version must do what this one does: bring up the links up now; if none is, any configured one.
    const links = up.length > 0 ? up : [...this.opts.networkLinks];
    const linksMode = up.length > 0 ? 'all' : 'any';
    try {
      const state = updater.swap(to, { probationMs: this.opts.probationMs, links, linksMode }, this.now());
      this.logger.warn({ from: state.from, to, links, linksMode, probationMs: state.probationMs }, `update: ${updater.layout.currentBinary} is ${to} now; restarting into it`);
      this.tell({ type: 'SWAPPED' });
    } catch (err) {
      this.logger.error({ to, reason: (err as Error).message }, `update: swap to ${to} failed: ${(err as Error).message}`);
      this.tell({ type: 'SWAP_FAILED', reason: (err as Error).message });
    }
  }

  private commitUpdate(): void {
    const updater = this.opts.updater;
    if (!updater) return;
    try {
      const { state, pruned } = updater.commit(this.now());
      this.logger.info({ version: state?.to, pruned }, `update: ${state?.to ?? this.opts.current} passed probation and is committed`);
    } catch (err) {
      this.logger.error({ reason: (err as Error).message }, `update: commit failed: ${(err as Error).message}`);
    }
  }

  private rollback(command: CommandNamed<UpdateCommand, 'update.rollback'>): void {
    const updater = this.opts.updater;
    const reason = command.reason;
    const state = updater?.readState();
    if (!updater || !state || state.phase !== 'probation') {
      this.logger.error({ reason }, `update: rollback asked, but no update is on probation: ${reason}`);
      return;
    }
    try {
      rollBack(updater.layout, state, reason, this.now());
      this.logger.error({ from: state.from, to: state.to, reason }, `update rolled back to ${state.from}, ${state.to} blacklisted: ${reason}`);
    } catch (err) {
      this.logger.error({ reason: (err as Error).message }, `update: rollback failed: ${(err as Error).message}`);
    }
  }

  private handOver(): void {
    const updater = this.opts.updater;
    if (!updater) return;
    const path = updater.layout.currentBinary;
    this.handoverPlan = this.opts.supervised ? { kind: 'exit' } : { kind: 'exec', path, args: [...this.opts.args] };
    this.finish({ reason: this.opts.supervised ? `restarting (systemd starts ${path})` : `restarting into ${path}`, exitCode: 0 });
  }

  private result(r: UpdateResultCommand): void {
    this.logger.info({ latest: r.latest, didUpdate: r.didUpdate, inProgress: r.inProgress }, `update: ${r.message}`);
    const answer = this.answer(r);
    for (const w of this.waiters.splice(0)) w(answer);
  }

  private answer(r: UpdateResultCommand): UpdateResult {
    return {
      CurrentVersion: r.current,
      LatestVersion: r.latest,
      Message: r.message,
      DidAgentUpdate: r.didUpdate,
      DidTunnelUpdate: false,
      DidUpdate: r.didUpdate,
      InProgress: r.inProgress,
      TotalFileSize: r.totalBytes,
    };
  }

  private emitProgress(p: Progress): void {
    for (const l of this.progress) {
      try {
        l(p);
      } catch (err) {
        this.logger.warn({ err }, 'update progress listener failed');
      }
    }
  }

  /** The manifest's version, at most 10 minutes old; null when it cannot be read (bounded by the manifest limits). */
  private async latestVersion(): Promise<string | null> {
    const updater = this.opts.updater;
    if (!updater) return null;
    if (this.latestKnown && Date.now() - this.latestKnown.at < 10 * 60_000) return this.latestKnown.version;
    this.latestFetch ??= updater
      .latest(this.abort.signal)
      .then((v) => {
        this.latestKnown = { version: v, at: Date.now() };
        return v;
      })
      .catch(() => null)
      .finally(() => (this.latestFetch = null));
    return this.latestFetch;
  }
}
