// `-help`, laid out like Go's flag.PrintDefaults so Reagent users find what
// they know, with the effective defaults for this host (they depend on the
// platform and the home directory) and our deliberate departures spelled out.
import { HOOP_ENV_DOC } from '../config/hoop-env.js';
import { COMMANDS, defaultAgentDir, flagDefault, type CommandSpec, type FlagSpec, type HostInfo } from './flags.js';

export function renderHelp(table: readonly FlagSpec[], host: HostInfo): string {
  const ctx = { ...host, agentDir: defaultAgentDir(host) };
  const lines = ['Usage of reagent:'];
  // Byte order, like Go's sort.Strings.
  const sorted = [...table].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const spec of sorted) {
    lines.push(`  -${spec.name} ${spec.type}`);
    lines.push(`    \t${spec.meaning} ${describeDefault(spec, flagDefault(spec, ctx))}`);
    if (spec.reagent) lines.push(`    \t${spec.reagent}`);
  }

  lines.push('', 'Commands (reagent [flags] COMMAND [ARGS]):');
  const shown = (COMMANDS as readonly CommandSpec[]).filter((c) => !c.hidden);
  const usages = shown.map((c) => [c.name, ...c.args].join(' '));
  const width = Math.max(...usages.map((u) => u.length));
  shown.forEach((c, i) => lines.push(`  ${(usages[i] ?? '').padEnd(width)}  ${c.summary}`));
  lines.push('  Every command answers -h / --help with its own usage.');

  lines.push('', 'Environment (gateway link):');
  const envWidth = Math.max(...HOOP_ENV_DOC.map((e) => e.name.length));
  for (const e of HOOP_ENV_DOC) lines.push(`  ${e.name.padEnd(envWidth)}  ${e.meaning} (default ${e.default})`);
  return `${lines.join('\n')}\n`;
}

function describeDefault(spec: FlagSpec, value: string | boolean | number | null): string {
  if (value === null) return spec.bareValue === undefined ? '(default off)' : `(default off; ${JSON.stringify(spec.bareValue)} when given without a value)`;
  return `(default ${typeof value === 'string' ? JSON.stringify(value) : String(value)})`;
}
