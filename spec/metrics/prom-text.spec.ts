// The Prometheus text renderer against a strict reader of the format, with
// generated label values (escapes) and the families the daemon exposes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { histogram, renderFamilies, type Family } from '../../adapters/metrics/prom-text.js';
import { collectFamilies } from '../../adapters/metrics/collect.js';
import { judgeHealth } from '../../adapters/metrics/health.js';
import { parsePrometheusText } from './prom-parser.js';

describe('Prometheus text', () => {
  it('label values of any text survive escaping (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme' }), { minLength: 1, maxLength: 8 }), fc.double(), (values, v) => {
        const f: Family = { name: 'x_total', help: 'a help with \\ and\nnewline', type: 'counter', samples: values.map((s, i) => ({ labels: { a: s, i: String(i) }, value: v })) };
        const parsed = parsePrometheusText(renderFamilies([f])).get('x_total')!;
        assert.deepEqual(parsed.samples.map((s) => s.labels.a), values);
        for (const s of parsed.samples) assert.ok(Object.is(s.value, v) || (Number.isNaN(v) && Number.isNaN(s.value)) || s.value === v);
      }),
    );
  });

  it('histograms are cumulative and end at +Inf = count', () => {
    const text = renderFamilies([histogram('h_seconds', 'h', [0.1, 1], [2, 3], 1.5, 6)]);
    const h = parsePrometheusText(text).get('h_seconds')!;
    assert.deepEqual(h.samples.map((s) => [s.name, s.labels.le, s.value]), [
      ['h_seconds_bucket', '0.1', 2],
      ['h_seconds_bucket', '1', 5],
      ['h_seconds_bucket', '+Inf', 6],
      ['h_seconds_sum', undefined, 1.5],
      ['h_seconds_count', undefined, 6],
    ]);
  });

  it('the strict reader rejects what Prometheus rejects', () => {
    for (const bad of ['x 1', '# TYPE x gauge\nx{a="\\q"} 1\n', '# TYPE x gauge\nx  1\n', '# TYPE x gauge\nx 1\nx 2\n', '# TYPE x gauge\nx one\n', 'x 1\n']) {
      assert.throws(() => parsePrometheusText(bad), Error, bad);
    }
  });

  it("the daemon's families parse, with fixed names and no free text", () => {
    const text = renderFamilies(
      collectFamilies({
        version: '1.2.3',
        links: [{ name: 'studio', actor: 'studio:connection', phase: 'backoff', working: false, since: 0, connects: 3, disconnects: 3, delayMs: 4000, connectTimeoutMs: 1250, lastError: 'secret-looking "error" text' }],
        configured: ['studio', 'gateway'],
        commits: { ok: 10, failed: 2, sumSeconds: 0.05, buckets: [1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0], failing: true, lastError: 'disk full' },
        journalBytes: 4096,
        journalBufferedBytes: 100,
        appStates: ['RUNNING', 'RUNNING', 'FAILED'],
        outboxDepth: 2,
        memory: process.memoryUsage(),
        startedAtSeconds: 1,
        updatePhase: 'probation',
      }),
    );
    const f = parsePrometheusText(text);
    assert.equal(f.get('reagent_link_reconnects_total')!.samples.find((s) => s.labels.link === 'studio')!.value, 2);
    assert.equal(f.get('reagent_link_up')!.samples.find((s) => s.labels.link === 'gateway')!.value, 0);
    assert.equal(f.get('reagent_apps')!.samples.find((s) => s.labels.state === 'RUNNING')!.value, 2);
    assert.equal(f.get('reagent_journal_commit_duration_seconds')!.samples.at(-1)!.value, 10);
    assert.equal(f.get('reagent_outbox_depth')!.samples[0]!.value, 2);
    // Error texts (which could quote anything) never reach the scrape.
    assert.doesNotMatch(text, /secret-looking|disk full/);
  });

  it('health: a failing journal, a stopped link and a link stuck past its bounds are unhealthy; retrying is fine', () => {
    const link = { name: 'studio', actor: 'studio:connection', working: false, since: 0, connects: 0, disconnects: 0, delayMs: 8000, connectTimeoutMs: 1250, lastError: null };
    const ok = { failing: false, lastError: null };
    assert.ok(judgeHealth({ now: 10_000, commits: ok, configured: ['studio'], links: [{ ...link, phase: 'backoff' }] }).ok);
    assert.ok(!judgeHealth({ now: 60_000, commits: ok, configured: ['studio'], links: [{ ...link, phase: 'backoff' }] }).ok);
    assert.ok(!judgeHealth({ now: 60_000, commits: ok, configured: ['studio'], links: [{ ...link, phase: 'connecting' }] }).ok);
    assert.ok(judgeHealth({ now: 9e9, commits: ok, configured: ['studio'], links: [{ ...link, phase: 'connected', working: true }] }).ok);
    assert.ok(!judgeHealth({ now: 0, commits: ok, configured: ['studio'], links: [{ ...link, phase: 'idle' }] }).ok);
    const full = judgeHealth({ now: 0, commits: { failing: true, lastError: 'disk full (12 KiB free)' }, configured: [], links: [] });
    assert.deepEqual(full.problems, ['journal cannot commit: disk full (12 KiB free)']);
    assert.ok(judgeHealth({ now: 0, commits: ok, configured: ['gateway'], links: [] }).ok, 'a gateway link still finding its credentials is starting');
  });
});
