// A shell in an app's container for the studio's terminal (the Reagent's
// terminal/docker_term.go): a docker exec with a TTY. The shell is chosen as
// the Reagent does: the first zsh or bash listed in the container's
// /etc/shells, else /bin/sh (busybox images have no /etc/shells).
import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';

export interface ContainerTerminal {
  readonly container: string;
  readonly execId: string;
  readonly shell: string;
  /** Starts the shell; the stream carries the TTY's raw bytes both ways. */
  start(): Promise<Duplex>;
  resize(rows: number, cols: number): Promise<void>;
  /** The shell's pid on the host (for the ledger and the kill), null once it ended. */
  pid(): Promise<number | null>;
}

/** /etc/shells is read with a bound: a container that hangs must not hold the request. */
const SHELLS_READ_MS = 5_000;
const SHELLS_MAX_BYTES = 64 * 1024;

export function chooseShell(etcShells: string): string {
  for (const line of etcShells.split('\n')) {
    const path = line.trim();
    if (path.startsWith('/') && /\/(zsh|bash)$/.test(path)) return path;
  }
  return '/bin/sh';
}

export async function openContainerTerminal(docker: Dockerode, name: string): Promise<ContainerTerminal> {
  const container = docker.getContainer(name);
  const shell = chooseShell(await readShells(container));
  const exec = await container.exec({
    Cmd: [shell],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: true,
    Env: ['TERM=xterm'],
  });
  return {
    container: name,
    execId: exec.id,
    shell,
    async start() {
      return (await exec.start({ hijack: true, stdin: true, Tty: true })) as Duplex;
    },
    async resize(rows, cols) {
      await exec.resize({ h: rows, w: cols });
    },
    async pid() {
      // Docker answers the start before the process runs: ask again for a moment.
      for (let i = 0; i < 40; i++) {
        const info = await exec.inspect();
        if (typeof info.Pid === 'number' && info.Pid > 0) return info.Running ? info.Pid : null;
        if (info.ExitCode !== null && info.ExitCode !== undefined && !info.Running && i > 0) return null;
        await new Promise((r) => setTimeout(r, 50));
      }
      return null;
    },
  };
}

async function readShells(container: Dockerode.Container): Promise<string> {
  let stream: Duplex;
  try {
    const exec = await container.exec({ Cmd: ['cat', '/etc/shells'], AttachStdout: true, AttachStderr: false, Tty: true });
    stream = (await exec.start({ hijack: true, stdin: false, Tty: true })) as Duplex;
  } catch (err) {
    // Not running, not there: the caller hears Docker's reason.
    if ((err as { statusCode?: number }).statusCode) throw new Error(dockerReason(err));
    throw err;
  }
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      clearTimeout(timer);
      stream.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, SHELLS_READ_MS);
    stream.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      if (text.length > SHELLS_MAX_BYTES) done();
    });
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

function dockerReason(err: unknown): string {
  const e = err as { json?: { message?: string }; reason?: string; message?: string };
  return e.json?.message ?? e.reason ?? e.message ?? String(err);
}
