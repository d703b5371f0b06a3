// `npm run bench`: every number is a ratio against a baseline measured in the
// same run on the same machine, so results compare across machines.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchJournal } from './bench-journal.js';
import { benchReplay } from './bench-replay.js';
import { benchDaemon } from './bench-daemon.js';

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

  const d = await benchDaemon(quick ? 1 : 3);
  row('daemon idle RSS (-offline)', `${(d.daemon.idleRssKiB / 1024).toFixed(1)} MiB`, `bare node: ${(d.bare.idleRssKiB / 1024).toFixed(1)} MiB`, `${(d.daemon.idleRssKiB / d.bare.idleRssKiB).toFixed(2)}x (target <= 1.5x)`);
  row('daemon start-up to ready', `${d.daemon.startupMs.toFixed(0)} ms`, `bare node: ${d.bare.startupMs.toFixed(0)} ms`, `${(d.daemon.startupMs / d.bare.startupMs).toFixed(2)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  |  '));
