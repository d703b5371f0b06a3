// `reagent replay FILE [--until SEQ] [--actor ID] [--run ID] [--json] [--inspect[=HOST:PORT]]`:
// re-executes a recording (a journal database, an export or a bug report) on
// virtual time and prints one verdict line, or JSON for scripts. With
// --inspect it then serves the inspector on the replayed history (time
// travel) until interrupted. Exit 0 reproduced, 1 diverged, 3 refused,
// 2 bad usage or unreadable file.
import { basename } from 'node:path';
import { replayRecords, describeReport, type ReplayOptions, type ReplayReport, type ReplaySnapshot } from '../actors/replay.js';
import type { MachineRegistry } from '../machines/registry.js';
import type { JournalRecord } from '../actors/types.js';
import { openRecording, type Recording } from '../adapters/store/recording.js';
import { RecordingRefusedError } from '../adapters/store/recording-refused.js';
import { DEFAULT_REPLAY_MAX_MB } from '../adapters/store/export.js';

export interface ReplayArgs {
  file: string;
  until?: number;
  actor?: string;
  run?: string;
  json: boolean;
  /** `HOST:PORT` to serve the inspector on after the replay. */
  inspect?: string;
}

export type ReplayArgsResult = { ok: true; args: ReplayArgs } | { ok: false; error: string };

const USAGE = 'usage: reagent replay FILE [--until SEQ] [--actor ID] [--run ID] [--json] [--inspect[=HOST:PORT]]';
export const INSPECT_DEFAULT_ADDRESS = '127.0.0.1:9230';

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
    } else if (name === 'inspect') {
      // Like the global flag: bare means loopback on the default port; a value only with "=".
      const v = inline ?? INSPECT_DEFAULT_ADDRESS;
      const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):)?(\d{1,5})$/.exec(v);
      if (!m || Number(m[2]) > 65535) return { ok: false, error: `replay: flag --inspect: expected HOST:PORT or PORT, got ${JSON.stringify(v)}` };
      args.inspect = `${m[1] ?? '127.0.0.1'}:${Number(m[2])}`;
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

type Prepared = { ok: true; recording: Recording; options: Omit<ReplayOptions, 'registry'> } | { ok: false; code: number };

/** REAGENT_REPLAY_MAX_MB as bytes, or what is wrong with it. */
export function replayMaxBytes(env: NodeJS.ProcessEnv): number | string {
  const raw = env['REAGENT_REPLAY_MAX_MB'];
  if (raw === undefined || raw.trim() === '') return DEFAULT_REPLAY_MAX_MB * 1024 * 1024;
  if (!/^\d{1,7}$/.test(raw.trim()) || Number(raw) < 1) return `REAGENT_REPLAY_MAX_MB: expected a number of MiB from 1, got ${JSON.stringify(raw.slice(0, 40))}`;
  return Number(raw) * 1024 * 1024;
}

function prepare(args: ReplayArgs, io: ReplayOutput): Prepared {
  let recording: Recording;
  const maxBytes = replayMaxBytes(process.env);
  if (typeof maxBytes === 'string') {
    io.err(`replay: ${maxBytes}`);
    return { ok: false, code: 2 };
  }
  try {
    recording = openRecording(args.file, { maxBytes });
  } catch (err) {
    if (err instanceof RecordingRefusedError) {
      if (args.json) io.out(JSON.stringify({ file: args.file, verdict: 'refused', refusal: err.message }));
      else io.out(`refused: ${err.message}`);
      return { ok: false, code: 3 };
    }
    io.err(`replay: ${(err as Error).message}`);
    return { ok: false, code: 2 };
  }
  const snapshots = new Map<string, ReplaySnapshot>();
  for (const s of recording.snapshots) {
    // The latest snapshot per run is where a compacted history resumes.
    const prev = snapshots.get(s.run);
    if (!prev || s.seq > prev.seq) snapshots.set(s.run, s);
  }
  for (const n of recording.notes) io.err(`note: ${n}`);
  return { ok: true, recording, options: { until: args.until, actor: args.actor, snapshots, resumePoints: recording.snapshots } };
}

