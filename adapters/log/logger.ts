// Builds the agent's pino logger. Everything stays in this thread: no worker
// transports (they need file paths at run time and break single-binary
// packaging), so console formatting uses pino-pretty's synchronous factory,
// loaded by the caller (console-render.ts).
// Every line passes the Redactor twice: the arguments in `hooks.logMethod`
// (message text, format arguments, Errors) and the merged object in
// `formatters.log` (mixins included); child bindings are scrubbed as they are bound.
import { format } from 'node:util';
import { pino, type DestinationStream, type LogFn, type Logger, type StreamEntry } from 'pino';
import type { Redactor } from './redactor.js';
import type { RenderLine } from './console-render.js';
import { RotatingFile } from './rotating-file.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogEncoding = 'json' | 'console';

export interface Writable {
  write(chunk: string): unknown;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Encoding of the stdout stream; the file is always JSON. */
  encoding: LogEncoding;
  /** Colourised multi-line output for a developer's terminal (`-prettyLogging`). */
  pretty: boolean;
  /** Required for console encoding or pretty output: `await consoleRenderer(pretty)`. */
  render?: RenderLine;
  /** Also write JSON lines to this size-rotated file. */
  file?: string;
  fileMaxBytes?: number;
  fileBackups?: number;
  stdout?: Writable;
  redactor: Redactor;
  /** Clock for the `time` field; injected so tests get stable lines. */
  now?: () => number;
}

export function createLogger(options: LoggerOptions): Logger {
  const { redactor } = options;
  const stdout = options.stdout ?? process.stdout;
  const now = options.now ?? Date.now;

  const streams: StreamEntry[] = [{ level: 'trace', stream: consoleStream(stdout, options) }];
  if (options.file) {
    const file = new RotatingFile({
      path: options.file,
      maxBytes: options.fileMaxBytes,
      backups: options.fileBackups,
      // The logger cannot log through itself here; one JSON line on stdout says why the file stays empty.
      onError: (err) => {
        stdout.write(`${JSON.stringify({ level: 'error', time: new Date(now()).toISOString(), msg: redactor.scrubString(`log file ${options.file}: ${err.message}`) })}\n`);
      },
    });
    // Levels are filtered once, by the logger; the streams take everything it lets through.
    streams.push({ level: 'trace', stream: file });
  }

  const logger = pino(
    {
      level: options.level,
      base: null,
      timestamp: () => `,"time":"${new Date(now()).toISOString()}"`,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => asRecord(redactor.scrub(object)),
      },
      // The redactor has already turned Errors into pino's {type, message, stack}
      // shape; pino's own err serializer would relabel that plain object "Object".
      serializers: { err: (value: unknown) => value },
      hooks: {
        logMethod(args, method) {
          const [first, ...rest] = args as unknown[];
          if (args.length === 0) return callLog(method, this, []);
          // log.info(null, 'msg') means "no object", as in pino.
          if ((first === null || first === undefined) && rest.length > 0) return callLog(method, this, [formatMessage(redactor, rest)]);
          if (first !== null && typeof first === 'object') {
            const object = first instanceof Error ? { err: first } : first;
            const message = rest.length > 0 ? formatMessage(redactor, rest) : first instanceof Error ? redactor.scrubString(first.message) : undefined;
            callLog(method, this, [redactor.scrub(object), message]);
          } else {
            callLog(method, this, [formatMessage(redactor, args as unknown[])]);
          }
        },
      },
    },
    pino.multistream(streams),
  );
  scrubChildBindings(logger, redactor);
  return logger;
}

// pino applies `formatters.bindings` to the root logger only: children reset
// it. Children are created with Object.create(parent), so overriding `child`
// and `setBindings` on the root covers every descendant.
function scrubChildBindings(logger: Logger, redactor: Redactor): void {
  const proto = Object.getPrototypeOf(logger) as Logger;
  // pino's generic signatures do not survive being re-bound; the shapes below are what they do.
  type Method = (this: Logger, ...args: unknown[]) => unknown;
  const child = proto.child as unknown as Method;
  const setBindings = proto.setBindings as unknown as Method;
  Object.assign(logger, {
    child(this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) {
      const safeOptions = options?.msgPrefix === undefined ? options : { ...options, msgPrefix: redactor.scrubString(options.msgPrefix) };
      return child.call(this, asRecord(redactor.scrub(bindings)), safeOptions);
    },
    setBindings(this: Logger, bindings: pino.Bindings) {
      setBindings.call(this, asRecord(redactor.scrub(bindings)));
    },
  });
}

function consoleStream(stdout: Writable, options: LoggerOptions): DestinationStream {
  if (options.encoding === 'json' && !options.pretty) return { write: (line: string) => void stdout.write(line) };
  const { render } = options;
  if (!render) throw new Error('createLogger: console encoding and pretty output need options.render (await consoleRenderer(pretty))');
  return { write: (line: string) => void stdout.write(render(line)) };
}

// Interpolating before scrubbing means a secret split across format arguments
// is still caught in the final text; the arguments themselves are scrubbed
// first so an object rendered by %j/%o has its sensitive keys dropped.
function formatMessage(redactor: Redactor, parts: unknown[]): string {
  const safe = parts.map((part) => (part instanceof Error ? `${part.name}: ${part.message}` : redactor.scrub(part)));
  return redactor.scrubString(typeof safe[0] === 'string' ? format(...safe) : format('%s', ...safe));
}

// pino's LogFn is an overload set; the hook forwards a shape every overload accepts.
function callLog(method: LogFn, logger: Logger, args: unknown[]): void {
  (method as (this: Logger, ...a: unknown[]) => void).apply(logger, args);
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
