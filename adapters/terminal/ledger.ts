// The ledger of terminals this daemon started: `<agentDir>/terminals-<link>.json`
// lists every PTY process (pid + its kernel start time) and docker exec that is
// running. A daemon killed with SIGKILL cannot clean up, and a shell that
// ignores SIGHUP (or a `nohup` job in it) outlives the PTY it was started on;
// the next start sweeps what the ledger still lists. The start time guards
// against PID reuse: a pid whose start time changed is someone else's process.
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type LedgerEntry =
  | { kind: 'pty'; pid: number; start: string }
  | { kind: 'exec'; container: string; execId: string; pid: number | null; start: string | null };

/** What the sweep needs from the world: /proc and signals, replaceable in tests. */
export interface ProcessTable {
  /** Start time (clock ticks since boot, /proc/<pid>/stat field 22) and session id, or null when gone. */
  stat(pid: number): { start: string; session: number } | null;
  /** Every pid whose session id is `sid`. */
  sessionMembers(sid: number): number[];
  kill(pid: number, signal: NodeJS.Signals): void;
}

export const LEDGER_LINKS = ['gateway', 'studio'] as const;
export type LedgerLink = (typeof LEDGER_LINKS)[number];

/** At most this many entries are kept: the links bound their terminals far below it. */
const MAX_ENTRIES = 4096;

export function ledgerPath(agentDir: string, link: LedgerLink): string {
  return join(agentDir, `terminals-${link}.json`);
}

export class TerminalLedger {
  private readonly entries = new Map<string, LedgerEntry>();

  constructor(
    private readonly path: string,
    private readonly procs: ProcessTable = procfs,
  ) {}

  /** Start time of a pid now, to record with it. */
  startOf(pid: number): string | null {
    return this.procs.stat(pid)?.start ?? null;
  }

  addPty(pid: number): void {
    const start = this.startOf(pid);
    if (start === null) return;
    this.put(`pty:${pid}`, { kind: 'pty', pid, start });
  }

  removePty(pid: number): void {
    if (this.entries.delete(`pty:${pid}`)) this.save();
  }

  addExec(container: string, execId: string, pid: number | null): void {
    this.put(`exec:${execId}`, { kind: 'exec', container, execId, pid, start: pid === null ? null : this.startOf(pid) });
  }

  removeExec(execId: string): void {
    if (this.entries.delete(`exec:${execId}`)) this.save();
  }

  get size(): number {
    return this.entries.size;
  }

  private put(key: string, e: LedgerEntry): void {
    if (this.entries.size >= MAX_ENTRIES) return;
    this.entries.set(key, e);
    this.save();
  }

  private save(): void {
    const tmp = `${this.path}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify({ version: 1, entries: [...this.entries.values()] }), { mode: 0o600 });
      renameSync(tmp, this.path);
    } catch {
      // A ledger that cannot be written only weakens the sweep after a crash; terminals go on.
    }
  }
}

/** Reads a ledger left by a previous run; a missing or damaged file is an empty ledger. */
export function readLedger(path: string): LedgerEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
  const list = (raw as { entries?: unknown })?.entries;
  if (!Array.isArray(list)) return [];
  const out: LedgerEntry[] = [];
  for (const e of list.slice(0, MAX_ENTRIES)) {
    if (e === null || typeof e !== 'object') continue;
    const v = e as Record<string, unknown>;
    if (v.kind === 'pty' && isPid(v.pid) && typeof v.start === 'string') out.push({ kind: 'pty', pid: v.pid, start: v.start });
    else if (v.kind === 'exec' && typeof v.execId === 'string' && /^[0-9a-f]{1,128}$/.test(v.execId) && typeof v.container === 'string') {
      out.push({ kind: 'exec', container: v.container, execId: v.execId, pid: isPid(v.pid) ? v.pid : null, start: typeof v.start === 'string' ? v.start : null });
    }
  }
  return out;
}

function isPid(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 1 && v < 2 ** 22 + 1;
}

/**
 * Kills what a previous run's ledger lists and removes the file. A PTY's
 * shell was a session leader (node-pty calls setsid), so everything in its
 * session goes, including jobs that ignored the hangup. A docker exec is
 * killed by its host pid when it is still the same process. Returns the
 * number of processes signalled.
 */
export function sweepLedger(path: string, procs: ProcessTable = procfs): number {
  try {
    return sweep(path, procs);
  } catch {
    // A sweep that fails leaves what it could not kill; the daemon starts anyway.
    return 0;
  }
}

function sweep(path: string, procs: ProcessTable): number {
  const entries = readLedger(path);
  let killed = 0;
  for (const e of entries) {
    if (e.pid === null || e.start === null) continue;
    const leader = procs.stat(e.pid);
    // The pid now belongs to another process: not ours to kill.
    if (leader !== null && leader.start !== e.start) continue;
    const targets = new Set(e.kind === 'pty' ? procs.sessionMembers(e.pid) : []);
    if (leader !== null) targets.add(e.pid);
    for (const pid of targets) {
      if (pid <= 1 || pid === process.pid) continue;
      procs.kill(pid, 'SIGKILL');
      killed++;
    }
  }
  rmSync(path, { force: true });
  return killed;
}

/** SIGKILL to every process of the session `sid` leads (a PTY's shell: node-pty calls setsid). */
export function killSession(sid: number, procs: ProcessTable = procfs): number {
  // Only live processes whose session is `sid`: a reused pid is not in that session.
  const members = new Set(procs.sessionMembers(sid));
  let n = 0;
  for (const pid of members) {
    if (pid <= 1 || pid === process.pid) continue;
    procs.kill(pid, 'SIGKILL');
    n++;
  }
  return n;
}

function statOf(pid: number): { start: string; session: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); session is field 6, starttime field 22.
  const session = Number(rest[3]);
  const start = rest[19];
  if (start === undefined || !Number.isInteger(session)) return null;
  return { start, session };
}

export const procfs: ProcessTable = {
  stat: statOf,
  sessionMembers(sid: number): number[] {
    const out: number[] = [];
    let names: string[];
    try {
      names = readdirSync('/proc');
    } catch {
      return out;
    }
    for (const name of names) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      if (statOf(pid)?.session === sid) out.push(pid);
    }
    return out;
  },
  kill(pid, signal) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone already, or not ours.
    }
  },
};
