// The times log queries accept, as in the Reagent (src/logging/query.go): an
// RFC3339 timestamp, Unix seconds (a number or a string of digits), or a Go
// duration meaning "that long ago" ("15m", "1h30m", "500ms").
import { fail } from './validate.js';

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

export const TIME_EXPECTED = 'an RFC3339 time, Unix seconds, or a duration like "15m" meaning that long ago';

/** Go duration text to milliseconds, or undefined when it is not one. */
export function parseDurationMs(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  return Number.isFinite(ms) ? ms : undefined;
}

/** A log time as Unix seconds, or a WAMP error naming `field`. */
export function parseLogTime(field: string, value: unknown, nowMs: number): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value < 1e11) return value;
  if (typeof value === 'string') {
    const s = value.trim();
    if (/^\d{1,11}(?:\.\d+)?$/.test(s)) return Number(s);
    const ago = parseDurationMs(s);
    if (ago !== undefined) return Math.max(0, (nowMs - ago) / 1000);
    if (RFC3339.test(s)) {
      const t = Date.parse(s);
      if (Number.isFinite(t)) return t / 1000;
    }
  }
  throw fail(field, TIME_EXPECTED, value);
}

/** Reads optional `since`/`until` of a query object; `until` may not lie before `since`. */
export function parseWindow(o: Record<string, unknown>, path: string, nowMs: number): { since?: number; until?: number } {
  const out: { since?: number; until?: number } = {};
  for (const key of ['since', 'until'] as const) {
    const v = o[key];
    if (v === undefined || v === null || v === '') continue;
    out[key] = parseLogTime(`${path}${key}`, v, nowMs);
  }
  if (out.since !== undefined && out.until !== undefined && out.until < out.since) throw fail(`${path}until`, 'a time at or after "since"', o.until);
  return out;
}
