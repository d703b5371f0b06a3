// Keeps credentials out of logs. Two layers, because neither is enough alone:
// values under sensitive keys are dropped whatever they look like, and every
// string is scanned for the secrets we know (registered literals) and for the
// shapes credentials take in free text (bearer tokens, URL passwords, hoop
// agent tokens), since a token often arrives inside a message or an error.
//
// Its input is often a peer's (a WAMP frame under -debugMessaging arrives
// before any privilege check), so the walk is bounded: below MAX_DEPTH levels
// a subtree becomes "[Too deep]" instead of recursing until the stack
// overflows, and registered secrets are found with indexOf, never compiled
// into a regular expression (a 32 KiB secret made one too large to compile,
// and the compile error printed the secret).
import { isEnvironmentName, isSecretName } from './secret-names.js';

export const REDACTED = '[REDACTED]';
/** What stands for a subtree nested deeper than MAX_DEPTH. */
export const TOO_DEEP = '[Too deep]';
/**
 * Levels of nesting kept. Our own log objects, journal payloads and contexts
 * stay under a dozen; a peer's payload nested deeper is cut, not followed.
 */
export const MAX_DEPTH = 64;

// Shorter registered secrets are ignored: a 1-3 character "secret" would blank
// out ordinary words all over the logs and protect nothing.
const MIN_SECRET_LENGTH = 4;

// One pass for all free-text shapes; each alternative keeps its prefix (group)
// so the log still says *what* was hidden. URL userinfo cannot contain an
// unencoded '/', '?', '#' or '@' (RFC 3986), which bounds the password match;
// the scheme is bounded too, or a long dotted string would scan quadratically.
const SHAPES = /(\bbearer\s+)[^\s"']+|(\b[a-z][a-z0-9+.-]{0,31}:\/\/[^\s:@/?#"']*:)[^\s@/?#"']+(?=@)|(\bx-?agt-)[\w-]+/gi;

export class Redactor {
  /** Longest first, so a secret that contains another is hidden whole. */
  #secrets: string[] = [];

  /** Registers a literal value (a token, a device secret) to hide wherever it appears; any length. */
  addSecret(value: string | null | undefined): void {
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH || this.#secrets.includes(value)) return;
    this.#secrets = [...this.#secrets, value].sort((a, b) => b.length - a.length);
  }

  scrubString(s: string): string {
    const literal = this.#secrets.length > 0 ? this.#hideSecrets(s) : s;
    return literal.replace(SHAPES, (_m, bearer?: string, userinfo?: string, agt?: string) => (bearer ?? userinfo ?? agt ?? '') + REDACTED);
  }

  /**
   * Returns a scrubbed deep copy shaped like its JSON serialization: plain
   * objects and arrays, Errors as `{type, message, stack, ...}` (pino's shape),
   * objects with `toJSON` (Date, URL, Buffer) through it. Cycles become
   * "[Circular]", subtrees below MAX_DEPTH "[Too deep]".
   */
  scrub(value: unknown): unknown {
    return this.#walk(value, new Set(), 0);
  }

  /**
   * Leftmost match first, the longest secret at a tie: what one regular
   * expression `longest|...|shortest` did, without compiling one.
   */
  #hideSecrets(s: string): string {
    const secrets = this.#secrets;
    const next = secrets.map((secret) => s.indexOf(secret));
    let out = '';
    let at = 0;
    for (;;) {
      let best = -1;
      for (let i = 0; i < secrets.length; i++) {
        if (next[i]! !== -1 && next[i]! < at) next[i] = s.indexOf(secrets[i]!, at);
        if (next[i]! !== -1 && (best === -1 || next[i]! < next[best]!)) best = i;
      }
      if (best === -1) break;
      out += s.slice(at, next[best]) + REDACTED;
      at = next[best]! + secrets[best]!.length;
    }
    return at === 0 ? s : out + s.slice(at);
  }

  #walk(value: unknown, ancestors: Set<object>, depth: number): unknown {
    if (typeof value === 'string') return this.scrubString(value);
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH) return TOO_DEEP;
    if (ancestors.has(value)) return '[Circular]';
    ancestors.add(value);
    try {
      if (value instanceof Error) return this.#error(value, ancestors, depth);
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return this.#walk(toJSON.call(value), ancestors, depth + 1);
      if (Array.isArray(value)) return value.map((item) => this.#walk(item, ancestors, depth + 1));
      const out: Record<string, unknown> = {};
      // Keys are scrubbed too: maps keyed by token or session secret exist.
      for (const key of Object.keys(value)) {
        out[this.scrubString(key)] = this.#field(key, (value as Record<string, unknown>)[key], ancestors, depth + 1);
      }
      return out;
    } finally {
      ancestors.delete(value);
    }
  }

  #field(key: string, value: unknown, ancestors: Set<object>, depth: number): unknown {
    if (value === null || value === undefined) return value;
    if (isSecretName(key, value)) return REDACTED;
    if (isEnvironmentName(key)) return this.#environment(value, ancestors, depth);
    return this.#walk(value, ancestors, depth);
  }

  /** An app's environment: the variable names stay readable, every value is hidden. */
  #environment(value: unknown, ancestors: Set<object>, depth: number): unknown {
    const line = (item: unknown): unknown => {
      if (typeof item !== 'string') return item === null || item === undefined ? item : REDACTED;
      const eq = item.indexOf('=');
      return eq === -1 ? REDACTED : `${this.scrubString(item.slice(0, eq))}=${REDACTED}`;
    };
    if (typeof value === 'string') return value.includes('=') ? line(value) : this.scrubString(value);
    if (Array.isArray(value)) return value.map(line);
    if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH) return this.#walk(value, ancestors, depth);
    const out: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(value)) out[this.scrubString(name)] = v === null || v === undefined ? v : REDACTED;
    return out;
  }

  #error(err: Error, ancestors: Set<object>, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {
      type: err.constructor?.name || err.name,
      message: this.scrubString(String(err.message)),
    };
    if (typeof err.stack === 'string') out.stack = this.scrubString(err.stack);
    for (const key of Object.keys(err)) {
      if (!(key in out)) out[key] = this.#field(key, (err as unknown as Record<string, unknown>)[key], ancestors, depth + 1);
    }
    // `cause` and AggregateError's `errors` are not enumerable.
    if (err.cause !== undefined && !('cause' in out)) out.cause = this.#walk(err.cause, ancestors, depth + 1);
    if (err instanceof AggregateError && !('errors' in out)) out.errors = this.#walk(err.errors, ancestors, depth + 1);
    return out;
  }
}
