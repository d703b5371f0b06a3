// hoop's interactive terminal (agent/controller/terminal.go) on a PTY: the
// first AgentTerminalWriteStdin spawns the command and its payload is not
// written (hoop's client sends it only to start the terminal); later ones are
// keystrokes. AgentTerminalResizeTTY is applied, or kept until the spawn when
// it comes first. Output goes out as ClientWriteStdout and the end as
// ClientSessionClose with the exit code. Closing the session hangs the
// terminal up (SIGHUP to its process group) and kills it after the grace.
import { existsSync } from 'node:fs';
import type { IPty } from '@lydell/node-pty';
import type { Pty } from '../../../packaging/pty.js';
import { killSession, type TerminalLedger } from '../../terminal/ledger.js';
import { packet } from '../packet-codec.js';
import { ClientPacket, SpecKey } from '../wire-names.js';
import { ReadCoalescer } from './coalesce.js';
import { INTERNAL_ERROR_EXIT, killGroup } from './exec.js';
import type { PacketSink, SessionLimits, SessionRecorder } from './types.js';

export interface TerminalDeps {
  sink: PacketSink;
  recorder: SessionRecorder;
  limits: SessionLimits;
  /** node-pty, loaded on the first terminal (packaging/pty.ts). */
  pty: () => Promise<Pty>;
  ledger: TerminalLedger | null;
  /** Called once the session is over (exit reported or closed). */
  onEnd: () => void;
}

/** Size of a terminal whose client never sent one (hoop's client always does). */
const DEFAULT_SIZE = { rows: 24, cols: 80 };
/** Output gathered per ClientWriteStdout: a burst (`cat bigfile`) is not a packet per read. */
const OUTPUT_BATCH_BYTES = 64 * 1024;
/** Keystrokes that arrive while the PTY is being spawned are kept, up to this. */
const MAX_PENDING_INPUT = 1024 * 1024;

export class TerminalSession {
  private term: IPty | null = null;
  private spawning = false;
  private ended = false;
  private size = DEFAULT_SIZE;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private stdinBytes = 0;
  private stdoutBytes = 0;
  private killTimer: NodeJS.Timeout | null = null;
  private readonly sidBytes: Buffer;
  private readonly out: ReadCoalescer;

  constructor(
    readonly sid: string,
    private readonly command: readonly string[],
    private readonly env: Record<string, string>,
    private readonly deps: TerminalDeps,
  ) {
    this.sidBytes = Buffer.from(sid, 'latin1');
    this.out = new ReadCoalescer((payload) => this.emit(payload), OUTPUT_BATCH_BYTES);
  }

  stdin(payload: Buffer): void {
    if (this.ended) return;
    if (!this.spawning) {
      this.spawning = true;
      void this.spawn();
      return;
    }
    if (this.term) return this.write(payload);
    if (this.pendingBytes + payload.length > MAX_PENDING_INPUT) return;
    this.pending.push(payload);
    this.pendingBytes += payload.length;
  }

  resize(rows: number, cols: number): void {
    if (this.ended) return;
    this.size = { rows, cols };
    if (!this.term) return;
    try {
      this.term.resize(cols, rows);
    } catch {
      // The PTY closed under us; its exit is on its way.
    }
  }

  /**
   * AgentTerminalClose: hang the terminal up as closing a terminal window
   * does. The shell's exit (or the kill after the grace) then ends the
   * session with its exit code, so the client hears how it ended.
   */
  hangup(): void {
    if (this.ended) return;
    if (!this.term) return this.report(INTERNAL_ERROR_EXIT, 'the terminal was closed before it started');
    this.stopProcess(this.term);
  }

  /**
   * The gateway closed the session: hang the terminal up, kill it after the
   * grace; nothing more is sent. `now` (the agent stopping): no grace, since
   * nobody would be left to wait it out.
   */
  close(now = false): void {
    if (this.ended) return;
    this.ended = true;
    this.out.discard();
    if (this.term) {
      this.stopProcess(this.term);
      if (now) {
        killSession(this.term.pid);
        this.deps.ledger?.removePty(this.term.pid);
      }
    }
    this.deps.onEnd();
  }

