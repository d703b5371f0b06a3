// The drawable shape of a statechart: states nested as in the machine, and
// every transition with its event, delay and guard, taken from XState's
// `machine.toJSON()`. The page lays it out (elkjs) and draws it; this only
// distils what the drawing needs, with state paths relative to the root
// ("connected.alive") so they match `snapshot.value` directly.
import type { AnyStateMachine } from 'xstate';

export interface ChartNode {
  key: string;
  /** Dot path from the root, "" for the root itself. */
  path: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Key of the initial child of a compound state. */
  initial: string | null;
  children: ChartNode[];
  entry: string[];
  exit: string[];
}

export interface ChartEdge {
  id: string;
  source: string;
  /** Target paths; empty for a transition that only runs actions. */
  targets: string[];
  /** What the edge is labelled with: the event, "after <delay>" or "always". */
  label: string;
  event: string;
  /** Named (resolved per actor by the page's host) or a number of ms. */
  delay: string | number | null;
  guard: string | null;
  actions: string[];
  reenter: boolean;
}

export interface Chart {
  machine: string;
  version: number;
  rootId: string;
  root: ChartNode;
  edges: ChartEdge[];
}

interface JsonNode {
  id: string;
  key: string;
  type: ChartNode['type'];
  initial?: { target?: unknown[] };
  states?: Record<string, JsonNode>;
  transitions?: JsonTransition[];
  entry?: unknown[];
  exit?: unknown[];
}

interface JsonTransition {
  eventType?: string | null;
  target?: unknown[];
  delay?: string | number;
  guard?: unknown;
  actions?: unknown[];
  reenter?: boolean;
}

export function chartOf(name: string, version: number, logic: AnyStateMachine): Chart {
  const json = logic.toJSON() as unknown as JsonNode;
  const rootId = json.id;
  const edges: ChartEdge[] = [];
  const toPath = (ref: unknown): string | null => {
    const id = typeof ref === 'string' ? ref.replace(/^#/, '') : ref && typeof ref === 'object' && 'id' in ref ? String((ref as { id: unknown }).id) : null;
    if (id === null) return null;
    if (id === rootId) return '';
    return id.startsWith(`${rootId}.`) ? id.slice(rootId.length + 1) : id;
  };
  const walk = (node: JsonNode, path: string): ChartNode => {
    const children = Object.entries(node.states ?? {}).map(([key, child]) => walk(child, path ? `${path}.${key}` : key));
    for (const t of node.transitions ?? []) {
      const event = t.eventType ?? '';
      const delay = t.delay ?? null;
      edges.push({
        id: `e${edges.length}`,
        source: path,
        targets: (t.target ?? []).map(toPath).filter((p): p is string => p !== null),
        label: delay !== null ? `after ${typeof delay === 'number' ? `${delay}ms` : delay}` : event === '' ? 'always' : event,
        event,
        delay,
        guard: nameOf(t.guard),
        actions: (t.actions ?? []).map(nameOf).filter((a): a is string => a !== null && !a.startsWith('xstate.')),
        reenter: t.reenter === true,
      });
    }
    const initialTarget = node.initial?.target?.[0];
    const initialPath = initialTarget === undefined ? null : toPath(initialTarget);
    return {
      key: node.key,
      path,
      type: node.type,
      initial: initialPath === null || initialPath === path ? null : initialPath.split('.').at(-1)!,
      children,
      entry: (node.entry ?? []).map(nameOf).filter((a): a is string => a !== null && !a.startsWith('xstate.')),
      exit: (node.exit ?? []).map(nameOf).filter((a): a is string => a !== null && !a.startsWith('xstate.')),
    };
  };
  return { machine: name, version, rootId, root: walk(json, ''), edges };
}

function nameOf(x: unknown): string | null {
  if (typeof x === 'string') return x;
  if (x && typeof x === 'object' && 'type' in x && typeof (x as { type: unknown }).type === 'string') return (x as { type: string }).type;
  return null;
}

/** Every active state path of a snapshot value: `{connected: 'alive'}` → ["connected", "connected.alive"]. */
export function activePaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix ? `${prefix}.${value}` : value];
  if (!value || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [key, sub] of Object.entries(value)) {
    const p = prefix ? `${prefix}.${key}` : key;
    out.push(p, ...activePaths(sub, p));
  }
  return out;
}

/** The delays an actor's machine names, resolved with its context (`after connectTimeout` is 1250 ms for this actor). */
export function resolveDelays(logic: AnyStateMachine, context: unknown): Record<string, number> {
  const delays = (logic.implementations?.delays ?? {}) as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const [name, d] of Object.entries(delays)) {
    try {
      const ms = typeof d === 'function' ? (d as (a: { context: unknown; event: unknown }) => unknown)({ context, event: { type: '' } }) : d;
      if (typeof ms === 'number' && Number.isFinite(ms)) out[name] = ms;
    } catch {
      // A delay that needs more than the context (the event, say) stays unresolved.
    }
  }
  return out;
}
