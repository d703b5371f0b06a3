// `npm run bench`: every number is a ratio against a baseline measured in the
// same run on the same machine, so results compare across machines.
// `--quick`: shorter runs. `--json`: the last line is one JSON object with
// every ratio and absolute value (keys listed in README "Benchmarks").
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchJournal } from './bench-journal.js';
import { benchReplay } from './bench-replay.js';
import { benchCliVersion, benchDaemon } from './bench-daemon.js';
import { benchApps } from './bench-apps.js';
import { benchGateway } from './bench-gateway.js';
import { benchExecutable } from './bench-executable.js';
import { createBenchJournal, benchReplayFile, benchBugreport } from './bench-inspect.js';
import { benchRedactor } from './bench-redactor.js';

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const rows: Array<[string, string, string, string]> = [];
const row = (what: string, value: string, baseline: string, ratio: string) => rows.push([what, value, baseline, ratio]);
const out: Record<string, number | string | boolean | null> = {};
const r2 = (n: number) => Math.round(n * 100) / 100;
const range = (xs: number[], f: (n: number) => string) => (xs.length > 1 ? ` [${f(Math.min(...xs))}..${f(Math.max(...xs))}]` : '');
const MiB = (kib: number) => kib / 1024;

out['nproc'] = cpus().length;
out['loadavg_start'] = r2(loadavg()[0]!);
out['quick'] = quick;

