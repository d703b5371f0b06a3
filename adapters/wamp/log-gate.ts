// Who listens to which app's log topic, from the router's subscription meta
// events. Pure bookkeeping: the publisher asks it what to start and stop.
//
// A subscription id is remembered per topic, and an `on_delete` only stops a
// topic when it names that topic's current subscription: after a browser
// refresh the new subscription's `on_create` may arrive before the old one's
// `on_delete`, and publishing must not switch off then (the Reagent's rule).
// A prefix subscription covering `reswarm.logs.<serial>.` (the appliance's
// cloud bridge) makes every container's logs wanted.
import { logTopicPrefix } from './wire.js';

export interface SubscriptionDetails {
  id: number | string;
  uri: string;
  match: string;
}

export type GateChange = { start: string } | { stop: string } | { startAll: true } | { stopAll: true } | null;

export class LogGate {
  private readonly prefix: string;
  private readonly exact = new Map<string, number | string>();
  private readonly wildcards = new Set<number | string>();

  constructor(serial: string) {
    this.prefix = logTopicPrefix(serial);
  }

  /** The container a topic is about, or undefined when it is not one of ours. */
  containerOf(topic: string): string | undefined {
    if (!topic.startsWith(this.prefix)) return undefined;
    const rest = topic.slice(this.prefix.length);
    return rest !== '' && !rest.includes('.') ? rest : undefined;
  }

  created(details: SubscriptionDetails): GateChange {
    if (details.match === 'prefix' && this.prefix.startsWith(details.uri)) {
      const first = this.wildcards.size === 0;
      this.wildcards.add(details.id);
      return first ? { startAll: true } : null;
    }
    if (details.match !== 'exact' && details.match !== undefined) return null;
    const container = this.containerOf(details.uri);
    if (container === undefined) return null;
    const had = this.exact.has(container);
    this.exact.set(container, details.id);
    return had ? null : { start: container };
  }

  /** A topic found subscribed by `wamp.subscription.match`. */
  matched(container: string, id: number | string): GateChange {
    const had = this.exact.has(container);
    this.exact.set(container, id);
    return had ? null : { start: container };
  }

  deleted(id: number | string): GateChange {
    if (this.wildcards.delete(id)) return this.wildcards.size === 0 ? { stopAll: true } : null;
    for (const [container, current] of this.exact) {
      if (current === id) {
        this.exact.delete(container);
        return { stop: container };
      }
    }
    return null;
  }

  wanted(container: string): boolean {
    return this.wildcards.size > 0 || this.exact.has(container);
  }

  everything(): boolean {
    return this.wildcards.size > 0;
  }

  subscribed(): string[] {
    return [...this.exact.keys()];
  }

  reset(): void {
    this.exact.clear();
    this.wildcards.clear();
  }
}
