// Keeps credentials out of logs. Two layers, because neither is enough alone:
// values under sensitive keys are dropped whatever they look like, and every
// string is scanned for the secrets we know (registered literals) and for the
// shapes credentials take in free text (bearer tokens, URL passwords, hoop
// agent tokens), since a token often arrives inside a message or an error.

export const REDACTED = '[REDACTED]';

/** Keys whose values are never logged, matched anywhere in the key, case-insensitively. */
export const SENSITIVE_KEY = /token|secret|passw|authorization|credential|api[-_]?key|private[-_]?key|dsn|hoop_key|cookie/i;

// Shorter registered secrets are ignored: a 1-3 character "secret" would blank
// out ordinary words all over the logs and protect nothing.
const MIN_SECRET_LENGTH = 4;

// One pass for all free-text shapes; each alternative keeps its prefix (group)
// so the log still says *what* was hidden. URL userinfo cannot contain an
// unencoded '/', '?', '#' or '@' (RFC 3986), which bounds the password match;
// the scheme is bounded too, or a long dotted string would scan quadratically.
const SHAPES = /(\bbearer\s+)[^\s"']+|(\b[a-z][a-z0-9+.-]{0,31}:\/\/[^\s:@/?#"']*:)[^\s@/?#"']+(?=@)|(\bx-?agt-)[\w-]+/gi;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class Redactor {
  readonly #secrets = new Set<string>();
  #secretPattern: RegExp | null = null;

  /** Registers a literal value (a token, a device secret) to hide wherever it appears. */
  addSecret(value: string | null | undefined): void {
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH || this.#secrets.has(value)) return;
    this.#secrets.add(value);
    // Longest first, so a secret that contains another is hidden whole.
    const sorted = [...this.#secrets].sort((a, b) => b.length - a.length);
    this.#secretPattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
  }

  scrubString(s: string): string {
    const literal = this.#secretPattern ? s.replace(this.#secretPattern, REDACTED) : s;
    return literal.replace(SHAPES, (_m, bearer?: string, userinfo?: string, agt?: string) => (bearer ?? userinfo ?? agt ?? '') + REDACTED);
  }

  /**
   * Returns a scrubbed deep copy shaped like its JSON serialization: plain
   * objects and arrays, Errors as `{type, message, stack, ...}` (pino's shape),
   * objects with `toJSON` (Date, URL, Buffer) through it. Cycles become "[Circular]".
   */
  scrub(value: unknown): unknown {
    return this.#walk(value, new Set());
  }

  #walk(value: unknown, ancestors: Set<object>): unknown {
    if (typeof value === 'string') return this.scrubString(value);
    if (value === null || typeof value !== 'object') return value;
    if (ancestors.has(value)) return '[Circular]';
    ancestors.add(value);
    try {
      if (value instanceof Error) return this.#error(value, ancestors);
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return this.#walk(toJSON.call(value), ancestors);
      if (Array.isArray(value)) return value.map((item) => this.#walk(item, ancestors));
      const out: Record<string, unknown> = {};
      // Keys are scrubbed too: maps keyed by token or session secret exist.
      for (const key of Object.keys(value)) {
        out[this.scrubString(key)] = this.#field(key, (value as Record<string, unknown>)[key], ancestors);
      }
      return out;
    } finally {
      ancestors.delete(value);
    }
  }

  #field(key: string, value: unknown, ancestors: Set<object>): unknown {
    // Flags such as `hasToken: true` say nothing secret and help debugging.
    if (SENSITIVE_KEY.test(key) && value !== null && value !== undefined && typeof value !== 'boolean') return REDACTED;
    return this.#walk(value, ancestors);
  }

  #error(err: Error, ancestors: Set<object>): Record<string, unknown> {
    const out: Record<string, unknown> = {
      type: err.constructor?.name || err.name,
      message: this.scrubString(String(err.message)),
    };
    if (typeof err.stack === 'string') out.stack = this.scrubString(err.stack);
    for (const key of Object.keys(err)) {
      if (!(key in out)) out[key] = this.#field(key, (err as unknown as Record<string, unknown>)[key], ancestors);
    }
    // `cause` and AggregateError's `errors` are not enumerable.
    if (err.cause !== undefined && !('cause' in out)) out.cause = this.#walk(err.cause, ancestors);
    if (err instanceof AggregateError && !('errors' in out)) out.errors = this.#walk(err.errors, ancestors);
    return out;
  }
}
