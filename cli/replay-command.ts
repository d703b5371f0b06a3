// `reagent replay FILE [--until SEQ] [--actor ID] [--run ID] [--json]`:
// re-executes a recording (a journal database or an export) on virtual time
// and prints one verdict line, or JSON for scripts. Exit 0 reproduced,
// 1 diverged, 3 refused, 2 bad usage or unreadable file.
import { replayRecords, describeReport, type ReplaySnapshot } from '../actors/replay.js';
import type { MachineRegistry } from '../machines/registry.js';
import { openRecording } from '../adapters/store/recording.js';

export interface ReplayArgs {
  file: string;
  until?: number;
  actor?: string;
  run?: string;
  json: boolean;
}

export type ReplayArgsResult = { ok: true; args: ReplayArgs } | { ok: false; error: string };

const USAGE = 'usage: reagent replay FILE [--until SEQ] [--actor ID] [--run ID] [--json]';

export function parseReplayArgs(argv: readonly string[]): ReplayArgsResult {
  const args: Partial<ReplayArgs> & { json: boolean } = { json: false };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.indexOf('=');
    const name = (eq > 0 ? raw.slice(0, eq) : raw).replace(/^--?/, '');
    const inline = eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = () => inline ?? argv[++i];
    if (!raw.startsWith('-')) {
      if (args.file !== undefined) return { ok: false, error: `replay: unexpected argument "${raw}"; ${USAGE}` };
      args.file = raw;
    } else if (name === 'json') {
      args.json = true;
    } else if (name === 'until') {
      const v = value();
      if (v === undefined || !/^\d+$/.test(v)) return { ok: false, error: `replay: flag --until: expected a sequence number, got ${JSON.stringify(v ?? '')}` };
      args.until = Number(v);
    } else if (name === 'actor' || name === 'run') {
      const v = value();
      if (!v) return { ok: false, error: `replay: flag --${name}: expected an id` };
      args[name] = v;
    } else {
      return { ok: false, error: `replay: flag provided but not defined: ${raw}; ${USAGE}` };
    }
  }
  if (args.file === undefined) return { ok: false, error: `replay: FILE is required; ${USAGE}` };
  return { ok: true, args: args as ReplayArgs };
}

export interface ReplayOutput {
  out(line: string): void;
  err(line: string): void;
}

export function runReplay(args: ReplayArgs, registry: MachineRegistry, io: ReplayOutput): number {
  let recording;
  try {
    recording = openRecording(args.file);
  } catch (err) {
    io.err(`replay: ${(err as Error).message}`);
    return 2;
  }
  try {
    const snapshots = new Map<string, ReplaySnapshot>();
    for (const s of recording.snapshots) {
      // The latest snapshot per run is where a compacted history resumes.
      const prev = snapshots.get(s.run);
      if (!prev || s.seq > prev.seq) snapshots.set(s.run, s);
    }
    const report = replayRecords(recording.records({ run: args.run }), {
      registry,
      until: args.until,
      actor: args.actor,
      snapshots,
    });
    if (args.json) io.out(JSON.stringify({ file: args.file, ...report }));
    else io.out(describeReport(report));
    return report.verdict === 'reproduced' ? 0 : report.verdict === 'diverged' ? 1 : 3;
  } catch (err) {
    io.err(`replay: ${args.file}: ${(err as Error).message}`);
    return 2;
  } finally {
    recording.close();
  }
}
