// The Prometheus text exposition format (version 0.0.4), written by hand:
// prom-client would cost ~9 MiB of resident memory for what is a few lines
// of text here (README, "Health and metrics"). Names and label names are
// fixed in this file's callers; label values are escaped as the format says.

export type MetricType = 'gauge' | 'counter' | 'histogram';

export interface Sample {
  /** Suffix after the family name (`_bucket`, `_sum`, `_count`) or ''. */
  suffix?: string;
  labels?: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function renderFamilies(families: readonly Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`metric name ${JSON.stringify(f.name)} is not a Prometheus name`);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) out.push(`${f.name}${s.suffix ?? ''}${renderLabels(s.labels)} ${renderValue(s.value)}`);
  }
  return `${out.join('\n')}\n`;
}

function renderLabels(labels: Record<string, string> | undefined): string {
  if (!labels) return '';
  const parts = Object.entries(labels).map(([k, v]) => {
    if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`label name ${JSON.stringify(k)} is not a Prometheus label name`);
    return `${k}="${escapeLabel(v)}"`;
  });
  return parts.length ? `{${parts.join(',')}}` : '';
}

export function renderValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A histogram family from per-bucket counts (not cumulative) and the upper bounds. */
export function histogram(name: string, help: string, bounds: readonly number[], counts: readonly number[], sum: number, count: number): Family {
  const samples: Sample[] = [];
  let running = 0;
  bounds.forEach((b, i) => {
    running += counts[i] ?? 0;
    samples.push({ suffix: '_bucket', labels: { le: renderValue(b) }, value: running });
  });
  samples.push({ suffix: '_bucket', labels: { le: '+Inf' }, value: count }, { suffix: '_sum', value: sum }, { suffix: '_count', value: count });
  return { name, help, type: 'histogram', samples };
}
