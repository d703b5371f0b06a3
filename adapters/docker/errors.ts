// One error type for everything the engine layer refuses or the engine reports, so
// callers can branch on `code` rather than on Docker's message texts.

export type EngineErrorCode =
  | 'unreachable' // the engine's socket did not answer
  | 'not-found' // no such container / image
  | 'not-ours' // exists, but lacks our labels: never touched
  | 'conflict' // e.g. the container name is taken
  | 'unauthorized' // registry refused the credentials
  | 'stream-error' // a pull/build stream reported an error item
  | 'aborted' // the caller's AbortSignal fired
  | 'invalid-archive' // the build archive is unreadable or has no Dockerfile
  | 'engine'; // anything else the engine said

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface DockerodeHttpError {
  statusCode?: number;
  json?: unknown;
  message?: string;
  code?: string;
}

function asHttpError(err: unknown): DockerodeHttpError {
  return typeof err === 'object' && err !== null ? (err as DockerodeHttpError) : {};
}

export function statusCodeOf(err: unknown): number | undefined {
  const s = asHttpError(err).statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** The engine's own message (dockerode wraps it in "(HTTP code …) … - <message>"). */
export function engineMessage(err: unknown): string {
  const e = asHttpError(err);
  const json = e.json;
  if (typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string') {
    return (json as { message: string }).message;
  }
  if (typeof json === 'string' && json.length > 0) return json.trim();
  const text = err instanceof Error ? err.message : String(err);
  // dockerode's wrapper for streamed requests: "(HTTP code 500) server error - <engine message> "
  return text.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

export function isUnreachable(err: unknown): boolean {
  const code = asHttpError(err).code;
  return typeof code === 'string' && UNREACHABLE.has(code);
}

export function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || asHttpError(err).code === 'ABORT_ERR');
}

/** Maps a dockerode failure to an EngineError; `what` names the operation for the message. */
export function toEngineError(err: unknown, what: string): EngineError {
  if (err instanceof EngineError) return err;
  if (isAbort(err)) return new EngineError('aborted', `${what}: aborted`, { cause: err });
  if (isUnreachable(err)) {
    return new EngineError('unreachable', `${what}: Docker engine unreachable (${asHttpError(err).code})`, { cause: err });
  }
  const status = statusCodeOf(err);
  const msg = engineMessage(err);
  const code =
    status === 404 ? 'not-found' : status === 409 ? 'conflict' : status === 401 || /unauthorized|authentication required/i.test(msg) ? 'unauthorized' : 'engine';
  return new EngineError(code, `${what}: ${msg}`, { cause: err });
}
