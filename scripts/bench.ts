// `npm run bench`: every number is a ratio against a baseline measured in the
// same run on the same machine, so results compare across machines.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchJournal } from './bench-journal.js';
import { benchReplay } from './bench-replay.js';
import { benchDaemon } from './bench-daemon.js';
import { benchApps } from './bench-apps.js';
import { benchGateway } from './bench-gateway.js';
import { benchExecutable } from './bench-executable.js';
import { createBenchJournal, benchReplayFile, benchBugreport } from './bench-inspect.js';

const quick = process.argv.includes('--quick');
const rows: Array<[string, string, string, string]> = [];
const row = (what: string, value: string, baseline: string, ratio: string) => rows.push([what, value, baseline, ratio]);

const dir = mkdtempSync(join(tmpdir(), 'reagent-bench-'));
try {
  const events = quick ? 20_000 : 100_000;
  const j = await benchJournal({ events, dir });
  row(`journal append, group commit (${events} events)`, `${Math.round(j.appendPerSec)} ev/s`, `raw insert, 1 txn: ${Math.round(j.rawInsertPerSec)}/s`, `${j.ratio.toFixed(2)}x (target >= 0.5x)`);

  const replayEvents = quick ? 100_000 : 1_000_000;
  const r = benchReplay(replayEvents);
  row(`replay through the machines (${r.events} events, ${r.verdict})`, `${r.eventsPerSec} ev/s`, 'target 200000 ev/s', `${(r.eventsPerSec / 200_000).toFixed(2)}x of target`);

  const jf = await createBenchJournal(join(dir, 'inspect.db'), quick ? 100_000 : 1_000_000);
  const rf = benchReplayFile(jf.file);
  row(`replay from a journal file (${rf.events} events, ${rf.verdict})`, `${rf.replayPerSec} ev/s`, `read only: ${rf.readPerSec} ev/s`, `${(rf.replayPerSec / 200_000).toFixed(2)}x of target`);
  const br = benchBugreport(jf.file, join(dir, 'report.ndjson'));
  row(`bugreport export (${br.events} events)`, `${(br.elapsedMs / 1000).toFixed(1)} s`, `${(br.bytes / 2 ** 20).toFixed(0)} MiB`, `${br.eventsPerSec} ev/s`);

  const d = await benchDaemon(quick ? 1 : 3);
  row('daemon idle RSS (-offline)', `${(d.daemon.idleRssKiB / 1024).toFixed(1)} MiB`, `bare node: ${(d.bare.idleRssKiB / 1024).toFixed(1)} MiB`, `${(d.daemon.idleRssKiB / d.bare.idleRssKiB).toFixed(2)}x (target <= 1.5x)`);
  row('daemon start-up to ready', `${d.daemon.startupMs.toFixed(0)} ms`, `bare node: ${d.bare.startupMs.toFixed(0)} ms`, `${(d.daemon.startupMs / d.bare.startupMs).toFixed(2)}x`);

  const x = await benchExecutable({ rounds: quick ? 1 : 5, idleMs: quick ? 1000 : 3000 });
  if ('skipped' in x) row('single executable', 'skipped', x.skipped, '-');
  else {
    const base = x.variants['node dist/cli/main.js (this Node)']!;
    for (const [name, v] of Object.entries(x.variants)) {
      row(`start-up to ready (-offline): ${name}`, `${v.startupMs.toFixed(0)} ms`, `node dist: ${base.startupMs.toFixed(0)} ms`, `${(v.startupMs / base.startupMs).toFixed(2)}x`);
    }
    for (const [name, v] of Object.entries(x.variants)) {
      row(`idle RSS (-offline): ${name}`, `${(v.idleRssKiB / 1024).toFixed(1)} MiB`, `node dist: ${(base.idleRssKiB / 1024).toFixed(1)} MiB`, `${(v.idleRssKiB / base.idleRssKiB).toFixed(2)}x`);
    }
    const MiB = 1024 * 1024;
    row('single executable size (linux/amd64)', `${(x.bytes / MiB).toFixed(1)} MiB (gzip ${(x.gzipBytes / MiB).toFixed(1)} MiB)`, `its Node binary: ${(x.nodeBytes / MiB).toFixed(1)} MiB`, `+${((x.bytes - x.nodeBytes) / MiB).toFixed(1)} MiB`);
    if ('skipped' in x.notify) row('systemd notification', 'skipped', x.notify.skipped, '-');
    else row('systemd notification (spawned systemd-notify)', `${x.notify.notifyMs.toFixed(1)} ms`, `spawn of true: ${x.notify.spawnMs.toFixed(1)} ms`, `${(x.notify.notifyMs / x.notify.spawnMs).toFixed(2)}x`);
  }

  const a = await benchApps({ idleMs: quick ? 1000 : 3000 });
  if ('skipped' in a) row('apps (20 at once)', 'skipped', a.skipped, '-');
  else {
    row(`${a.apps} apps: request -> all RUNNING`, `${a.requestToRunningMs.toFixed(0)} ms`, `docker CLI run -d x${a.apps}: ${a.dockerCliMs.toFixed(0)} ms`, `${(a.requestToRunningMs / a.dockerCliMs).toFixed(2)}x`);
    row(`daemon idle RSS, ${a.apps} running apps`, `${(a.idleRssWithAppsKiB / 1024).toFixed(1)} MiB`, `no apps: ${(a.idleRssNoAppsKiB / 1024).toFixed(1)} MiB`, `${(a.idleRssWithAppsKiB / a.idleRssNoAppsKiB).toFixed(2)}x`);
  }

  const g = await benchGateway({ quick });
  row(`bulk TCP through agent+gateway (${g.bytes / 1048576} MiB)`, `${g.agentMiBps.toFixed(1)} MiB/s`, `raw grpc-js stream: ${g.grpcMiBps.toFixed(1)} MiB/s (loopback TCP ${g.tcpMiBps.toFixed(0)})`, `${g.ratio.toFixed(2)}x (target >= 0.5x)`);
  row(`memory per open relayed connection (${g.connections})`, `agent ${g.agentKiBPerConnection.toFixed(1)} KiB`, `gateway ${g.gatewayKiBPerConnection.toFixed(1)} KiB`, '');
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  |  '));
