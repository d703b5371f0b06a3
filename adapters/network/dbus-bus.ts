// One connection to a D-Bus message bus, with every step bounded in time.
// @particle/dbus-next speaks the wire protocol in plain JavaScript, but it
// leaves a method call pending forever when the peer never answers, and when
// the socket ends it neither rejects the calls in flight nor says so. This
// wrapper adds both: each call races a timer, and the end of the stream (the
// bus daemon killed, restarted, or the socket closed) rejects every pending
// call at once. Failures of the transport are `BusUnavailable`; a reply of
// type ERROR from the peer is `BusCallError` with the peer's error name.
import { EventEmitter } from 'node:events';
import { Message, sessionBus, type MessageBus } from '@particle/dbus-next';

/** The bus is not there, went away, or did not answer in time. */
export class BusUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BusUnavailable';
  }
}

/** The peer answered with an ERROR message. */
export class BusCallError extends Error {
  constructor(
    readonly errorName: string,
    readonly text: string,
    readonly member: string,
  ) {
    super(`${member}: ${errorName}${text ? `: ${text}` : ''}`);
    this.name = 'BusCallError';
  }
}

export interface BusCall {
  destination: string;
  path: string;
  interface: string;
  member: string;
  signature?: string;
  body?: unknown[];
}

export const SYSTEM_BUS_DEFAULT = 'unix:path=/var/run/dbus/system_bus_socket';

/** The system bus address as the D-Bus specification says: `DBUS_SYSTEM_BUS_ADDRESS`, else the well-known socket. */
export function systemBusAddress(env: NodeJS.ProcessEnv): string {
  const a = env.DBUS_SYSTEM_BUS_ADDRESS;
  return typeof a === 'string' && a.trim() !== '' ? a.trim() : SYSTEM_BUS_DEFAULT;
}

/** Only the transport a system bus uses; `unixexec:` would run a program named by an environment variable. */
const ADDRESS = /^unix:(path|abstract)=[^;,]+(,[a-z]+=[^;,]*)*$/;

export interface BusOptions {
  address: string;
  /** Bound of connecting (socket, authentication, Hello). */
  connectTimeoutMs: number;
  /** Bound of each method call. */
  callTimeoutMs: number;
}

interface Pending {
  reject(err: Error): void;
}

export class DbusBus {
  private readonly pending = new Set<Pending>();
  private readonly events = new EventEmitter();
  private closedReason: string | null = null;

  private constructor(
    private readonly bus: MessageBus,
    private readonly opts: BusOptions,
  ) {}

  /** Connects and says Hello; rejects with BusUnavailable when that does not succeed within the bound. */
  static async connect(opts: BusOptions): Promise<DbusBus> {
    if (!ADDRESS.test(opts.address)) throw new BusUnavailable(`unsupported D-Bus address ${JSON.stringify(opts.address.slice(0, 120))} (expected unix:path=… or unix:abstract=…)`);
    let bus: MessageBus;
    try {
      // `sessionBus` is the library's only constructor that takes an address; which bus it is follows from the address.
      bus = sessionBus({ busAddress: opts.address, authMethods: ['EXTERNAL'] });
    } catch (err) {
      throw new BusUnavailable(`cannot open the D-Bus socket at ${opts.address}: ${(err as Error).message}`);
    }
    const self = new DbusBus(bus, opts);
    // Attached first: an 'error' event without a listener would throw and end the daemon.
    let connected = false;
    bus.on('error', (err: unknown) => self.closed(connected ? `the D-Bus connection failed: ${errorText(err)}` : errorText(err)));
    const connection: unknown = Reflect.get(bus, '_connection');
    // The library's connection emits 'end' when the socket closes, but the bus object does not pass it on.
    if (connection instanceof EventEmitter) connection.on('end', () => self.closed('the D-Bus connection was closed by the bus'));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new BusUnavailable(`no D-Bus answer at ${opts.address} within ${opts.connectTimeoutMs} ms`));
        self.close();
      }, opts.connectTimeoutMs);
      bus.once('connect', () => {
        connected = true;
        clearTimeout(timer);
        resolve();
      });
      self.events.once('closed', (reason: string) => {
        clearTimeout(timer);
        reject(new BusUnavailable(`cannot connect to the D-Bus at ${opts.address}: ${reason}`));
      });
    });
    return self;
  }

  get isOpen(): boolean {
    return this.closedReason === null;
  }

  /** Called once when the connection ends, whoever ended it. */
  onClose(fn: (reason: string) => void): void {
    if (this.closedReason !== null) fn(this.closedReason);
    else this.events.once('closed', fn);
  }

  /** One method call; resolves with the reply's body. */
  call(c: BusCall, timeoutMs = this.opts.callTimeoutMs): Promise<unknown[]> {
    if (this.closedReason !== null) return Promise.reject(new BusUnavailable(this.closedReason));
    return new Promise<unknown[]>((resolve, reject) => {
      let settled = false;
      const entry: Pending = {
        reject: (err) => finish(() => reject(err)),
      };
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(entry);
        fn();
      };
      const timer = setTimeout(() => finish(() => reject(new BusUnavailable(`${c.interface}.${c.member} got no answer within ${timeoutMs} ms`))), timeoutMs);
      this.pending.add(entry);
      let message: Message;
      try {
        message = new Message({
          destination: c.destination,
          path: c.path,
          interface: c.interface,
          member: c.member,
          signature: c.signature ?? '',
          body: c.body ?? [],
        });
      } catch (err) {
        finish(() => reject(new Error(`${c.interface}.${c.member}: cannot build the call: ${(err as Error).message}`)));
        return;
      }
      this.bus.call(message).then(
        (reply) => finish(() => resolve(reply?.body ?? [])),
        (err: unknown) =>
          finish(() => {
            const name = errorName(err);
            if (name !== null) reject(new BusCallError(name, errorText(err), `${c.interface}.${c.member}`));
            else reject(new BusUnavailable(`${c.interface}.${c.member} failed: ${errorText(err)}`));
          }),
      );
    });
  }

  close(): void {
    if (this.closedReason === null) {
      try {
        this.bus.disconnect();
      } catch {
        /* the socket may already be gone */
      }
    }
    this.closed('the D-Bus connection was closed');
  }

  private closed(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    for (const p of [...this.pending]) p.reject(new BusUnavailable(reason));
    this.events.emit('closed', reason);
  }
}

function errorName(err: unknown): string | null {
  if (err instanceof Error && err.name === 'DBusError') {
    const type: unknown = Reflect.get(err, 'type');
    if (typeof type === 'string') return type;
  }
  return null;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message.slice(0, 500);
  return String(err).slice(0, 500);
}
