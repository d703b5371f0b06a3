// Backoff arithmetic shared by the connection and app statecharts. Pure: the
// randomness is an argument (the runtime draws it and journals it with the
// event), so a replay computes the very same delays.

export interface BackoffPolicy {
  /** First delay, before jitter. */
  initialMs: number;
  /** Cap of the un-jittered delay. */
  maxMs: number;
  multiplier: number;
  /** Fraction in [0, 1): the delay is shortened by up to this much, never lengthened. */
  jitter: number;
}

/**
 * The delay before retry number `attempt` (1-based). "Subtractive" jitter keeps
 * every delay inside [initialMs * (1 - jitter), maxMs], so the cap is a real cap,
 * while spreading a fleet of devices that lost the same router.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, rand: number): number {
  const n = Math.max(1, Math.floor(attempt));
  const raw = policy.initialMs * Math.pow(policy.multiplier, n - 1);
  const capped = Math.min(policy.maxMs, Number.isFinite(raw) ? raw : policy.maxMs);
  const r = Math.min(Math.max(rand, 0), 0.999999);
  return Math.round(capped * (1 - policy.jitter * r));
}

/** The smallest and largest delay `backoffDelay` can return for a policy. */
export function backoffBounds(policy: BackoffPolicy): { min: number; max: number } {
  const lowCap = Math.min(policy.initialMs, policy.maxMs);
  return { min: Math.floor(lowCap * (1 - policy.jitter)), max: Math.ceil(policy.maxMs) };
}
