import fc from 'fast-check';
import type { ConnectionPolicy } from '../../machines/connection.js';

export const studioPolicy: ConnectionPolicy = {
  connectTimeoutMs: 1250,
  pingIntervalMs: 5000,
  resetAfterMs: 60_000,
  backoff: { initialMs: 1000, maxMs: 30_000, multiplier: 2, jitter: 0.2 },
};

export const arbPolicy: fc.Arbitrary<ConnectionPolicy> = fc.record({
  connectTimeoutMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20_000 })),
  pingIntervalMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20_000 })),
  resetAfterMs: fc.integer({ min: 0, max: 120_000 }),
  backoff: fc
    .record({
      initialMs: fc.integer({ min: 1, max: 10_000 }),
      maxMs: fc.integer({ min: 1, max: 120_000 }),
      multiplier: fc.double({ min: 1, max: 4, noNaN: true }),
      jitter: fc.double({ min: 0, max: 0.9, noNaN: true }),
    })
    .map((b) => ({ ...b, maxMs: Math.max(b.maxMs, b.initialMs) })),
});
