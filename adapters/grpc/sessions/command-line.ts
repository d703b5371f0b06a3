// A `command-line` session is either hoop's exec or its interactive terminal,
// and only the first packet after the open says which: `hoop exec` sends
// AgentExecWriteStdin (one-shot, pipes), `hoop connect` to a command-line
// connection sends AgentTerminalWriteStdin / AgentTerminalResizeTTY (a PTY).
// This session waits for that packet, then hands everything to the one it
// chose; the other kind's packets are refused with a message.
import { ExecSession, type ExecSessionDeps } from './exec.js';
import { TerminalSession, type TerminalDeps } from './terminal.js';

export type CommandLineDeps = ExecSessionDeps & Omit<TerminalDeps, 'onEnd'> & {
  /** Asks for one of the agent's terminal slots; false when all are taken. */
  acquireTerminal: () => boolean;
  releaseTerminal: () => void;
};

export type CommandLineInput =
  | { kind: 'exec-stdin'; payload: Buffer }
  | { kind: 'terminal-stdin'; payload: Buffer }
  | { kind: 'terminal-resize'; rows: number; cols: number }
  | { kind: 'terminal-close' };

export class CommandLineSession {
  private impl: ExecSession | TerminalSession | null = null;
  private closed = false;

  constructor(
    readonly sid: string,
    private readonly command: readonly string[],
    private readonly env: Record<string, string>,
    private readonly deps: CommandLineDeps,
  ) {}

  /** Returns a reason when the packet does not fit this session (the session then fails). */
  handle(msg: CommandLineInput): string | null {
    if (this.closed) return null;
    if (msg.kind === 'exec-stdin') {
      if (this.impl instanceof TerminalSession) return 'AgentExecWriteStdin sent to an interactive terminal';
      this.impl ??= new ExecSession(this.sid, this.command, this.env, this.deps);
      (this.impl as ExecSession).stdin(msg.payload);
      return null;
    }
    if (this.impl instanceof ExecSession) return 'a terminal packet sent to an exec session';
    if (!this.impl) {
      if (msg.kind === 'terminal-close') return 'AgentTerminalClose before the terminal started';
      if (!this.deps.acquireTerminal()) return 'too many terminals open on this agent';
      let released = false;
      const onEnd = () => {
        if (!released) this.deps.releaseTerminal();
        released = true;
        this.deps.onEnd();
      };
      this.impl = new TerminalSession(this.sid, this.command, this.env, { ...this.deps, onEnd });
    }
    const term = this.impl as TerminalSession;
    if (msg.kind === 'terminal-stdin') term.stdin(msg.payload);
    else if (msg.kind === 'terminal-resize') {
      if (msg.rows > 0) term.resize(msg.rows, msg.cols);
    } else term.hangup();
    return null;
  }

  close(now = false): void {
    if (this.closed) return;
    this.closed = true;
    if (this.impl instanceof TerminalSession) this.impl.close(now);
    else this.impl?.close();
  }
}
