// The studio's terminals (the Reagent's terminal/docker_term.go and pty.go):
// shells in app containers (docker exec with a TTY) and one host shell per
// caller on a PTY. Input arrives on a write topic, a resize on a procedure,
// output goes out in 32 KiB text chunks published with `acknowledge: true`
// one after the other, and `TERMINAL_EOF` when the shell ends. Each terminal
// is a `studio-terminal` actor that decides its teardown (hangup, kill after
// the grace, release); this adapter executes those commands. Everything it
// started is in the ledger (`terminals-studio.json`) until it is gone.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { IPty } from '@lydell/node-pty';
import type { ActorSystem } from '../../actors/system.js';
import { actorId, type ActorId, type Executors } from '../../actors/contracts.js';
import type { Pty } from '../../packaging/pty.js';
import type { StudioTerminalCommand, StudioTerminalInput } from '../../machines/studio-terminal.js';
import type { ContainerTerminal } from '../docker/terminal-exec.js';
import type { WampSession } from '../wamp/session.js';
import { DeviceApiError, WAMP_ERRORS } from '../wamp/errors.js';
import { Utf8Chunker } from './chunking.js';
import { killSession, type TerminalLedger } from './ledger.js';

export const TERMINAL_EOF = 'TERMINAL_EOF';
export const ON_UNREGISTER = 'wamp.registration.on_unregister';
const SOURCE = 'studio-terminals';

export interface TerminalTopics {
  dataTopic: string;
  writeTopic: string;
  resizeTopic: string;
  sessionID: string;
}

export interface StudioTerminalsDeps {
  serial: string;
  system: ActorSystem;
  logger: Logger;
  /** The live WAMP session, if there is one. */
  session: () => WampSession | null;
  openContainer: (containerName: string) => Promise<ContainerTerminal>;
  pty: () => Promise<Pty>;
  ledger: TerminalLedger;
  graceMs: number;
  /** Terminals of both kinds at once. */
  maxTerminals: number;
  /** The device shell's environment base (PATH, HOME, LANG: never the agent's secrets). */
  hostEnv: Record<string, string>;
}

/** One input event: a keystroke or a paste, not a file transfer. */
export const MAX_INPUT_BYTES = 1024 * 1024;
export const MAX_TTY_SIZE = 1000;

interface Term {
  id: string;
  kind: 'container' | 'device';
  container: string | null;
  caller: string;
  topics: TerminalTopics;
  wamp: WampSession;
  writeSub: number | null;
  resizeReg: number | null;
  started: boolean;
  ended: boolean;
  bytesIn: number;
  bytesOut: number;
  /** Publishes, one at a time and acknowledged, in order. */
  chain: Promise<void>;
  exec: ContainerTerminal | null;
  stream: Duplex | null;
  pid: number | null;
  pty: IPty | null;
}

export class StudioTerminals {
  private readonly terms = new Map<string, Term>();
  private readonly deviceByCaller = new Map<string, string>();
  /** The WAMP session whose `wamp.registration.on_unregister` we follow. */
  private metaOn: WampSession | null = null;
  private readonly off: () => void;

  constructor(private readonly deps: StudioTerminalsDeps) {
    this.off = deps.system.handle('terminal', this.executors, { beforeDurable: true });
  }

  get size(): number {
    return this.terms.size;
  }

  private actor(id: string): ActorId<'studio-terminal'> {
    return actorId('studio-terminal', `terminal:${id}`);
  }

  private live(): WampSession {
    const s = this.deps.session();
    if (!s) throw new DeviceApiError(WAMP_ERRORS.canceled, 'the studio link is not connected');
    return s;
  }

  private room(): void {
    if (this.terms.size >= this.deps.maxTerminals) throw new DeviceApiError(WAMP_ERRORS.canceled, `too many terminals open on this device (at most ${this.deps.maxTerminals})`);
  }

  // ---- request_terminal_session / start / stop -------------------------------

  async requestContainer(containerName: string, caller: string): Promise<TerminalTopics> {
    const wamp = this.live();
    this.room();
    const exec = await this.deps.openContainer(containerName);
    const id = randomUUID();
    const base = `re.mgmt.${this.deps.serial}`;
    const topics: TerminalTopics = {
      dataTopic: `${base}.term_data.${containerName}.${id}`,
      writeTopic: `${base}.term_write.${containerName}.${id}`,
      resizeTopic: `${base}.term_resize.${containerName}.${id}`,
      sessionID: id,
    };
    const term = this.add({ id, kind: 'container', container: containerName, caller, topics, wamp, exec });
    await this.wire(term, (rows, cols) => exec.resize(rows, cols));
    return topics;
  }

