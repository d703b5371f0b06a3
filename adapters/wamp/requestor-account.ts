// Which account a device API call acts for. The request parser (what is
// recorded and reported as `requestor_account_key`) and the privilege check
// (whose privilege is checked when the backend relays a call as `system`)
// read it here, from one list of field names, so the two cannot disagree on
// who the requestor is.
//
// Absent (no field, or JSON null) means nobody named: the backend itself, as
// in the Reagent. Present but malformed (`""`, `true`, an object, a negative
// or fractional number, an oversized string) is an invalid argument, never
// "absent": a caller must not turn a check of some account into no check at
// all by sending a value the reader skips.
import { invalidArgument } from './errors.js';
import { describeValue, isObj, toUint, type Obj } from './validate.js';

/** Field names of the requestor, in the Reagent's order (`requestor_account_key`, falling back to `account_id`). */
export const REQUESTOR_ACCOUNT_FIELDS = ['requestor_account_key', 'account_id'] as const;

export type AccountKey = number | string;

const EXPECTED = 'an account key: a non-negative integer, or a string of 1-128 printable characters without spaces';

/** A valid account key, normalized (decimal digit strings become numbers), or undefined. */
function accountKey(value: unknown): AccountKey | undefined {
  const n = toUint(value);
  if (n !== undefined) return n;
  return typeof value === 'string' && /^[\x21-\x7e]{1,128}$/.test(value) ? value : undefined;
}

/**
 * The requestor named in one object (kwargs, or a positional object), or null
 * when none is. Throws `wamp.error.invalid_argument` naming the field when a
 * value is malformed, or when the aliases name two different accounts.
 */
export function readRequestorAccount(o: Obj, path: string): AccountKey | null {
  return named(o, path)?.key ?? null;
}

function named(o: Obj, path: string): { field: string; key: AccountKey } | null {
  let found: { field: string; key: AccountKey } | null = null;
  for (const field of REQUESTOR_ACCOUNT_FIELDS) {
    const v = o[field];
    if (v === undefined || v === null) continue;
    const key = accountKey(v);
    if (key === undefined) throw invalidArgument(`field "${path}${field}": expected ${EXPECTED}, got ${describeValue(v)}`, `${path}${field}`, EXPECTED);
    if (found && found.key !== key) {
      const expected = `the same account as "${found.field}" (or leave it out)`;
      throw invalidArgument(`field "${path}${field}": expected ${expected}, got another account`, `${path}${field}`, expected);
    }
    found ??= { field: `${path}${field}`, key };
  }
  return found;
}

/**
 * The requestor of a call, read from kwargs and from a positional object in
 * args[0] (the backend relays either way). Both must agree when both name one.
 */
export function requestorOfCall(args: readonly unknown[], kwargs: Obj): AccountKey | null {
  const fromKw = named(kwargs, '');
  const first = args[0];
  const fromArgs = isObj(first) ? named(first, 'args[0].') : null;
  if (fromKw && fromArgs && fromKw.key !== fromArgs.key) {
    const expected = `the same account as kwargs "${fromKw.field}" (or leave it out)`;
    throw invalidArgument(`field "${fromArgs.field}": expected ${expected}, got another account`, fromArgs.field, expected);
  }
  return (fromKw ?? fromArgs)?.key ?? null;
}