  private stopProcess(term: IPty): void {
    if (this.killTimer) return;
    killGroup(term.pid, 'SIGHUP');
    this.killTimer = setTimeout(() => {
      killSession(term.pid);
      this.deps.ledger?.removePty(term.pid);
    }, this.deps.limits.killGraceMs);
    this.killTimer.unref();
  }

  private async spawn(): Promise<void> {
    const [program, ...args] = this.command;
    let term: IPty;
    try {
      const pty = await this.deps.pty();
      if (this.ended) return;
      term = pty.spawn(program!, args, {
        name: this.env['TERM'] ?? 'xterm',
        cols: this.size.cols,
        rows: this.size.rows,
        // A HOME that does not exist (a service user) would make the spawn fail.
        cwd: homeOr(this.env['HOME']),
        env: { TERM: 'xterm', ...this.env },
      });
    } catch (err) {
      return this.report(spawnExitCode(err), `terminal ${program}: ${(err as Error).message}`);
    }
    this.term = term;
    this.deps.ledger?.addPty(term.pid);
    this.deps.recorder.record(this.sid, { type: 'TERMINAL_STARTED', program: program!, args: args.length, rows: this.size.rows, cols: this.size.cols });
    term.onData((data) => this.out.push(Buffer.from(data, 'utf8')));
    term.onExit(({ exitCode, signal }) => {
      if (this.killTimer) clearTimeout(this.killTimer);
      // The shell is gone; what it left running in its session goes with it (a job that
      // ignored SIGHUP, a `nohup`): a terminal session leaves no processes behind.
      killSession(term.pid);
      this.deps.ledger?.removePty(term.pid);
      // What the shell printed last comes before its exit code.
      this.out.flush();
      const code = signal ? 128 + signal : exitCode;
      this.report(code, '');
    });
    // A resize that arrived while node-pty was loading.
    if (term.cols !== this.size.cols || term.rows !== this.size.rows) this.resize(this.size.rows, this.size.cols);
    for (const p of this.pending.splice(0)) this.write(p);
    this.pendingBytes = 0;
  }

  private write(payload: Buffer): void {
    this.stdinBytes += payload.length;
    // Keystrokes travel as text; node-pty writes strings.
    this.term!.write(payload.toString('utf8'));
  }

  private emit(payload: Buffer): void {
    if (this.ended) return;
    this.stdoutBytes += payload.length;
    this.deps.sink.send(packet(ClientPacket.WriteStdout, [[SpecKey.GatewaySessionID, this.sidBytes]], payload));
    const term = this.term;
    if (term && !this.deps.sink.writable) {
      // A client that reads slowly holds the shell back instead of growing our buffers.
      term.pause();
      this.deps.sink.onceWritable(() => term.resume());
    }
  }

  private report(exitCode: number, message: string): void {
    if (this.ended) return;
    this.ended = true;
    this.deps.recorder.record(this.sid, { type: 'TERMINAL_EXITED', exitCode, stdinBytes: this.stdinBytes, stdoutBytes: this.stdoutBytes });
    this.deps.recorder.closed(this.sid, exitCode === 0 ? 'exited' : `exited with ${exitCode}`, exitCode);
    const send = () => {
      this.deps.sink.send(
        packet(
          ClientPacket.SessionClose,
          [
            [SpecKey.GatewaySessionID, this.sidBytes],
            [SpecKey.ClientExitCode, Buffer.from(String(exitCode))],
          ],
          message ? Buffer.from(message) : undefined,
        ),
      );
      this.deps.onEnd();
    };
    const durable = this.deps.recorder.durable?.();
    if (durable) void durable.then(send);
    else send();
  }
}

function homeOr(home: string | undefined): string {
  return home && existsSync(home) ? home : '/';
}

function spawnExitCode(err: unknown): number {
  const text = String((err as Error)?.message ?? err);
  if (/ENOENT|not found|No such file/i.test(text)) return 127;
  if (/EACCES|permission/i.test(text)) return 126;
  return INTERNAL_ERROR_EXIT;
}
