// The only exceptions the gob codec raises. Callers at the transport boundary
// turn them into a refused session, so they must be distinguishable from bugs.

/**
 * Why decoding stopped: the input broke gob's grammar, it hit one of our
 * resource guards (nesting, zero-fill budget), or something unforeseen was
 * thrown inside the decoder, which tests treat as a bug.
 */
export type GobDecodeFailure = 'malformed' | 'limit' | 'internal';

/** Malformed, truncated or hostile gob input. `offset` is into the whole input. */
export class GobDecodeError extends Error {
  override readonly name = 'GobDecodeError';

  constructor(
    readonly offset: number,
    readonly expected: string,
    readonly detail = '',
    readonly failure: GobDecodeFailure = 'malformed',
  ) {
    super(`gob: at offset ${offset}: expected ${expected}${detail ? `: ${detail}` : ''}`);
  }
}

/** A value that does not fit the schema it is being encoded with. */
export class GobEncodeError extends Error {
  override readonly name = 'GobEncodeError';

  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`gob encode ${path || '<root>'}: ${detail}`);
  }

  /** The same error seen from the enclosing value; paths are built only when something fails. */
  under(step: string): GobEncodeError {
    return new GobEncodeError(step + this.path, this.detail);
  }
}