/** Who recorded it: agent versions that differ from ours are worth a line, machine versions decide. */
function provenance(recording: Recording, agentVersion: string | undefined) {
  const recordedWith = [...new Set(recording.runs.map((r) => r.agentVersion))];
  if (recording.header && !recordedWith.includes(recording.header.agentVersion)) recordedWith.push(recording.header.agentVersion);
  const other = agentVersion === undefined ? [] : recordedWith.filter((v) => v !== agentVersion);
  return { recordedWith, note: other.length ? `recorded by agent ${other.join(', ')}, replayed by ${agentVersion}: compatible when every machine version matches (checked at each spawn)` : null };
}

function print(args: ReplayArgs, report: ReplayReport, recording: Recording, agentVersion: string | undefined, io: ReplayOutput): number {
  const p = provenance(recording, agentVersion);
  if (args.json) io.out(JSON.stringify({ file: args.file, ...report, recordedWith: p.recordedWith, agentVersion: agentVersion ?? null }));
  else {
    io.out(describeReport(report));
    if (p.note) io.err(`note: ${p.note}`);
  }
  return report.verdict === 'reproduced' ? 0 : report.verdict === 'diverged' ? 1 : 3;
}

export function runReplay(args: ReplayArgs, registry: MachineRegistry, io: ReplayOutput, agentVersion?: string): number {
  const prepared = prepare(args, io);
  if (!prepared.ok) return prepared.code;
  const { recording } = prepared;
  try {
    const report = replayRecords(recording.records({ run: args.run }), { registry, ...prepared.options });
    return print(args, report, recording, agentVersion, io);
  } catch (err) {
    io.err(`replay: ${args.file}: ${(err as Error).message}`);
    return 2;
  } finally {
    recording.close();
  }
}

/**
 * Replays into an inspector session, then serves it until `untilStopped`
 * resolves. The URL (with its token) goes to `io.err` once.
 */
export async function inspectReplay(
  args: ReplayArgs & { inspect: string; allowedHosts?: readonly string[] },
  registry: MachineRegistry,
  io: ReplayOutput & { untilStopped: () => Promise<string> },
  agentVersion: string,
): Promise<number> {
  // Loaded here: a plain replay or the daemon never pays for the web server.
  const { InspectorSession } = await import('../inspector/session.js');
  const { startInspectorServer } = await import('../inspector/server.js');
  const prepared = prepare(args, io);
  if (!prepared.ok) return prepared.code;
  const { recording } = prepared;
  const runs = recording.runs.map((r) => r.run);
  const session = new InspectorSession({
    mode: 'replay',
    registry,
    run: runs.length === 1 ? runs[0]! : runs.length ? `${runs[0]} (+${runs.length - 1})` : basename(args.file),
    agentVersion,
    title: `replay of ${basename(args.file)}`,
  });
  let code: number;
  try {
    const report = replayRecords(recording.records({ run: args.run }), { registry, ...prepared.options });
    session.replay = { line: describeReport(report), report };
    code = print(args, report, recording, agentVersion, io);
  } catch (err) {
    io.err(`replay: ${args.file}: ${(err as Error).message}`);
    return 2;
  } finally {
    recording.close();
  }
  // The verdict stops at the first divergence; the inspector walks every
  // event (an export can be read once, so the file is opened again).
  const again = prepare(args, { out: () => {}, err: () => {} });
  if (!again.ok) return again.code;
  try {
    const { until, actor, snapshots, resumePoints } = again.options;
    session.load(upTo(again.recording.records({ run: args.run }), until), { registry, actor, snapshots, resumePoints });
  } catch (err) {
    io.err(`replay: ${args.file}: ${(err as Error).message}`);
    return 2;
  } finally {
    again.recording.close();
  }
  let server;
  try {
    server = await startInspectorServer({ session, address: args.inspect, allowedHosts: args.allowedHosts });
  } catch (err) {
    io.err(`replay: cannot serve the inspector on ${args.inspect}: ${(err as Error).message}`);
    return 2;
  }
  io.err(`inspector: ${server.url} (Ctrl-C to stop)`);
  await io.untilStopped();
  await server.close();
  session.close();
  return code;
}

function* upTo(records: Iterable<JournalRecord>, until: number | undefined): Generator<JournalRecord> {
  for (const r of records) {
    if (until !== undefined && r.seq > until) return;
    yield r;
  }
}
