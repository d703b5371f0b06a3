// `reagent --inspect`: the inspector attached to the running daemon's actor
// system. Everything dispatched from now on shows up live; what the page
// shows is redacted like the logs.
import type { ActorSystem } from '../actors/system.js';
import type { JournalRecord } from '../actors/types.js';
import type { MachineRegistry } from '../machines/registry.js';
import type { LiveContextBudget } from './live-contexts.js';
import { InspectorSession } from './session.js';
import { startInspectorServer, type InspectorServer } from './server.js';

export interface LiveInspectorOptions {
  system: ActorSystem;
  registry: MachineRegistry;
  run: string;
  agentVersion: string;
  /** `HOST:PORT` from `-inspect`. */
  address: string;
  title?: string;
  scrub?: (value: unknown) => unknown;
  maxRows?: number;
  /** Bound of the contexts kept for time travel (default: 20 000 changes, 32 MiB). */
  contextBudget?: LiveContextBudget;
  /** Fixed token (tests). */
  token?: string;
  /** Host names the inspector also answers to (`-inspectHosts`). */
  allowedHosts?: readonly string[];
  /** The system's clock reading, stamped on actors that were alive before the inspector. */
  now?: number;
  /**
   * The run's committed history, read synchronously right before the
   * inspector subscribes (commit first), so no event falls between the two.
   */
  history?: () => Iterable<JournalRecord>;
}

export interface LiveInspector extends InspectorServer {
  readonly session: InspectorSession;
}

export async function startLiveInspector(opts: LiveInspectorOptions): Promise<LiveInspector> {
  const session = new InspectorSession({
    mode: 'live',
    registry: opts.registry,
    run: opts.run,
    agentVersion: opts.agentVersion,
    title: opts.title ?? 'live daemon',
    scrub: opts.scrub,
    maxRows: opts.maxRows,
    contextBudget: opts.contextBudget,
  });
  if (opts.history) session.seed(opts.history());
  const detach = session.attach(opts.system, opts.now ?? 0);
  let server: InspectorServer;
  try {
    server = await startInspectorServer({ session, address: opts.address, token: opts.token, allowedHosts: opts.allowedHosts });
  } catch (err) {
    detach();
    throw err;
  }
  return {
    session,
    url: server.url,
    origin: server.origin,
    token: server.token,
    port: server.port,
    async close() {
      detach();
      await server.close();
    },
  };
}
