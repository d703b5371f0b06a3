// `query_app_logs` and `get_app_log_history`: windows of an app's output.
// Docker's retained log answers first (since/until/tail/timestamps applied);
// when the engine cannot (the container is gone, the engine is away) the
// stored history answers with `source: "history"`, meaning the window could
// not be applied. The studio link parses the query (times, defaults).

import type Dockerode from 'dockerode';
import { NamingError, validateContainerName } from '../adapters/docker/naming.js';
import { readLogWindow } from '../adapters/docker/log-window.js';
import type { AppLogQuery, AppLogQueryResult } from './service.js';
import type { AppLogHistory } from './log-history.js';

/** The Reagent's bounds of one answer. */
export const LOG_QUERY_LIMITS = { maxLines: 5000, maxBytes: 4 * 1024 * 1024, historyDockerTail: 50 } as const;

/** Our app containers only: `dev_…`, `prod_…` (and `pub_…`, the publish log). */
export function validateAppContainerName(value: unknown): string {
  const expected = 'the container name of an app, like "prod_<appKey>_<name>"';
  let name: string;
  try {
    name = validateContainerName(value);
  } catch {
    throw new NamingError('containerName', value, expected);
  }
  if (!/^(dev|prod|pub)_[a-z0-9-]+_[a-z0-9_.-]+$/.test(name)) throw new NamingError('containerName', value, expected);
  return name;
}

export async function queryAppLogs(docker: Dockerode, history: AppLogHistory, q: AppLogQuery, nowMs: number): Promise<AppLogQueryResult> {
  const device_time = new Date(nowMs).toISOString();
  const name = validateAppContainerName(q.containerName);
  const tail = Math.min(Math.max(0, Math.floor(q.tail)), LOG_QUERY_LIMITS.maxLines);
  const offset = Math.min(Math.max(0, Math.floor(q.offset)), LOG_QUERY_LIMITS.maxLines);
  try {
    const w = await readLogWindow(docker, name, {
      tail: tail + offset,
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.until !== undefined ? { until: q.until } : {}),
      timestamps: q.timestamps,
      maxLines: tail + offset,
      maxBytes: LOG_QUERY_LIMITS.maxBytes,
    });
    const lines = offset > 0 ? w.lines.slice(0, Math.max(0, w.lines.length - offset)) : w.lines;
    return { lines, source: 'docker', returned: lines.length, truncated: w.truncated, device_time };
  } catch {
    const stored = history.read(name)?.lines ?? [];
    const end = Math.max(0, stored.length - offset);
    const lines = stored.slice(Math.max(0, end - tail), end);
    return { lines, source: 'history', returned: lines.length, truncated: lines.length < stored.length, device_time };
  }
}

/**
 * `get_app_log_history`: the kept lines; when they hold no output of the app
 * itself, Docker's last 50 lines are added, as the Reagent does.
 */
export async function appLogHistory(docker: Dockerode, history: AppLogHistory, containerName: string): Promise<string[]> {
  const name = validateAppContainerName(containerName);
  const stored = history.read(name);
  if (stored?.hasAppOutput) return stored.lines;
  const base = stored?.lines ?? [];
  try {
    const w = await readLogWindow(docker, name, {
      tail: LOG_QUERY_LIMITS.historyDockerTail,
      maxLines: LOG_QUERY_LIMITS.historyDockerTail,
      maxBytes: LOG_QUERY_LIMITS.maxBytes,
    });
    return [...base, ...w.lines];
  } catch {
    return base;
  }
}
