// One-shot exec sessions (`command-line`), as hoop's terminal-exec.go:
// `AgentExecWriteStdin` starts the command with its payload as the whole of
// stdin, output streams back as ClientWriteStdout / ClientWriteStderr, and
// the session ends with ClientSessionClose carrying the exit code. The
// command list is executed directly, never through a shell: a shell runs
// only when the list itself names one (`["bash", "-c", "..."]`).
import { constants } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { packet } from '../packet-codec.js';
import { ClientPacket, SpecKey } from '../wire-names.js';
import type { PacketSink, SessionLimits, SessionRecorder, Spawner } from './types.js';

/** hoop's exit code for "the agent failed", as opposed to the command. */
export const INTERNAL_ERROR_EXIT = 254;

export interface ExecSessionDeps {
  sink: PacketSink;
  spawn: Spawner;
  recorder: SessionRecorder;
  limits: SessionLimits;
  /** Called once the session is over (exit reported or closed). */
  onEnd: () => void;
}

export class ExecSession {
  private child: ChildProcess | null = null;
  private started = false;
  private ended = false;
  private readonly sidBytes: Buffer;
  private stdinBytes = 0;
  private stdoutBytes = 0;
  private stderrBytes = 0;
  private killTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly sid: string,
    private readonly command: readonly string[],
    private readonly env: Record<string, string>,
    private readonly deps: ExecSessionDeps,
  ) {
    this.sidBytes = Buffer.from(sid, 'latin1');
  }

  /** The first stdin packet starts the command; exec is one-shot, so later ones are refused. */
  stdin(payload: Buffer): void {
    if (this.ended) return;
    if (this.started) {
      this.deps.recorder.record(this.sid, { type: 'ERROR', reason: 'a second AgentExecWriteStdin for a running exec was ignored' });
      return;
    }
    this.started = true;
    const [program, ...args] = this.command;
    let child: ChildProcess;
    try {
      child = this.deps.spawn(program!, args, {
        env: this.env,
        shell: false,
        // Its own process group, so closing the session also stops what the command started.
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (err) {
      this.report(spawnExitCode(err), `exec ${program}: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    this.deps.recorder.record(this.sid, { type: 'EXEC_STARTED', program: program!, args: args.length });
    child.on('error', (err) => {
      // Without a pid the command never started (not found, not executable).
      if (child.pid === undefined) this.report(spawnExitCode(err), `exec ${program}: ${describeSpawnError(err)}`);
    });
    this.pipe(child.stdout, ClientPacket.WriteStdout, (n) => (this.stdoutBytes += n));
    this.pipe(child.stderr, ClientPacket.WriteStderr, (n) => (this.stderrBytes += n));
    child.on('close', (code, signal) => {
      if (this.killTimer) clearTimeout(this.killTimer);
      const exitCode = code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : INTERNAL_ERROR_EXIT);
      this.report(exitCode, '');
    });
    if (child.stdin) {
      child.stdin.on('error', () => {
        // The command may exit without reading its input (EPIPE): its exit code tells the story.
      });
      this.stdinBytes = payload.length;
      child.stdin.end(payload);
    }
  }

  /** The gateway closed the session: stop the command and its process group. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      killGroup(child.pid, 'SIGTERM');
      this.killTimer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), this.deps.limits.killGraceMs);
      this.killTimer.unref();
    }
    this.deps.onEnd();
  }

  private pipe(stream: Readable | null, type: string, count: (n: number) => void): void {
    if (!stream) return;
    stream.on('data', (chunk: Buffer) => {
      if (this.ended) return;
      count(chunk.length);
      this.deps.sink.send(packet(type, [[SpecKey.GatewaySessionID, this.sidBytes]], chunk));
      if (!this.deps.sink.writable && !stream.isPaused()) {
        stream.pause();
        this.deps.sink.onceWritable(() => stream.resume());
      }
    });
  }

  /**
   * The exit is recorded and committed before the peer hears of it: after a
   * crash, an exit code the client saw is in the journal (see
   * SessionRecorder.durable for the one exception, a journal that cannot commit).
   */
  private report(exitCode: number, message: string): void {
    if (this.ended) return;
    this.ended = true;
    this.deps.recorder.record(this.sid, {
      type: 'EXEC_EXITED',
      exitCode,
      stdinBytes: this.stdinBytes,
      stdoutBytes: this.stdoutBytes,
      stderrBytes: this.stderrBytes,
    });
    this.deps.recorder.closed(this.sid, exitCode === 0 ? 'exited' : `exited with ${exitCode}`, exitCode);
    const durable = this.deps.recorder.durable?.();
    if (durable) void durable.then(() => this.sendExit(exitCode, message));
    else this.sendExit(exitCode, message);
  }

  private sendExit(exitCode: number, message: string): void {
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
  }
}

/** Signals a child's whole process group (it leads one), else the child alone; a process already gone is fine. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** Shell conventions, so `reagent exec` reads like running the command locally. */
function spawnExitCode(err: unknown): number {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 127;
  if (code === 'EACCES') return 126;
  return INTERNAL_ERROR_EXIT;
}

function describeSpawnError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'command not found';
  if (code === 'EACCES') return 'permission denied';
  return err.message;
}
