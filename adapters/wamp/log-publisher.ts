// Publishes app logs to `reswarm.logs.<serial>.<container>` only while
// someone listens. The router's subscription meta API says who does:
// `wamp.subscription.on_create` / `on_delete` events as subscriptions come and
// go, and `wamp.subscription.match` for the ones that already existed when the
// session started (after a reconnect the studio's subscriptions are still there).
//
// A router without the meta API (`wamp.subscription.match` unknown) cannot
// tell us; then every app's logs are published (and a warning says why), which
// costs bandwidth but never hides logs from someone watching.
import type { Logger } from 'pino';
import type { AppsService, LogBatch } from '../../apps/service.js';
import { WAMP_ERRORS, WampCallError } from './errors.js';
import { LogGate, type GateChange } from './log-gate.js';
import type { WampSession } from './session.js';
import { BACKEND, META_TOPICS, logTopic } from './wire.js';
import { isObj } from './validate.js';

export interface LogPublisherOptions {
  serial: string;
  apps: AppsService;
  logger: Logger;
}

export class LogPublisher {
  private readonly gate: LogGate;
  private readonly streams = new Map<string, () => void>();
  private session: WampSession | null = null;
  private publishAll = false;

  constructor(private readonly opts: LogPublisherOptions) {
    this.gate = new LogGate(opts.serial);
  }

  /** Containers being published now. */
  get publishing(): string[] {
    return [...this.streams.keys()];
  }

  /** Session start: listen to the meta events, then ask about topics subscribed already. */
  async attach(session: WampSession): Promise<void> {
    this.detach();
    this.session = session;
    await session.subscribe(META_TOPICS.subscriptionCreated, (args) => {
      const details = args[1];
      if (!isObj(details) || typeof details.uri !== 'string' || (typeof details.id !== 'number' && typeof details.id !== 'string')) return;
      this.apply(this.gate.created({ id: details.id, uri: details.uri, match: typeof details.match === 'string' ? details.match : 'exact' }));
    });
    await session.subscribe(META_TOPICS.subscriptionDeleted, (args) => {
      const id = args[1];
      if (typeof id === 'number' || typeof id === 'string') this.apply(this.gate.deleted(id));
    });
    let sources: string[];
    try {
      sources = await this.opts.apps.logSources();
    } catch (err) {
      this.opts.logger.warn({ err }, 'cannot list app containers to check for log subscribers');
      sources = [];
    }
    for (const container of sources) {
      if (this.session !== session) return;
      try {
        const r = await session.call(BACKEND.subscriptionMatch, [logTopic(this.opts.serial, container)]);
        const ids = r.args[0];
        if (Array.isArray(ids) && ids.length > 0 && (typeof ids[0] === 'number' || typeof ids[0] === 'string')) this.apply(this.gate.matched(container, ids[0]));
      } catch (err) {
        if (err instanceof WampCallError && err.uri === WAMP_ERRORS.noSuchProcedure) {
          this.opts.logger.warn('the router has no subscription meta API (wamp.subscription.match): publishing every app log without knowing whether anyone listens');
          this.publishAll = true;
          for (const c of sources) this.start(c);
          return;
        }
        this.opts.logger.warn({ err, container }, 'could not ask the router whether anyone listens to this app log');
      }
    }
  }

  /** Session end: every stream stops; the next session asks again. */
  detach(): void {
    this.session = null;
    this.publishAll = false;
    this.gate.reset();
    for (const stop of this.streams.values()) stop();
    this.streams.clear();
  }

  /** Whether someone listens to this container's log topic. */
  wanted(container: string): boolean {
    return this.publishAll || this.gate.wanted(container);
  }

  /** A message for the app's log topic (transfer progress), sent only when someone listens. */
  publishMessage(container: string, payload: unknown): void {
    if (!this.session || !this.wanted(container)) return;
    this.session.publish(logTopic(this.opts.serial, container), [payload]).catch(() => {});
  }

  private apply(change: GateChange): void {
    if (!change) return;
    if ('start' in change) this.start(change.start);
    else if ('stop' in change) {
      if (!this.gate.everything() && !this.publishAll) this.stop(change.stop);
    } else if ('startAll' in change) {
      void this.opts.apps.logSources().then((all) => all.forEach((c) => this.start(c)), () => {});
    } else if ('stopAll' in change) {
      for (const c of [...this.streams.keys()]) if (!this.gate.wanted(c)) this.stop(c);
    }
  }

  private start(container: string): void {
    if (this.streams.has(container) || !this.session) return;
    const session = this.session;
    const topic = logTopic(this.opts.serial, container);
    this.opts.logger.debug({ container }, 'someone listens to this app log: publishing it');
    const stop = this.opts.apps.subscribeLogBatches(container, (batch: LogBatch) => {
      if (this.session !== session) return;
      if (batch.lines.length > 0) session.publish(topic, [batch.lines.join('\n')]).catch(() => {});
      for (const chunk of batch.messages) session.publish(topic, [{ type: 'build', chunk }]).catch(() => {});
    });
    this.streams.set(container, stop);
  }

  private stop(container: string): void {
    const stop = this.streams.get(container);
    if (!stop) return;
    this.streams.delete(container);
    stop();
    this.opts.logger.debug({ container }, 'nobody listens to this app log any more: stopped publishing it');
  }
}
