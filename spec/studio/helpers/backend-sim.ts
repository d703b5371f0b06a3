// The IronFlock backend, as far as the agent talks to it: the `reswarm.*`
// procedures it calls (and the router's `wamp.session.add_testament`), on the
// real router, recording every call. The privilege check answers from an
// allow-list; `update_app_on_device` records every report and counts repeats
// of a report id (the at-least-once redeliveries the outbox may make).
import autobahn from 'autobahn';
import { connectPeer, type Peer } from './wamp-peer.js';

export interface RecordedCall {
  procedure: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  caller: string | null;
  at: number;
}

export interface Report {
  reportId: string | null;
  payload: Record<string, unknown>;
}

export interface BackendSimOptions {
  url: string;
  authid: string;
  secret: string;
  /** `privilege:account` pairs that check_privilege allows, or `*:account` for every privilege. */
  allow?: string[];
  requestedAppStates?: unknown[];
  appCredKey?: string;
  /** What `get_registry_token` answers (IronFlock: `[token]`, the registry username; the password is the device secret). */
  registryToken?: string;
  metadata?: Record<string, unknown>;
}

export const BACKEND_PROCEDURES = [
  'wamp.session.add_testament',
  'reswarm.devices.check_privilege',
  'reswarm.devices.update_device_status',
  'reswarm.devices.read_device_metadata',
  'reswarm.devices.update_device_architecture',
  'reswarm.devices.get_app_cred_key',
  'reswarm.containers.get_requested_app_states',
  'reswarm.containers.update_app_on_device',
  'reswarm.containers.get_registry_token',
] as const;

export class BackendSim {
  readonly calls: RecordedCall[] = [];
  /** Every delivery of update_app_on_device, repeats included. */
  readonly deliveries: Report[] = [];
  readonly allow: Set<string>;
  requestedAppStates: unknown[];
  registryToken: string;
  /** Procedures that fail (with an application error) for their next N calls. */
  readonly failures = new Map<string, number>();
  /** Procedures that never answer (until `release()`), to exercise timeouts. */
  readonly hangs = new Set<string>();
  private readonly held: Array<() => void> = [];
  /** Testaments the sim "fired" because the session that added them left. */
  readonly testamentsFired: Array<{ topic: string; args: unknown }> = [];
  private readonly testaments = new Map<number, { topic: string; args: unknown }>();
  private peer: Peer | null = null;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly opts: BackendSimOptions) {
    this.allow = new Set(opts.allow ?? []);
    this.requestedAppStates = opts.requestedAppStates ?? [];
    this.registryToken = opts.registryToken ?? 'registry-token-for-tests';
  }

  async start(): Promise<void> {
    this.peer = await connectPeer(this.opts.url, this.opts.authid, this.opts.secret);
    const s = this.peer.session;
    const reg = (name: string, fn: (args: unknown[], kwargs: Record<string, unknown>) => unknown) =>
      s.register(
        name,
        async (args: unknown[] = [], kwargs: Record<string, unknown> = {}, details?: { caller_authid?: string; caller?: number }) => {
          this.calls.push({ procedure: name, args, kwargs, caller: details?.caller_authid ?? null, at: Date.now() });
          if (name === 'wamp.session.add_testament' && typeof details?.caller === 'number') {
            this.testaments.set(details.caller, { topic: String(args[0]), args: args[1] });
          }
          this.notify();
          if (this.hangs.has(name)) await new Promise<void>((r) => this.held.push(r));
          const left = this.failures.get(name) ?? 0;
          if (left > 0) {
            this.failures.set(name, left - 1);
            throw new autobahn.Error('reswarm.error.simulated', ['simulated failure']);
          }
          return fn(args, kwargs);
        },
        { disclose_caller: true } as unknown as autobahn.IRegisterOptions,
      );
    await Promise.all([
      reg('wamp.session.add_testament', () => new autobahn.Result([])),
      reg('reswarm.devices.check_privilege', (args) => {
        const q = (args[0] ?? {}) as { privilege?: string; requestor_account_key?: unknown };
        const account = String(q.requestor_account_key);
        return new autobahn.Result([this.allow.has(`${q.privilege}:${account}`) || this.allow.has(`*:${account}`)]);
      }),
      reg('reswarm.devices.update_device_status', () => new autobahn.Result([{ reswarmBaseURL: 'http://127.0.0.1' }])),
      reg('reswarm.devices.read_device_metadata', (args) => {
        const q = (args[0] ?? {}) as { device_key?: number };
        return new autobahn.Result([{ device_name: 'test-device', swarm_name: 'test-swarm', ownername: 'tester', ...this.opts.metadata, device_key: q.device_key }]);
      }),
      reg('reswarm.devices.update_device_architecture', () => new autobahn.Result([])),
      reg('reswarm.devices.get_app_cred_key', () => new autobahn.Result([this.opts.appCredKey ?? 'app-cred-key-for-tests'])),
      reg('reswarm.containers.get_requested_app_states', () => new autobahn.Result([this.requestedAppStates])),
      reg('reswarm.containers.get_registry_token', () => new autobahn.Result([this.registryToken])),
      reg('reswarm.containers.update_app_on_device', (args, kwargs) => {
        this.deliveries.push({ reportId: typeof kwargs.report_id === 'string' ? kwargs.report_id : null, payload: (args[0] ?? {}) as Record<string, unknown> });
        return new autobahn.Result([]);
      }),
    ]);
    // The router's own session meta event: fire the testament of a session that left.
    await s.subscribe('wamp.session.on_leave', (args: unknown[] = []) => {
      const id = args[0];
      const t = typeof id === 'number' ? this.testaments.get(id) : undefined;
      if (t) {
        this.testaments.delete(id as number);
        this.testamentsFired.push(t);
        this.notify();
      }
    });
  }

  async stop(): Promise<void> {
    this.release();
    await this.peer?.close();
    this.peer = null;
  }

  /** Answers every held call. */
  release(): void {
    this.hangs.clear();
    for (const r of this.held.splice(0)) r();
  }

  callsTo(procedure: string): RecordedCall[] {
    return this.calls.filter((c) => c.procedure === procedure);
  }

  statuses(): string[] {
    return this.callsTo('reswarm.devices.update_device_status').map((c) => String((c.args[0] as { status?: unknown })?.status));
  }

  /** Reports once each (a redelivery of the same id is not applied twice). */
  reports(): Report[] {
    const seen = new Set<string>();
    return this.deliveries.filter((r) => {
      if (r.reportId === null) return true;
      if (seen.has(r.reportId)) return false;
      seen.add(r.reportId);
      return true;
    });
  }

  /** Reports of one app, in arrival order, as their states. */
  statesOf(appKey: number, stage: string): string[] {
    return this.reports()
      .filter((r) => r.payload.app_key === appKey && r.payload.stage === stage)
      .map((r) => String(r.payload.state));
  }

  /** Resolves once `check` holds (checked after every call the sim receives, and every 50 ms). */
  async until(check: () => boolean, timeoutMs = 15_000, what = 'backend condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; calls so far: ${this.calls.map((c) => c.procedure).join(', ')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
