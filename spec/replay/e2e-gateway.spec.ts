// The bug report of the gateway link, end to end through the built CLI and
// the development gateway, as issue 12 reported it failing: `admin create
// agent`, `HOOP_KEY=… reagent start agent`, a few `exec` sessions, a gateway
// restart in the middle, then `bugreport` and `replay`: reproduced (it used to
// diverge at seq 3, where the export had redacted the credentials' DSN), and
// `replay --inspect` steps through every event. Planted secrets (the DSN's,
// HOOP_TOKEN, the gateway's admin token) appear in none of the journal file,
// the log, the report, the inspector's page data or its Stately stream.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runReagent } from '../helpers/cli.js';
import { cleanEnv, closedPort, execThrough, startGatewayProcess, startProcess, tempDir, type Proc } from '../helpers/gateway-peer.js';
import { chromiumMissing, launch, type Browser } from '../inspector/browser.js';
import { journalFiles, leaks, logFiles, reportText } from './helpers/secret-scan.js';
import { stepEveryEvent } from './helpers/replay-inspect.js';

const missing = chromiumMissing();
if (missing && process.env.CI === 'true') throw new Error(`browser tests need Chromium: ${missing}`);

describe('gateway link: a bug report of sessions and a gateway restart replays, and carries no secret', { skip: missing ?? false }, () => {
  const home = tempDir('reagent-e2e-gw-home-');
  const data = tempDir('reagent-e2e-gw-data-');
  const agentDir = tempDir('reagent-e2e-gw-agent-');
  const procs: Proc[] = [];
  let browser: Browser;

  before(async () => {
    browser = await launch();
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    await browser?.close();
    for (const d of [home, data, agentDir]) rmSync(d, { recursive: true, force: true });
  });

  it('stop, bugreport, replay: reproduced; replay --inspect reaches every event; no planted secret anywhere', async () => {
    const listen = `127.0.0.1:${await closedPort()}`;
    let gateway = await startGatewayProcess({ home, listen, dataDir: data });
    procs.push(gateway);
    const created = runReagent(['admin', 'create', 'agent', 'runner', '--api', gateway.api, '--data-dir', data], cleanEnv(home));
    assert.equal(created.code, 0, created.stderr);
    const dsn = created.stdout.trim();
    assert.match(dsn, /^grpc:\/\//);
    const dsnSecret = new URL(dsn).password || new URL(dsn).username;
    const planted = {
      'HOOP_KEY (whole DSN)': dsn,
      'DSN secret': dsnSecret,
      HOOP_TOKEN: 'x-agt-planted-hoop-token-0b1c2d3e',
      'gateway admin token': gateway.adminToken,
    };
    assert.ok(dsnSecret.length >= 16, `the DSN has a secret part: ${dsnSecret.length} characters`);

    const daemonEnv = cleanEnv(home, { HOOP_KEY: dsn, HOOP_TOKEN: planted.HOOP_TOKEN, HOOP_GRPCURL: `grpc://${gateway.grpc}` });
    const daemon = startProcess(['start', 'agent', '-agentDir', agentDir, '-nmw=false'], daemonEnv);
    procs.push(daemon);
    await daemon.waitFor(/connected with success to the gateway/, 30_000);

    for (const command of [['sh', '-c', 'echo one'], ['sh', '-c', 'exit 3']]) {
      const r = await execThrough(gateway, 'runner', command, cleanEnv(home));
      assert.ok(r.code === 0 || r.code === 3, r.stderr);
    }
    // The fault: the gateway goes away and comes back on the same address.
    await gateway.stop();
    procs.splice(procs.indexOf(gateway), 1);
    await daemon.waitFor(/disconnected from 127\.0\.0\.1:\d+/, 20_000);
    gateway = await startGatewayProcess({ home, listen, dataDir: data });
    procs.push(gateway);
    await daemon.waitFor(/connected with success to the gateway[\s\S]*connected with success to the gateway/, 30_000);
    const again = await execThrough(gateway, 'runner', ['sh', '-c', 'echo two'], cleanEnv(home));
    assert.equal(again.code, 0, again.stderr);
    await daemon.stop();

    // As users type it: the daemon's flag after the command; gzip by default.
    const report = join(agentDir, 'report');
    const written = runReagent(['bugreport', '-agentDir', agentDir, '-o', report], daemonEnv);
    assert.equal(written.code, 0, written.stderr);
    const text = reportText(report);
    assert.deepEqual([...readFileSync(report).subarray(0, 2)], [0x1f, 0x8b], 'gzip');
    const records = text.trim().split('\n').slice(1).map((l) => JSON.parse(l) as { actor: string; type: string; redacted?: boolean });
    assert.ok(records.length >= 30, `${records.length} events`);
    assert.deepEqual(records.filter((r) => r.redacted).map((r) => `${r.actor} ${r.type}`), [], 'no event needed redaction');
    assert.ok(records.filter((r) => r.actor.startsWith('gateway-session:') && r.type === '@runtime.spawn').length >= 3, 'three sessions recorded');

    const replayed = runReagent(['replay', report], cleanEnv(home));
    assert.equal(replayed.code, 0, replayed.stdout + replayed.stderr);
    assert.match(replayed.stdout, new RegExp(`^reproduced: ${records.length} events`));

    const inspected = await stepEveryEvent(browser, report, cleanEnv(home), 'replay-gateway-every-event');
    assert.match(inspected.verdict, /^reproduced: /m);
    assert.equal(inspected.events, records.length);

    assert.deepEqual(
      leaks(planted, {
        ...journalFiles(agentDir),
        ...logFiles(agentDir),
        'daemon output': daemon.output(),
        'bug report': text,
        'inspector page data': inspected.pageData,
        'Stately stream': inspected.stately,
      }),
      [],
    );
  });
});
