// The bug reports of the studio link and the apps link, end to end through
// the built CLI against their real peers: the WAMP router (restarted in the
// middle) and a private dockerd with a password-protected registry (the
// engine restarted in the middle). Each time: stop, `bugreport`, `replay`:
// reproduced, with no event redacted; `replay --inspect` steps through every
// event. Planted secrets (the .flock secret, a Wi-Fi password, the registry
// password of `docker_credentials`, an app environment value) appear in none
// of the journal file, the log, the report, the inspector's page data or its
// Stately stream; the environment value is in the 0600 secret table, where
// the next start finds it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, requireBuild, runReagent } from '../helpers/cli.js';
import { pushTickerImage } from '../helpers/apps-daemon.js';
import { skipLoudly, startDockerPeer, uniqueAppKey, type DockerPeer } from '../helpers/docker-peer.js';
import { BACKEND_USER, DEVICE, STUDIO_USER, proc, startPeers, until } from '../studio/helpers/harness.js';
import { callOutcome, connectPeer } from '../studio/helpers/wamp-peer.js';
import { startCliDevice, type CliDevice } from '../studio/helpers/cli-device.js';
import { BackendSim } from '../studio/helpers/backend-sim.js';
import { chromiumMissing, launch, type Browser } from '../inspector/browser.js';
import { journalFiles, leaks, logFiles, reportText, type Planted } from './helpers/secret-scan.js';
import { stepEveryEvent } from './helpers/replay-inspect.js';

requireBuild();
const missing = chromiumMissing();
if (missing && process.env.CI === 'true') throw new Error(`browser tests need Chromium: ${missing}`);

let browser: Browser;
before(async () => {
  if (!missing) browser = await launch();
});
after(async () => {
  await browser?.close();
});

const onlineCount = (device: CliDevice) => device.lines().filter((l) => /^studio link online/.test(String(l.msg))).length;

/** Stop, bugreport, replay, replay --inspect, and the scan: what every link's test ends with. */
async function reportReplaysClean(device: CliDevice, planted: Planted, screenshot: string, extraPlaces: Record<string, string> = {}) {
  assert.equal(await device.stop(), 0, 'the device stops cleanly');
  const report = join(device.dir, 'report.ndjson');
  const written = runReagent(['-config', device.flockPath, '-agentDir', device.agentDir, 'bugreport', '-o', report], cleanEnv(device.dir));
  assert.equal(written.code, 0, written.stderr);
  const text = reportText(report);
  const records = text.trim().split('\n').slice(1).map((l) => JSON.parse(l) as { actor: string; type: string; redacted?: boolean });
  assert.deepEqual(records.filter((r) => r.redacted).map((r) => `${r.actor} ${r.type}`), [], 'no event needed redaction');

  const replayed = runReagent(['replay', report], cleanEnv(device.dir));
  assert.equal(replayed.code, 0, replayed.stdout + replayed.stderr);
  assert.match(replayed.stdout, new RegExp(`^reproduced: ${records.length} events`));

  const inspected = await stepEveryEvent(browser, report, cleanEnv(device.dir), screenshot);
  assert.match(inspected.verdict, /^reproduced: /m);
  assert.equal(inspected.events, records.length);
  assert.deepEqual(
    leaks(planted, {
      ...journalFiles(device.agentDir),
      ...logFiles(device.agentDir),
      'daemon output': device.reagent.output(),
      'bug report': text,
      'inspector page data': inspected.pageData,
      'Stately stream': inspected.stately,
      ...extraPlaces,
    }),
    [],
  );
  return records;
}

describe('studio link: a bug report across a router restart replays, and carries no secret', { skip: missing ?? false }, () => {
  it('stop, bugreport, replay: reproduced; every event steppable; no .flock secret or Wi-Fi password anywhere', async () => {
    const { router, backend: first } = await startPeers();
    let backend = first;
    const device = startCliDevice({ url: router.url });
    try {
      await until(() => onlineCount(device) >= 1, 30_000, 'the device online');
      const wifiPassword = 'planted-wifi-passphrase-93f1';
      const studio = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
      // No NetworkManager here: the call fails, and its password must not surface anywhere either.
      await callOutcome(studio.session, proc('add_wifi_configuration'), [{ ssid: 'Office', password: wifiPassword, priority: 1 }]);
      await studio.close();

      await router.restart();
      await backend.stop().catch(() => undefined);
      backend = new BackendSim({ url: router.url, ...BACKEND_USER, allow: [`*:${STUDIO_USER.authid}`] });
      await backend.start();
      await until(() => onlineCount(device) >= 2, 60_000, 'the device online again after the router restart');

      const records = await reportReplaysClean(device, { '.flock secret': DEVICE.secret, 'Wi-Fi password': wifiPassword }, 'replay-studio-every-event');
      assert.ok(records.filter((r) => r.actor === 'studio:session' && r.type === 'SESSION_OPENED').length >= 2, 'both sessions recorded');
    } finally {
      await device.stop();
      device.cleanup();
      await backend.stop().catch(() => undefined);
      await router.stop();
    }
  });
});

