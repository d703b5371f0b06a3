// /healthz's verdict, as a pure function of what the daemon knows: the journal
// commits, and every configured network link is up or retrying within its
// bounds (its statechart moves on when its timers say so).
import type { CommitStats } from './commit-stats.js';
import type { LinkStatus } from './link-watch.js';

/** Slack over a link's own timers before it counts as stuck: timers run late on a loaded device. */
export const STUCK_GRACE_MS = 15_000;
/** With -connTimeout 0 an attempt has no bound of its own; this long without an answer is stuck. */
export const UNBOUNDED_ATTEMPT_MS = 5 * 60_000;

export interface HealthInput {
  now: number;
  commits: Pick<CommitStats, 'failing' | 'lastError'>;
  /** Network links this daemon runs (not `-offline`): `studio`, `gateway`. */
  configured: readonly string[];
  links: readonly LinkStatus[];
}

export interface Health {
  ok: boolean;
  /** One line per problem; empty when ok. */
  problems: string[];
  /** One line per link: what it is doing. */
  links: string[];
}

export function judgeHealth(input: HealthInput): Health {
  const problems: string[] = [];
  if (input.commits.failing) problems.push(`journal cannot commit: ${input.commits.lastError ?? 'unknown reason'}`);
  const lines: string[] = [];
  for (const name of input.configured) {
    const s = input.links.find((l) => l.name === name);
    if (!s) {
      // The gateway link finds its credentials before it has a connection statechart.
      lines.push(`${name}: starting`);
      continue;
    }
    const held = Math.max(0, input.now - s.since);
    const secs = (ms: number) => `${Math.round(ms / 1000)} s`;
    switch (s.phase) {
      case 'connected':
        // A session still on its on-connect sequence is transient, like connecting; its steps have their own timeouts.
        lines.push(s.working ? `${name}: up for ${secs(held)}` : `${name}: connected for ${secs(held)}, on-connect sequence running`);
        break;
      case 'idle':
        lines.push(`${name}: stopped`);
        problems.push(`link ${name} is stopped`);
        break;
      case 'connecting': {
        const bound = (s.connectTimeoutMs > 0 ? s.connectTimeoutMs : UNBOUNDED_ATTEMPT_MS) + STUCK_GRACE_MS;
        lines.push(`${name}: connecting for ${secs(held)}${s.lastError ? ` (last error: ${s.lastError})` : ''}`);
        if (held > bound) problems.push(`link ${name} has been connecting for ${secs(held)}, longer than its bound of ${secs(bound)}`);
        break;
      }
      case 'backoff': {
        const bound = s.delayMs + STUCK_GRACE_MS;
        lines.push(`${name}: retrying in ${secs(Math.max(0, s.delayMs - held))}${s.lastError ? ` (last error: ${s.lastError})` : ''}`);
        if (held > bound) problems.push(`link ${name} has waited ${secs(held)} to retry, longer than its backoff of ${secs(s.delayMs)}`);
        break;
      }
    }
  }
  return { ok: problems.length === 0, problems, links: lines };
}

export function renderHealth(h: Health): string {
  const head = h.ok ? 'ok' : `unhealthy: ${h.problems.join('; ')}`;
  return [head, ...h.links].join('\n') + '\n';
}
