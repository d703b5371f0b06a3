// The daemon's numbers as Prometheus families. Only fixed names and label
// values from closed sets (link names, states): no app names, no endpoints,
// no error texts, so a scrape carries nothing a secret could hide in.
import { COMMIT_BUCKETS, type CommitStats } from './commit-stats.js';
import type { LinkPhase, LinkStatus } from './link-watch.js';
import { histogram, type Family } from './prom-text.js';
import { APP_STATES } from '../../machines/app-states.js';

export interface MetricsInput {
  version: string;
  links: readonly LinkStatus[];
  /** Network links configured for this run. */
  configured: readonly string[];
  commits: CommitStats;
  /** Bytes of the journal file (pages in use), or null when it cannot be read now. */
  journalBytes: number | null;
  journalBufferedBytes: number;
  /** State of each app actor (top-level state names). */
  appStates: readonly string[];
  /** Reports waiting in the studio outbox; null without a studio link. */
  outboxDepth: number | null;
  memory: NodeJS.MemoryUsage;
  startedAtSeconds: number;
  /** The update state file's phase, or null when no update ever ran. */
  updatePhase: string | null;
}

const PHASES: readonly LinkPhase[] = ['idle', 'connecting', 'connected', 'backoff'];
const UPDATE_PHASES = ['downloading', 'swapping', 'probation', 'committed', 'rolled back'] as const;

export function collectFamilies(m: MetricsInput): Family[] {
  const names = [...new Set([...m.configured, ...m.links.map((l) => l.name)])].sort();
  const byName = (n: string) => m.links.find((l) => l.name === n);
  const families: Family[] = [
    { name: 'reagent_build_info', help: 'The running agent version (value is always 1).', type: 'gauge', samples: [{ labels: { version: m.version }, value: 1 }] },
    {
      name: 'reagent_link_up',
      help: 'Whether a network link works (1: connected and its on-connect sequence done) or not (0).',
      type: 'gauge',
      samples: names.map((n) => ({ labels: { link: n }, value: byName(n)?.working ? 1 : 0 })),
    },
    {
      name: 'reagent_link_state',
      help: "The phase of each link's connection statechart (1 for the current one).",
      type: 'gauge',
      samples: names.flatMap((n) => PHASES.map((p) => ({ labels: { link: n, state: p }, value: byName(n)?.phase === p ? 1 : 0 }))),
    },
    {
      name: 'reagent_link_connects_total',
      help: 'Successful connects of each link in this run.',
      type: 'counter',
      samples: names.map((n) => ({ labels: { link: n }, value: byName(n)?.connects ?? 0 })),
    },
    {
      name: 'reagent_link_reconnects_total',
      help: 'Connects after the first one (the link was lost and came back) in this run.',
      type: 'counter',
      samples: names.map((n) => ({ labels: { link: n }, value: Math.max(0, (byName(n)?.connects ?? 0) - 1) })),
    },
    {
      name: 'reagent_link_disconnects_total',
      help: 'Times a connected link was lost or closed in this run.',
      type: 'counter',
      samples: names.map((n) => ({ labels: { link: n }, value: byName(n)?.disconnects ?? 0 })),
    },
  ];
  if (m.journalBytes !== null) families.push({ name: 'reagent_journal_bytes', help: 'Size of the journal file (pages in use).', type: 'gauge', samples: [{ value: m.journalBytes }] });
  families.push(
    { name: 'reagent_journal_buffered_bytes', help: 'Memory held for journal records not committed yet.', type: 'gauge', samples: [{ value: m.journalBufferedBytes }] },
    { name: 'reagent_journal_commit_failing', help: 'Whether the last journal commit failed (1), e.g. a full disk.', type: 'gauge', samples: [{ value: m.commits.failing ? 1 : 0 }] },
    { name: 'reagent_journal_commit_failures_total', help: 'Journal commits that failed in this run.', type: 'counter', samples: [{ value: m.commits.failed }] },
    histogram('reagent_journal_commit_duration_seconds', 'Duration of successful journal group commits.', COMMIT_BUCKETS, m.commits.buckets, m.commits.sumSeconds, m.commits.ok),
    {
      name: 'reagent_apps',
      help: 'Apps by state.',
      type: 'gauge',
      samples: [...APP_STATES].map((s) => ({ labels: { state: s }, value: m.appStates.filter((a) => a === s).length })),
    },
  );
  if (m.outboxDepth !== null) families.push({ name: 'reagent_outbox_depth', help: 'App state reports waiting in the studio outbox.', type: 'gauge', samples: [{ value: m.outboxDepth }] });
  families.push(
    {
      name: 'reagent_update_phase',
      help: 'The phase of the last self-update (1 for the current one; all 0 when none ever ran).',
      type: 'gauge',
      samples: UPDATE_PHASES.map((p) => ({ labels: { phase: p }, value: m.updatePhase === p ? 1 : 0 })),
    },
    { name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', type: 'gauge', samples: [{ value: m.memory.rss }] },
    { name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.', type: 'gauge', samples: [{ value: m.startedAtSeconds }] },
    { name: 'nodejs_heap_size_total_bytes', help: 'V8 heap size in bytes.', type: 'gauge', samples: [{ value: m.memory.heapTotal }] },
    { name: 'nodejs_heap_size_used_bytes', help: 'V8 heap used in bytes.', type: 'gauge', samples: [{ value: m.memory.heapUsed }] },
    { name: 'nodejs_external_memory_bytes', help: 'Memory of C++ objects bound to JavaScript (includes SQLite\'s WebAssembly heap).', type: 'gauge', samples: [{ value: m.memory.external }] },
  );
  return families;
}