const dir = mkdtempSync(join(tmpdir(), 'reagent-bench-'));
try {
  const red = benchRedactor(quick ? 20_000 : 200_000);
  row('log redactor, one small log object', `${red.scrubUs.toFixed(2)} µs/scrub`, `JSON.stringify: ${red.stringifyUs.toFixed(2)} µs`, `${red.ratio.toFixed(1)}x`);
  Object.assign(out, { redactor_scrub_us: r2(red.scrubUs), redactor_vs_stringify_ratio: r2(red.ratio) });
  const events = quick ? 20_000 : 100_000;
  const j = await benchJournal({ events, dir });
  row(`journal append, group commit (${events} events)`, `${Math.round(j.appendPerSec)} ev/s`, `raw insert, 1 txn: ${Math.round(j.rawInsertPerSec)}/s`, `${j.ratio.toFixed(2)}x (target >= 0.5x)`);
  row(`  same, raw inserts committed every ${j.group}`, `${Math.round(j.rawGroupCommitPerSec)} ev/s`, `one commit costs ${j.commitMs.toFixed(1)} ms here`, `append is ${(j.appendPerSec / j.rawGroupCommitPerSec).toFixed(2)}x of it`);
  Object.assign(out, {
    journal_append_ratio: r2(j.ratio),
    journal_append_per_sec: Math.round(j.appendPerSec),
    journal_raw_insert_per_sec: Math.round(j.rawInsertPerSec),
    journal_raw_group_commit_per_sec: Math.round(j.rawGroupCommitPerSec),
    journal_append_vs_raw_group_commit: r2(j.appendPerSec / j.rawGroupCommitPerSec),
    journal_commit_ms: r2(j.commitMs),
    journal_group: j.group,
  });

  const replayEvents = quick ? 100_000 : 1_000_000;
  const r = benchReplay(replayEvents, quick ? 1 : 2);
  const k = (n: number) => `${Math.round(n / 1000)}k`;
  row(
    `replay through the runtime (${r.events} events, ${r.verdict}${r.sameStates ? '' : ', END STATES DIFFER'})`,
    `${r.eventsPerSec} ev/s${range(r.rounds.runtime, k)}`,
    `bare XState: ${r.xstateEventsPerSec} ev/s${range(r.rounds.xstate, k)}`,
    `${r.ratio.toFixed(2)}x (target >= 0.6x; ${(r.eventsPerSec / 200_000).toFixed(2)}x of 200k ev/s)`,
  );
  Object.assign(out, {
    replay_vs_xstate_ratio: r2(r.ratio),
    replay_events_per_sec: r.eventsPerSec,
    xstate_events_per_sec: r.xstateEventsPerSec,
    replay_verdict: r.verdict,
    replay_same_end_states: r.sameStates,
  });

  const jf = await createBenchJournal(join(dir, 'inspect.db'), quick ? 100_000 : 1_000_000);
  const rf = benchReplayFile(jf.file);
  row(`replay from a journal file (${rf.events} events, ${rf.verdict})`, `${rf.replayPerSec} ev/s`, `read only: ${rf.readPerSec} ev/s`, `${(rf.replayPerSec / 200_000).toFixed(2)}x of 200k ev/s`);
  const br = benchBugreport(jf.file, join(dir, 'report.ndjson'));
  row(`bugreport export, plain (${br.events} events)`, `${(br.elapsedMs / 1000).toFixed(1)} s`, `${(br.bytes / 2 ** 20).toFixed(1)} MiB`, `${br.eventsPerSec} ev/s`);
  const rp = benchReplayFile(join(dir, 'report.ndjson'));
  rmSync(join(dir, 'report.ndjson'));
  // The default since issue 12: the same report gzip-compressed, and its replay.
  const bg = benchBugreport(jf.file, join(dir, 'report.ndjson.gz'), true);
  const rg = benchReplayFile(join(dir, 'report.ndjson.gz'));
  rmSync(join(dir, 'report.ndjson.gz'));
  row(
    `bugreport export, gzip (${bg.events} events)`,
    `${(bg.elapsedMs / 1000).toFixed(1)} s`,
    `${(bg.bytes / 2 ** 20).toFixed(1)} MiB (plain ${(br.bytes / 2 ** 20).toFixed(1)} MiB)`,
    `${(br.bytes / bg.bytes).toFixed(1)}x smaller, ${(bg.elapsedMs / br.elapsedMs).toFixed(2)}x the time`,
  );
  row(`  replay of the report (${rg.events} events, ${rg.verdict})`, `gzip ${(rg.elapsedMs / 1000).toFixed(1)} s`, `plain ${(rp.elapsedMs / 1000).toFixed(1)} s`, `${(rg.elapsedMs / rp.elapsedMs).toFixed(2)}x the time`);
  Object.assign(out, {
    replay_file_events_per_sec: rf.replayPerSec,
    journal_read_events_per_sec: rf.readPerSec,
    bugreport_events_per_sec: br.eventsPerSec,
    bugreport_plain_mib: r2(br.bytes / 2 ** 20),
    bugreport_plain_write_s: r2(br.elapsedMs / 1000),
    bugreport_plain_replay_s: r2(rp.elapsedMs / 1000),
    bugreport_gzip_mib: r2(bg.bytes / 2 ** 20),
    bugreport_gzip_write_s: r2(bg.elapsedMs / 1000),
    bugreport_gzip_replay_s: r2(rg.elapsedMs / 1000),
    bugreport_gzip_ratio: r2(br.bytes / bg.bytes),
  });

  const d = await benchDaemon(quick ? 1 : 5);
  const idle = d.daemon.idleRssKiB / d.bare.idleRssKiB;
  const start = d.daemon.startupMs / d.bare.startupMs;
  const mib = (n: number) => MiB(n).toFixed(1);
  const ms = (n: number) => n.toFixed(0);
  row('daemon idle RSS (-offline)', `${mib(d.daemon.idleRssKiB)} MiB${range(d.rounds.daemon.map((x) => x.idleRssKiB), mib)}`, `bare node: ${mib(d.bare.idleRssKiB)} MiB`, `${idle.toFixed(2)}x (target <= 1.5x)`);
  row('daemon start-up to ready', `${ms(d.daemon.startupMs)} ms${range(d.rounds.daemon.map((x) => x.startupMs), ms)}`, `bare node: ${ms(d.bare.startupMs)} ms${range(d.rounds.bare.map((x) => x.startupMs), ms)}`, `${start.toFixed(2)}x (target <= 4x)`);
  Object.assign(out, {
    idle_rss_ratio: r2(idle),
    idle_rss_mib: r2(MiB(d.daemon.idleRssKiB)),
    bare_node_rss_mib: r2(MiB(d.bare.idleRssKiB)),
    startup_ratio: r2(start),
    startup_ms: Math.round(d.daemon.startupMs),
    bare_node_startup_ms: Math.round(d.bare.startupMs),
  });

  const v = benchCliVersion(quick ? 7 : 15);
  row('reagent -version (spawn to exit)', `${ms(v.versionMs)} ms${range(v.rounds.version, ms)}`, `node -e 0: ${ms(v.bareMs)} ms${range(v.rounds.bare, ms)}`, `${(v.versionMs / v.bareMs).toFixed(2)}x (target <= 1.5x)`);
  Object.assign(out, { cli_version_ratio: r2(v.versionMs / v.bareMs), cli_version_ms: Math.round(v.versionMs), bare_node_e0_ms: Math.round(v.bareMs) });

  const x = await benchExecutable({ rounds: quick ? 1 : 5, idleMs: quick ? 1000 : 3000 });
  if ('skipped' in x) row('single executable', 'skipped', x.skipped, '-');
  else {
    const base = x.variants['node dist/cli/main.cjs (this Node)']!;
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
  if ('skipped' in a) {
    row('apps (20 at once)', 'skipped', a.skipped, '-');
    out['apps_skipped'] = a.skipped;
  } else {
    row(`${a.apps} apps: request -> all RUNNING`, `${a.requestToRunningMs.toFixed(0)} ms`, `docker CLI run -d x${a.apps}: ${a.dockerCliMs.toFixed(0)} ms`, `${(a.requestToRunningMs / a.dockerCliMs).toFixed(2)}x`);
    row(`daemon idle RSS, ${a.apps} running apps`, `${(a.idleRssWithAppsKiB / 1024).toFixed(1)} MiB`, `no apps: ${(a.idleRssNoAppsKiB / 1024).toFixed(1)} MiB`, `${(a.idleRssWithAppsKiB / a.idleRssNoAppsKiB).toFixed(2)}x`);
    Object.assign(out, {
      apps_request_to_running_ms: Math.round(a.requestToRunningMs),
      apps_docker_cli_ms: Math.round(a.dockerCliMs),
      apps_vs_docker_cli_ratio: r2(a.requestToRunningMs / a.dockerCliMs),
      apps_idle_rss_mib: r2(MiB(a.idleRssWithAppsKiB)),
      apps_engine_idle_rss_mib: r2(MiB(a.idleRssNoAppsKiB)),
    });
  }

  const g = await benchGateway({ quick });
  row(`bulk TCP through agent+gateway (${g.bytes / 1048576} MiB)`, `${g.agentMiBps.toFixed(1)} MiB/s`, `raw grpc-js stream: ${g.grpcMiBps.toFixed(1)} MiB/s (loopback TCP ${g.tcpMiBps.toFixed(0)})`, `${g.ratio.toFixed(2)}x (target >= 0.5x)`);
  row(`  CPU per relayed MiB, all processes`, `${g.relayCpuMsPerMiB.toFixed(1)} ms`, `raw stream, sender + receiver: ${g.rawCpuMsPerMiB.toFixed(1)} ms`, `${(g.rawCpuMsPerMiB / g.relayCpuMsPerMiB).toFixed(2)}x`);
  row(`memory per open relayed connection (${g.connections})`, `agent ${g.agentKiBPerConnection.toFixed(1)} KiB`, `gateway ${g.gatewayKiBPerConnection.toFixed(1)} KiB`, '');
  Object.assign(out, {
    tcp_relay_ratio: r2(g.ratio),
    tcp_relay_mib_per_sec: r2(g.agentMiBps),
    grpc_stream_mib_per_sec: r2(g.grpcMiBps),
    tcp_loopback_mib_per_sec: r2(g.tcpMiBps),
    relay_cpu_ms_per_mib: r2(g.relayCpuMsPerMiB),
    grpc_cpu_ms_per_mib: r2(g.rawCpuMsPerMiB),
    relay_cpu_seconds: Object.entries(g.cpuSeconds).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', '),
    agent_kib_per_connection: r2(g.agentKiBPerConnection),
    gateway_kib_per_connection: r2(g.gatewayKiBPerConnection),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}

out['loadavg_end'] = r2(loadavg()[0]!);
const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  |  '));
console.log(`(load average ${out['loadavg_start']} at start, ${out['loadavg_end']} at the end, ${out['nproc']} CPUs)`);
if (json) console.log(JSON.stringify(out));
