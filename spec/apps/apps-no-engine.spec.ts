// Without a Docker engine (none installed, or not up yet at boot) the daemon
// still starts in bounded time: apps begin where they last reported, new
// requests wait visibly for the engine instead of failing, and nothing is lost.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { startDaemon } from '../../actors/daemon.js';
import { SystemClock } from '../../actors/clock.js';
import type { Command } from '../../actors/types.js';
import type { Transition } from '../../actors/system.js';
import { builtinMachines } from '../../machines/registry.js';
import { Journal } from '../../adapters/store/journal.js';
import { AppRequestsProjection } from '../../apps/projection.js';
import { APPS_STORAGE } from '../../apps/storage.js';
import { AppsLink } from '../../apps/apps-link.js';
import { createLogger } from '../../adapters/log/logger.js';
import { Redactor } from '../../adapters/log/redactor.js';
import type { Link } from '../../actors/link.js';
import { appRequest } from '../helpers/apps-daemon.js';
import { waitFor } from '../helpers/docker-peer.js';
import { everyStudioCommand } from '../helpers/studio-recorder.js';

test('no engine at start: bounded start, apps from their last reported state, new requests wait for Docker', async (t) => {
  const agentDir = mkdtempSync(join(tmpdir(), 'reagent-noengine-'));
  t.after(() => rmSync(agentDir, { recursive: true, force: true }));
  const dbFile = join(agentDir, 'reagent.db');
  const seed = Journal.open({ path: dbFile, logger: { info() {}, warn() {}, error() {} } });
  const p = new AppRequestsProjection(seed.storage('apps', APPS_STORAGE));
  p.upsertRequest('5', 'PROD', { target: 'RUNNING', appName: 'known', version: '1.0.0', spec: { registry: '', repository: '', env: {}, ports: [] } }, 1);
  p.noteState('5', 'PROD', 'RUNNING', '1.0.0');
  seed.close();

  const reports: Array<{ actor: string; command: Command }> = [];
  const studio: Link = {
    name: 'studio-recorder',
    start: async (ctx) =>
      void ctx.system.handle(
        'studio',
        everyStudioCommand((command, actor) => {
          reports.push({ actor, command });
        }),
      ),
    stop: async () => {},
  };
  const logFile = join(agentDir, 'reagent.log');
  const logger = createLogger({ level: 'debug', encoding: 'json', pretty: false, file: logFile, stdout: { write: () => true }, redactor: new Redactor() });
  const link = new AppsLink({
    appsDir: join(agentDir, 'apps'),
    buildExtension: 'tgz',
    env: {},
    docker: new Dockerode({ socketPath: join(agentDir, 'no-docker.sock') }),
    overrides: { engineWaitMs: 300, bootSettleMs: 300 },
  });
  const t0 = Date.now();
  const daemon = await startDaemon({
    config: { agentDir, dbFile, journalMaxBytes: 64 << 20, compactEveryMs: 600_000, offline: true, agentVersion: 'test' },
    logger,
    clock: new SystemClock(),
    random: Math.random,
    registry: builtinMachines(),
    links: [studio, link],
  });
  const transitions: Transition[] = [];
  daemon.system.subscribe((tr) => transitions.push(tr));
  try {
    assert.ok(Date.now() - t0 < 5000, `started in ${Date.now() - t0} ms`);
    const known = reports.filter((r) => r.actor === 'app:PROD:5').map((r) => r.command['state']);
    assert.deepEqual(known, ['RUNNING'], 'the known app starts where it last was');
    assert.match(readFileSync(logFile, 'utf8'), /Docker engine not reachable at start/);

    await link.service.requestAppState(appRequest({ appKey: 6, appName: 'fresh', stage: 'PROD', targetState: 'RUNNING', version: '2.0.0' }), 'studio');
    await waitFor('the fresh app to wait for Docker', () =>
      transitions.some((tr) => tr.actor === 'app:PROD:6' && tr.state === '{"DOWNLOADING":"waitingForEngine"}'),
    );
    assert.deepEqual(reports.filter((r) => r.actor === 'app:PROD:6').map((r) => r.command['state']), ['REMOVED', 'DOWNLOADING']);
    assert.ok(!transitions.some((tr) => tr.actor === 'app:PROD:6' && tr.type === 'OP_FAILED'), 'nothing failed for want of Docker');
    // A bad name never reaches the service: its AppName type needs the check where a request enters.
    assert.throws(() => appRequest({ appKey: 7, appName: 'bad name!', stage: 'PROD', targetState: 'RUNNING' }), /invalid app name/);
  } finally {
    await daemon.stop();
  }
});
