// The InboundGate over the one gRPC stream of the link: paused while any
// target is slower than the gateway, and a target that holds it back for
// longer than `stallMs` is cut off so the other sessions go on.
import type { GatewayCall } from '../transport.js';
import type { InboundGate } from './types.js';

export class StreamGate implements InboundGate {
  private readonly blocked = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly call: GatewayCall,
    private readonly stallMs: number,
  ) {}

  block(key: string, onStall: () => void): void {
    if (this.blocked.has(key)) return;
    const timer = setTimeout(() => {
      this.unblock(key);
      onStall();
    }, this.stallMs);
    this.blocked.set(key, timer);
    if (this.blocked.size === 1) this.call.pause();
  }

  unblock(key: string): void {
    const timer = this.blocked.get(key);
    if (!timer) return;
    clearTimeout(timer);
    this.blocked.delete(key);
    if (this.blocked.size === 0) this.call.resume();
  }

  reset(): void {
    for (const t of this.blocked.values()) clearTimeout(t);
    this.blocked.clear();
  }
}
