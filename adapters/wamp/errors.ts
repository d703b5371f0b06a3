// WAMP error URIs the studio link sends and recognises, and the errors its
// client raises.

export const WAMP_ERRORS = {
  /** A payload failed validation; args[0].error names the field. */
  invalidArgument: 'wamp.error.invalid_argument',
  /** The caller lacks the privilege, or it could not be checked. */
  notAuthorized: 'wamp.error.not_authorized',
  /** A handler failed; the Reagent's reply for every handler error (`args[0].error`). */
  canceled: 'wamp.error.canceled',
  procedureAlreadyExists: 'wamp.error.procedure_already_exists',
  noSuchProcedure: 'wamp.error.no_such_procedure',
  authenticationFailed: 'wamp.error.authentication_failed',
  /** fox-wamp's wrapping of a callee's application error (the URI is in args[0]). */
  calleeFailure: 'wamp.error.callee_failure',
} as const;

/** An ERROR reply to one of our calls, or a local failure shaped like one. */
export class WampCallError extends Error {
  constructor(
    readonly procedure: string,
    readonly uri: string,
    readonly args: unknown[] = [],
    readonly kwargs: Record<string, unknown> = {},
  ) {
    super(`${procedure}: ${uri}${describeArgs(args)}`);
    this.name = 'WampCallError';
  }

  /** The call never got an answer (timeout, link gone): the outcome is unknown. */
  get transient(): boolean {
    return this.uri === LOCAL_ERRORS.timeout || this.uri === LOCAL_ERRORS.closed;
  }
}

/** URIs we use for failures that never reached the router or never came back. */
export const LOCAL_ERRORS = {
  timeout: 'reagent.error.timeout',
  closed: 'reagent.error.session_closed',
} as const;

function describeArgs(args: unknown[]): string {
  const first = args[0];
  if (typeof first === 'string') return ` (${first.slice(0, 200)})`;
  if (first && typeof first === 'object' && typeof (first as { error?: unknown }).error === 'string') {
    return ` (${((first as { error: string }).error).slice(0, 200)})`;
  }
  return '';
}

/** What a device procedure answers with when it fails: the WAMP error the caller receives. */
export class DeviceApiError extends Error {
  constructor(
    readonly uri: string,
    message: string,
    readonly kwargs: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DeviceApiError';
  }
}

export function invalidArgument(message: string, field: string, expected: string): DeviceApiError {
  return new DeviceApiError(WAMP_ERRORS.invalidArgument, message, { field, expected });
}
