// A strict reader of the Prometheus text exposition format 0.0.4, for the
// tests: it throws on anything Prometheus would reject (and on a few things it
// merely tolerates: a sample before its TYPE, a family split in two, a
// duplicate series, a histogram whose buckets are not cumulative).
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: string;
  help: string;
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  const families = new Map<string, ParsedFamily>();
  const closed = new Set<string>();
  let current: ParsedFamily | null = null;
  const series = new Set<string>();
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, i) => {
    const at = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line === '') throw new Error(`${at}: empty line`);
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (!m) throw new Error(`${at}: a comment that is neither HELP nor TYPE`);
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (closed.has(name)) throw new Error(`${at}: family ${name} appears twice`);
      if (current && current.name !== name) closed.add(current.name);
      const f = families.get(name) ?? { name, type: '', help: '', samples: [] };
      families.set(name, f);
      current = f;
      if (kind === 'TYPE') {
        if (f.type) throw new Error(`${at}: second TYPE`);
        if (f.samples.length) throw new Error(`${at}: TYPE after samples`);
        if (!TYPES.has(rest)) throw new Error(`${at}: unknown type`);
        f.type = rest;
      } else {
        if (f.help) throw new Error(`${at}: second HELP`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${at}: bad escape in HELP`);
        f.help = rest;
      }
      return;
    }
    const nm = NAME.exec(line);
    if (!nm) throw new Error(`${at}: no metric name`);
    const name = nm[0];
    let pos = name.length;
    const labels: Record<string, string> = {};
    if (line[pos] === '{') {
      pos++;
      while (line[pos] !== '}') {
        const lm = LABEL.exec(line.slice(pos));
        if (!lm) throw new Error(`${at}: bad label name at ${pos}`);
        const key = lm[0];
        if (key in labels) throw new Error(`${at}: label ${key} twice`);
        pos += key.length;
        if (line.slice(pos, pos + 2) !== '="') throw new Error(`${at}: expected =" after ${key}`);
        pos += 2;
        let value = '';
        for (;;) {
          const c = line[pos];
          if (c === undefined) throw new Error(`${at}: unterminated label value`);
          if (c === '"') break;
          if (c === '\\') {
            const e = line[pos + 1];
            if (e === '\\') value += '\\';
            else if (e === '"') value += '"';
            else if (e === 'n') value += '\n';
            else throw new Error(`${at}: bad escape \\${e ?? ''}`);
            pos += 2;
          } else {
            value += c;
            pos++;
          }
        }
        pos++;
        labels[key] = value;
        if (line[pos] === ',') pos++;
        else if (line[pos] !== '}') throw new Error(`${at}: expected , or } after a label`);
      }
      pos++;
    }
    if (line[pos] !== ' ') throw new Error(`${at}: expected one space before the value`);
    const parts = line.slice(pos + 1).split(' ');
    if (parts.length > 2 || parts.some((p) => p === '')) throw new Error(`${at}: expected VALUE [TIMESTAMP]`);
    const value = parseValue(parts[0]!, at);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${at}: bad timestamp`);
    const family = familyOf(name, families);
    if (!family || family !== current) throw new Error(`${at}: sample outside its family's block (HELP/TYPE first)`);
    if (!family.type) throw new Error(`${at}: sample before TYPE`);
    const suffix = name.slice(family.name.length);
    const allowed = family.type === 'histogram' ? ['_bucket', '_sum', '_count'] : family.type === 'summary' ? ['', '_sum', '_count'] : [''];
    if (!allowed.includes(suffix)) throw new Error(`${at}: ${name} in a ${family.type} family`);
    const key = `${name}{${Object.entries(labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (series.has(key)) throw new Error(`${at}: duplicate series ${key}`);
    series.add(key);
    family.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function familyOf(sample: string, families: Map<string, ParsedFamily>): ParsedFamily | undefined {
  if (families.has(sample)) return families.get(sample);
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sample.endsWith(suffix) && families.has(sample.slice(0, -suffix.length))) return families.get(sample.slice(0, -suffix.length));
  }
  return undefined;
}

function parseValue(text: string, at: string): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`${at}: bad value ${text}`);
  return Number(text);
}

function checkHistogram(f: ParsedFamily): void {
  const buckets = f.samples.filter((s) => s.name.endsWith('_bucket'));
  const count = f.samples.find((s) => s.name.endsWith('_count'));
  if (!f.samples.some((s) => s.name.endsWith('_sum')) || !count) throw new Error(`${f.name}: histogram without _sum or _count`);
  let last = -Infinity;
  let prev = 0;
  for (const b of buckets) {
    const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
    if (b.labels.le === undefined || Number.isNaN(le)) throw new Error(`${f.name}: bucket without a numeric le`);
    if (le <= last) throw new Error(`${f.name}: buckets not in increasing le`);
    if (b.value < prev) throw new Error(`${f.name}: buckets not cumulative`);
    last = le;
    prev = b.value;
  }
  if (last !== Infinity) throw new Error(`${f.name}: no +Inf bucket`);
  if (prev !== count.value) throw new Error(`${f.name}: +Inf bucket ${prev} is not _count ${count.value}`);
}