  async startContainer(sessionId: string, registrationId: number): Promise<void> {
    const term = this.terms.get(sessionId);
    if (!term || term.kind !== 'container' || term.ended) throw new DeviceApiError(WAMP_ERRORS.canceled, `no terminal session ${sessionId} on this device`);
    if (term.started) throw new DeviceApiError(WAMP_ERRORS.canceled, `terminal session ${sessionId} is already started`);
    term.started = true;
    await this.followUnregistrations(term.wamp);
    let stream: Duplex;
    try {
      stream = await term.exec!.start();
    } catch (err) {
      this.close(term, 'the shell could not be started');
      throw err;
    }
    term.stream = stream;
    term.pid = await term.exec!.pid().catch(() => null);
    this.deps.ledger.addExec(term.container!, term.exec!.execId, term.pid);
    const chunker = new Utf8Chunker();
    stream.on('data', (d: Buffer) => this.publish(term, chunker.push(d)));
    const eof = () => {
      if (term.ended) return;
      this.publish(term, chunker.end());
      this.finish(term, 'the shell ended');
    };
    stream.on('end', eof);
    stream.on('close', eof);
    stream.on('error', eof);
    this.deps.system.send(this.actor(term.id), SOURCE, 'STARTED', { registrationId });
  }

  stop(sessionId: string, reason: string): boolean {
    const term = this.terms.get(sessionId);
    if (!term) return false;
    this.close(term, reason);
    return true;
  }

  // ---- init_device_terminal ----------------------------------------------------

  async initDevice(caller: string): Promise<TerminalTopics> {
    const existing = this.deviceByCaller.get(caller);
    const known = existing ? this.terms.get(existing) : undefined;
    if (known && !known.ended) return known.topics;
    const wamp = this.live();
    this.room();
    const pty = await this.deps.pty();
    const id = randomUUID();
    const base = `re.mgmt.${this.deps.serial}`;
    const topics: TerminalTopics = { sessionID: id, writeTopic: `${base}.term_write.${id}`, dataTopic: `${base}.data.${id}`, resizeTopic: `${base}.term_resize.${id}` };
    const shell = existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';
    const env: Record<string, string> = { ...this.deps.hostEnv, TERM: 'xterm' };
    const proc = pty.spawn(shell, [], { name: 'xterm', rows: 24, cols: 80, cwd: env['HOME'] && existsSync(env['HOME']) ? env['HOME'] : '/', env, encoding: null } as Parameters<Pty['spawn']>[2]);
    const term = this.add({ id, kind: 'device', container: null, caller, topics, wamp, exec: null });
    term.pty = proc;
    term.pid = proc.pid;
    term.started = true;
    this.deps.ledger.addPty(proc.pid);
    this.deviceByCaller.set(caller, id);
    const chunker = new Utf8Chunker();
    proc.onData((d: string | Buffer) => this.publish(term, chunker.push(typeof d === 'string' ? Buffer.from(d, 'utf8') : d)));
    proc.onExit(() => {
      killSession(proc.pid);
      this.deps.ledger.removePty(proc.pid);
      if (term.ended) return;
      this.publish(term, chunker.end());
      this.finish(term, 'the shell ended');
    });
    await this.wire(term, async (rows, cols) => proc.resize(cols, rows));
    this.deps.system.send(this.actor(id), SOURCE, 'STARTED', { registrationId: null });
    return topics;
  }

  // ---- the link --------------------------------------------------------------------

  /** The session is gone: every terminal ends (their topics went with it). */
  linkLost(reason: string): void {
    this.metaOn = null;
    for (const t of [...this.terms.values()]) this.close(t, reason);
  }

  /**
   * The daemon stops: no grace to wait out, every shell is hung up and killed
   * now (a shell that ignores SIGHUP would otherwise live until the next start's sweep).
   */
  shutdown(): void {
    this.off();
    for (const t of [...this.terms.values()]) {
      this.hangup(t);
      this.kill(t);
      if (t.exec) this.deps.ledger.removeExec(t.exec.execId);
      if (t.pty) this.deps.ledger.removePty(t.pty.pid);
    }
    this.terms.clear();
    this.deviceByCaller.clear();
  }

  // ---- internals -------------------------------------------------------------------

  private add(t: Pick<Term, 'id' | 'kind' | 'container' | 'caller' | 'topics' | 'wamp' | 'exec'>): Term {
    const term: Term = { ...t, writeSub: null, resizeReg: null, started: false, ended: false, bytesIn: 0, bytesOut: 0, chain: Promise.resolve(), stream: null, pid: null, pty: null };
    this.terms.set(term.id, term);
    const input: StudioTerminalInput = { sessionId: term.id, kind: term.kind, container: term.container, caller: term.caller, graceMs: this.deps.graceMs };
    this.deps.system.spawn(this.actor(term.id), 'studio-terminal', { ...input });
    return term;
  }

  /** The write topic and the resize procedure of one terminal. */
  private async wire(term: Term, resize: (rows: number, cols: number) => Promise<void>): Promise<void> {
    try {
      term.writeSub = await term.wamp.subscribe(term.topics.writeTopic, (args) => this.input(term, args[0]));
      term.resizeReg = await term.wamp.register(term.topics.resizeTopic, async (args) => {
        const size = parseResize(args[0]);
        if (term.ended) throw new DeviceApiError(WAMP_ERRORS.canceled, 'the terminal has ended');
        await resize(size.rows, size.cols);
        return { args: [], kwargs: {} };
      });
    } catch (err) {
      this.close(term, 'its topics could not be set up');
      throw err;
    }
  }

