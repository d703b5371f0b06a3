// `-debugMessaging`: every WAMP message, both ways, as one log line each.
// The AUTHENTICATE signature is derived from the device secret and the
// credentials in request_app_state (docker_credentials, environment values)
// are exactly what must never reach a log, so each message passes the
// redactor (sensitive keys, registered literals) after the signature is blanked.
import type { Logger } from 'pino';
import type { Redactor } from '../log/redactor.js';
import { REDACTED } from '../log/redactor.js';
import type { WampMessage } from './autobahn.js';

const TYPE_NAMES: Record<number, string> = {
  1: 'HELLO', 2: 'WELCOME', 3: 'ABORT', 4: 'CHALLENGE', 5: 'AUTHENTICATE', 6: 'GOODBYE', 8: 'ERROR',
  16: 'PUBLISH', 17: 'PUBLISHED', 32: 'SUBSCRIBE', 33: 'SUBSCRIBED', 34: 'UNSUBSCRIBE', 35: 'UNSUBSCRIBED', 36: 'EVENT',
  48: 'CALL', 49: 'CANCEL', 50: 'RESULT', 64: 'REGISTER', 65: 'REGISTERED', 66: 'UNREGISTER', 67: 'UNREGISTERED',
  68: 'INVOCATION', 69: 'INTERRUPT', 70: 'YIELD',
};

const AUTHENTICATE = 5;
/** Frames larger than this are logged truncated: a log batch can be 256 KiB. */
const MAX_LOGGED_CHARS = 4096;

/** A copy of the message that is safe to log. */
export function redactMessage(message: WampMessage, redactor: Redactor): unknown[] {
  const copy = [...message];
  if (copy[0] === AUTHENTICATE && copy.length > 1) copy[1] = REDACTED;
  return redactor.scrub(copy) as unknown[];
}

/** Never throws: a message that cannot be logged is logged as such, and still handled. */
export function trafficLogger(logger: Logger, redactor: Redactor): (direction: 'in' | 'out', message: WampMessage) => void {
  return (direction, message) => {
    const type = typeof message[0] === 'number' ? (TYPE_NAMES[message[0]] ?? String(message[0])) : 'INVALID';
    const arrow = `wamp ${direction === 'in' ? '<-' : '->'} ${type}`;
    try {
      let text = JSON.stringify(redactMessage(message, redactor));
      if (text.length > MAX_LOGGED_CHARS) text = `${text.slice(0, MAX_LOGGED_CHARS)}… (${text.length} chars)`;
      logger.info({ wamp: direction, type, message: text }, arrow);
    } catch (err) {
      try {
        logger.warn({ wamp: direction, type }, `${arrow} (not loggable: ${err instanceof Error ? err.name : typeof err})`);
      } catch {
        /* the logger itself is failing: nothing more to say */
      }
    }
  };
}