const peerOrSkip = missing ? { skipped: missing } : await startDockerPeer({ needsRestart: true });
const dockerSkip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (dockerSkip && !missing) skipLoudly('apps bug report e2e', dockerSkip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

describe('apps link: a bug report across a Docker engine restart replays, and carries no secret', { skip: dockerSkip }, () => {
  it('stop, bugreport, replay: reproduced; every event steppable; no registry password or environment value anywhere', async () => {
    const peer = peerOrSkip as DockerPeer;
    const appKey = Number(uniqueAppKey());
    await pushTickerImage(peer, `apps/prod_${(await import('../../adapters/docker/arch.js')).dockerArch()}_${appKey}_weather`, '1.0.0');
    const { router, backend } = await startPeers();
    const device = startCliDevice({
      url: router.url,
      env: { DOCKER_HOST: peer.dockerHost, REAGENT_APP_NETWORK: 'none' },
      flock: { docker_registry_url: peer.registry.host, docker_main_repository: 'apps/' },
    });
    const envSecret = 'planted-app-env-value-7c2e';
    try {
      await backend.until(() => backend.statuses().includes('CONNECTED'), 60_000, 'the CLI device online');
      const studio = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
      const r = await callOutcome(studio.session, proc('request_app_state'), [], {
        app_key: appKey,
        app_name: 'weather',
        stage: 'PROD',
        target_state: 'RUNNING',
        version: '1.0.0',
        requestor_account_key: Number(STUDIO_USER.authid),
        environment: { API_SECRET: envSecret, GREETING: 'hello' },
        docker_credentials: { [peer.registry.host]: { username: peer.registry.username, password: peer.registry.password } },
      });
      assert.ok(r.ok, JSON.stringify(r));
      await backend.until(() => backend.statesOf(appKey, 'PROD').at(-1) === 'RUNNING', 90_000, 'RUNNING reported');
      const container = await peer.docker().getContainer(`prod_${appKey}_weather`).inspect();
      assert.ok(container.Config.Env.includes(`API_SECRET=${envSecret}`), 'the container got its environment');

      // The fault: the engine restarts under the running app.
      const reported = backend.statesOf(appKey, 'PROD').length;
      await peer.restartEngine();
      // The restart stops the container: the app reports what became of it.
      await backend.until(() => backend.statesOf(appKey, 'PROD').length > reported, 90_000, 'a report after the engine restart');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await studio.close();

      const table = join(device.agentDir, 'secrets.json');
      assert.equal(statSync(table).mode & 0o777, 0o600, 'the secret table is 0600');
      assert.ok(readFileSync(table, 'utf8').includes(envSecret), 'the environment value is kept in the secret table, for an offline restart');
      const records = await reportReplaysClean(device, {
        'registry password (docker_credentials)': peer.registry.password,
        'app environment value': envSecret,
        '.flock secret': DEVICE.secret,
      }, 'replay-apps-every-event');
      assert.ok(records.some((r) => r.actor === `app:PROD:${appKey}` && r.type === 'REQUEST'), 'the request is recorded');

      // Offline, with the container gone: the next start recreates it with its environment, from the secret table.
      await peer.docker().getContainer(`prod_${appKey}_weather`).remove({ force: true }).catch(() => undefined);
      const offline = startCliDevice({ url: router.url, dir: device.dir, args: ['-offline'], env: { DOCKER_HOST: peer.dockerHost, REAGENT_APP_NETWORK: 'none' }, flock: { docker_registry_url: peer.registry.host, docker_main_repository: 'apps/' } });
      try {
        await until(
          async () => (await peer.docker().getContainer(`prod_${appKey}_weather`).inspect().catch(() => null))?.State.Running === true,
          60_000,
          'the app recreated and running offline',
        );
        const recreated = await peer.docker().getContainer(`prod_${appKey}_weather`).inspect();
        assert.ok(recreated.Config.Env.includes(`API_SECRET=${envSecret}`), 'recreated with its environment');
      } finally {
        await offline.stop();
      }
    } finally {
      await device.stop();
      device.cleanup();
      await peer.docker().getContainer(`prod_${appKey}_weather`).remove({ force: true }).catch(() => undefined);
      await backend.stop().catch(() => undefined);
      await router.stop();
    }
  });
});