  private input(term: Term, value: unknown): void {
    if (term.ended || !term.started) return;
    if (typeof value !== 'string' || Buffer.byteLength(value) > MAX_INPUT_BYTES) {
      this.deps.logger.warn({ terminal: term.id }, `terminal input dropped: expected a string of at most ${MAX_INPUT_BYTES} bytes`);
      return;
    }
    term.bytesIn += Buffer.byteLength(value);
    if (term.pty) term.pty.write(value);
    else term.stream?.write(value);
  }

  private publish(term: Term, chunks: string[]): void {
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      term.bytesOut += Buffer.byteLength(chunk);
      this.send(term, chunk);
    }
  }

  private send(term: Term, payload: string): void {
    const wamp = term.wamp;
    term.chain = term.chain.then(() => wamp.publish(term.topics.dataTopic, [payload], {}, true)).catch(() => {
      // A session gone: the terminal is being closed with it.
    });
  }

  /** The shell ended by itself: EOF to the frontend, then the actor releases it. */
  private finish(term: Term, reason: string): void {
    if (term.ended) return;
    term.ended = true;
    this.send(term, TERMINAL_EOF);
    if (this.deps.system.has(this.actor(term.id))) this.deps.system.send(this.actor(term.id), SOURCE, 'ENDED', { reason, bytesIn: term.bytesIn, bytesOut: term.bytesOut });
  }

  private close(term: Term, reason: string): void {
    if (!this.deps.system.has(this.actor(term.id))) return;
    this.deps.system.send(this.actor(term.id), SOURCE, 'CLOSE', { reason });
  }

  private async followUnregistrations(wamp: WampSession): Promise<void> {
    if (this.metaOn === wamp) return;
    this.metaOn = wamp;
    try {
      await wamp.subscribe(ON_UNREGISTER, (args) => {
        const registration = args[1];
        if (typeof registration !== 'number') return;
        for (const t of [...this.terms.values()]) {
          if (t.kind === 'container' && this.registrationOf(t) === registration) this.close(t, 'the frontend registration went away');
        }
      });
    } catch (err) {
      this.metaOn = null;
      this.deps.logger.warn({ err }, 'cannot follow wamp.registration.on_unregister: container terminals end only on stop, EOF or link loss');
    }
  }

  private registrationOf(t: Term): number | null {
    const snap = this.deps.system.snapshot(this.actor(t.id)) as { context?: { registrationId?: unknown } } | undefined;
    const r = snap?.context?.registrationId;
    return typeof r === 'number' ? r : null;
  }

  /** Commands for a terminal already released are no-ops. */
  private readonly executors: Executors<StudioTerminalCommand> = {
    'terminal.hangup': (c) => this.withTerm(c.sessionId, (term) => this.hangup(term)),
    'terminal.kill': (c) => this.withTerm(c.sessionId, (term) => this.kill(term)),
    'terminal.release': (c) => this.withTerm(c.sessionId, (term) => this.release(term)),
  };

  private withTerm(id: string, run: (term: Term) => void): void {
    const term = this.terms.get(id);
    if (term) run(term);
  }

  /** Ends the shell's input and hangs it up, as closing a terminal window does. */
  private hangup(term: Term): void {
    if (!term.ended) {
      term.ended = true;
      this.send(term, TERMINAL_EOF);
    }
    if (term.pty) signal(-term.pty.pid, 'SIGHUP');
    if (term.stream) term.stream.end();
    if (term.pid !== null && term.kind === 'container') signal(term.pid, 'SIGHUP');
  }

  private kill(term: Term): void {
    if (term.pty) killSession(term.pty.pid);
    if (term.kind === 'container' && term.pid !== null) signal(term.pid, 'SIGKILL');
    term.stream?.destroy();
  }

  private release(term: Term): void {
    this.terms.delete(term.id);
    if (this.deviceByCaller.get(term.caller) === term.id) this.deviceByCaller.delete(term.caller);
    if (term.writeSub !== null) void term.wamp.unsubscribe(term.writeSub).catch(() => {});
    if (term.resizeReg !== null) void term.wamp.unregister(term.resizeReg).catch(() => {});
    term.stream?.destroy();
    if (term.exec) this.deps.ledger.removeExec(term.exec.execId);
    if (term.pty) {
      // Killed or exited: nothing of its session may stay.
      killSession(term.pty.pid);
      this.deps.ledger.removePty(term.pty.pid);
    }
    this.deps.system.stop(this.actor(term.id));
    this.deps.logger.info({ terminal: term.id, kind: term.kind, container: term.container }, 'terminal closed');
  }
}

/** `[{height, width}]` of the resize procedure, each 1-1000. */
export function parseResize(v: unknown): { rows: number; cols: number } {
  const o = v as { height?: unknown; width?: unknown } | null;
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= MAX_TTY_SIZE;
  if (!o || typeof o !== 'object' || !ok(o.height) || !ok(o.width)) {
    throw new DeviceApiError(WAMP_ERRORS.invalidArgument, `field "args[0]": expected {height, width} with integers 1-${MAX_TTY_SIZE}`);
  }
  return { rows: o.height, cols: o.width };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}
