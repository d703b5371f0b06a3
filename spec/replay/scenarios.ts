// Recorded runs that become regression fixtures (spec/fixtures/recordings/).
// Each scenario drives real machines through the real runtime on virtual time
// with seeded randomness, so re-recording after an intended change produces
// the same events and only the outcomes the change explains.
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import type { Json, JournalRecord } from '../../actors/types.js';
import type { ConnectionPolicy } from '../../machines/connection.js';
import type { ExportSnapshot } from '../../adapters/store/export.js';
import { MemoryJournal } from '../helpers/memory-journal.js';
import { studioPolicy } from '../helpers/connection-policy.js';
import { DEFAULT_STUDIO_SESSION_POLICY } from '../../machines/studio-session.js';

export interface Recorded {
  records: JournalRecord[];
  /** Compaction snapshots: the records start after them. */
  snapshots: ExportSnapshot[];
}

export interface Scenario {
  name: string;
  /** What the run exercises, kept in the fixture's header. */
  about: string;
  record(): Recorded;
}

const START = 1_700_000_000_000;

function harness(run: string, seed: number) {
  const journal = new MemoryJournal();
  const clock = new ManualClock(START);
  let s = seed >>> 0;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const system = new ActorSystem<LooseCatalog>({ journal, clock, registry: builtinMachines(), random, run });
  let compactedAt: ExportSnapshot | undefined;
  return {
    system,
    clock,
    random,
    link(id: string, policy: ConnectionPolicy = studioPolicy, link = 'net') {
      system.spawn(id, 'connection', { link, policy: policy as unknown as Json });
    },
    /** The history before this point is replaced by a snapshot, as compaction does it. */
    compactHere(): void {
      compactedAt = { run, seq: journal.records.length, at: clock.now(), data: system.persist() };
    },
    done(): Recorded {
      system.close();
      const snap = compactedAt;
      if (!snap) return { records: journal.records, snapshots: [] };
      return { records: journal.records.filter((r) => r.seq > snap.seq), snapshots: [snap] };
    },
  };
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'connection-flapping',
    about: 'two links (studio, gateway) connecting, pinging, dropping and backing off with jitter, as in spec/cli/replay.spec.ts',
    record() {
      const h = harness('flapping', 3);
      for (const id of ['studio', 'gateway']) h.link(id);
      for (let i = 0; i < 400; i++) {
        const id = i % 2 ? 'studio' : 'gateway';
        const r = h.random();
        if (r < 0.08) h.system.send(id, 'net', 'START');
        else if (r < 0.3) h.system.send(id, 'net', 'CONNECTED');
        else if (r < 0.55) h.system.send(id, 'net', 'PONG');
        else if (r < 0.62) h.system.send(id, 'net', 'DISCONNECTED', { reason: 'eof' });
        else if (r < 0.68) h.system.send(id, 'net', 'CONNECT_FAILED', { reason: 'connection refused' });
        else h.clock.advance(Math.floor(h.random() * 4000));
      }
      return h.done();
    },
  },
  {
    name: 'connection-ping-timeout',
    about: 'a link that stops answering pings: awaitingPong, ping timeout, backoff, reconnect; then one that answers',
    record() {
      const h = harness('ping-timeout', 11);
      h.link('studio');
      h.system.send('studio', 'net', 'START');
      h.system.send('studio', 'net', 'CONNECTED');
      h.clock.advance(5000); // ping due: awaitingPong, ping sent
      h.clock.advance(5000); // no pong: ping timeout, disconnect, backoff
      h.clock.advance(60_000); // backoff over: connecting again
      h.system.send('studio', 'net', 'CONNECTED');
      for (let i = 0; i < 10; i++) {
        h.clock.advance(5000);
        h.system.send('studio', 'net', 'PONG');
      }
      return h.done();
    },
  },
  {
    name: 'connection-stop-start-retry',
    about: 'STOP from every state, START again, an immediate retry (retryNow), connect timeouts with connTimeout 0 and set',
    record() {
      const h = harness('stop-start', 23);
      h.link('studio');
      h.link('untimed', { ...studioPolicy, connectTimeoutMs: 0, pingIntervalMs: 0 });
      for (const id of ['studio', 'untimed']) h.system.send(id, 'net', 'START');
      h.clock.advance(2000); // studio times out, untimed keeps waiting
      h.system.send('untimed', 'net', 'STOP', { reason: 'shutdown' });
      h.system.send('untimed', 'net', 'START');
      h.system.send('untimed', 'net', 'CONNECTED');
      h.system.send('untimed', 'net', 'DISCONNECTED', { reason: 'server restart', retryNow: true });
      h.system.send('untimed', 'net', 'CONNECTED');
      h.system.send('untimed', 'net', 'STOP');
      h.clock.advance(40_000);
      h.system.send('studio', 'net', 'CONNECTED');
      h.system.send('studio', 'net', 'STOP');
      h.system.send('studio', 'net', 'START');
      h.system.stop('untimed');
      h.clock.advance(3000);
      return h.done();
    },
  },
  {
    name: 'connection-long-lived-reset',
    about: 'a connection that lived longer than resetAfterMs starts its next backoff from scratch (hoop #489)',
    record() {
      const h = harness('long-lived', 37);
      h.link('gateway', { ...studioPolicy, pingIntervalMs: 0 }, 'grpc');
      h.system.send('gateway', 'net', 'START');
      for (let k = 0; k < 4; k++) {
        h.system.send('gateway', 'net', 'CONNECT_FAILED', { reason: 'refused' });
        h.clock.advance(40_000);
      }
      h.system.send('gateway', 'net', 'CONNECTED');
      h.clock.advance(90_000);
      h.system.send('gateway', 'net', 'DISCONNECTED', { reason: 'eof' });
      h.clock.advance(40_000);
      h.system.send('gateway', 'net', 'CONNECTED');
      h.clock.advance(1000);
      h.system.send('gateway', 'net', 'DISCONNECTED', { reason: 'eof' });
      h.clock.advance(40_000);
      return h.done();
    },
  },
  {
    name: 'studio-recovery-after-working-session',
    about: 'studio link: an outage backs off 1, 2, 4 s; a session completes the on-connect sequence (ESTABLISHED); its dead link is retried within 1 s',
    record() {
      const h = harness('studio-recovery', 61);
      h.link('studio:connection', { ...studioPolicy, resetOn: 'established' }, 'wamp');
      h.system.spawn('studio:session', 'studio-session', { serial: 'SER-1', policy: { ...DEFAULT_STUDIO_SESSION_POLICY } } as unknown as Json);
      const delay = () => (h.system.snapshot('studio:connection') as { context: { delayMs: number } }).context.delayMs;
      h.system.send('studio:connection', 'wamp', 'START');
      for (let k = 0; k < 3; k++) {
        h.system.send('studio:connection', 'wamp', 'CONNECT_FAILED', { reason: 'connection refused' });
        h.clock.advance(delay());
      }
      h.system.send('studio:connection', 'wamp', 'CONNECTED');
      h.system.send('studio:session', 'wamp', 'SESSION_OPENED', { session: 1, wampSession: 4001 });
      for (const step of ['guard', 'testament', 'configuring', 'register', 'describe', 'sync', 'connected']) {
        h.system.send('studio:session', 'wamp', 'STEP_DONE', { session: 1, step });
      }
      h.system.send('studio:connection', 'wamp', 'ESTABLISHED');
      h.clock.advance(5000);
      h.system.send('studio:connection', 'wamp', 'PONG');
      h.clock.advance(10_000); // the link went silent: ping, no pong, ping timeout
      h.system.send('studio:session', 'wamp', 'SESSION_CLOSED', { session: 1, reason: 'ping timeout' });
      h.clock.advance(delay()); // the first retry, within 1 s
      h.system.send('studio:connection', 'wamp', 'CONNECTED');
      h.system.send('studio:session', 'wamp', 'SESSION_OPENED', { session: 2, wampSession: 4002 });
      return h.done();
    },
  },
  {
    name: 'studio-duplicate-serial',
    about: 'the duplicate-serial guard refused as "already exists" 8 times 1 s apart: studio.duplicate, the link gives up',
    record() {
      const h = harness('duplicate', 67);
      h.link('studio:connection', { ...studioPolicy, resetOn: 'established' }, 'wamp');
      h.system.spawn('studio:session', 'studio-session', { serial: 'SER-1', policy: { ...DEFAULT_STUDIO_SESSION_POLICY } } as unknown as Json);
      h.system.send('studio:connection', 'wamp', 'START');
      h.system.send('studio:connection', 'wamp', 'CONNECTED');
      h.system.send('studio:session', 'wamp', 'SESSION_OPENED', { session: 1, wampSession: 5001 });
      for (let k = 0; k < 8; k++) {
        h.system.send('studio:session', 'wamp', 'STEP_FAILED', { session: 1, step: 'guard', reason: 'a WAMP connection for SER-1 already exists', retryable: true });
        h.clock.advance(1000);
      }
      h.system.send('studio:connection', 'wamp', 'STOP', { reason: 'duplicate serial' });
      h.system.send('studio:session', 'wamp', 'SESSION_CLOSED', { session: 1, reason: 'stopped' });
      return h.done();
    },
  },
  {
    name: 'connection-compacted',
    about: 'a run whose early history was compacted into a snapshot (timers pending in it): replay resumes from the snapshot',
    record() {
      const h = harness('compacted', 51);
      for (const id of ['studio', 'gateway']) h.link(id);
      for (const id of ['studio', 'gateway']) h.system.send(id, 'net', 'START');
      h.system.send('studio', 'net', 'CONNECTED');
      h.system.send('gateway', 'net', 'CONNECT_FAILED', { reason: 'refused' });
      h.clock.advance(3000);
      h.compactHere();
      for (let i = 0; i < 60; i++) {
        const id = i % 2 ? 'studio' : 'gateway';
        const r = h.random();
        if (r < 0.3) h.system.send(id, 'net', 'CONNECTED');
        else if (r < 0.5) h.system.send(id, 'net', 'PONG');
        else if (r < 0.6) h.system.send(id, 'net', 'DISCONNECTED', { reason: 'eof' });
        else h.clock.advance(Math.floor(h.random() * 6000));
      }
      return h.done();
    },
  },
];
