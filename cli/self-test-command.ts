// `reagent self-test pty` (hidden): loads the PTY addon the way the terminal
// features will and runs a shell on a pseudo-terminal: the check that a
// single executable on this machine can do terminals at all.
import { join } from 'node:path';
import { loadPty } from '../packaging/pty.js';

export interface SelfTestContext {
  agentDir: string;
  out(text: string): void;
  err(text: string): void;
}

// Typed into a terminal, the script is echoed back literally: "pty-is-42" and
// "got:hello" can only come from the shell running it on a real tty.
const SCRIPT = 'if [ -t 0 ] && [ -t 1 ]; then echo "pty-is-$((6*7))"; fi; read line; echo "got:$line"; exit 3';

export async function runSelfTest(args: readonly string[], ctx: SelfTestContext): Promise<number> {
  if (args.length !== 1 || args[0] !== 'pty') {
    ctx.err('usage: reagent self-test pty');
    return 2;
  }
  let pty;
  try {
    pty = await loadPty({ nativeDir: join(ctx.agentDir, 'native') });
  } catch (err) {
    ctx.err(`self-test pty: cannot load the PTY addon: ${(err as Error).message}`);
    return 1;
  }
  const term = pty.spawn('/bin/sh', ['-c', SCRIPT], { name: 'xterm', cols: 80, rows: 24, cwd: '/', env: { PATH: '/usr/bin:/bin', TERM: 'xterm' } });
  let output = '';
  term.onData((d) => (output += d));
  const exit = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      term.kill();
      resolve(null);
    }, 10_000);
    term.onExit(({ exitCode }) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
    term.write('hello\r');
  });
  if (exit !== 3 || !output.includes('pty-is-42') || !output.includes('got:hello')) {
    ctx.err(`self-test pty: expected "pty-is-42", "got:hello" and exit 3; got exit ${exit} and ${JSON.stringify(output.slice(-300))}`);
    return 1;
  }
  ctx.out(`pty ok: /bin/sh ran on a pseudo-terminal (pid ${term.pid}), read a line and exited 3`);
  return 0;
}
