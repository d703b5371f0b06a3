// One stage of `scripts/bench-footprint.ts`: loads what the daemon loads, up to
// STAGE, uses it the way the daemon does, prints "ready" and idles. Plain
// JavaScript on the built dist/, so no TypeScript loader adds to what is measured.
//   node scripts/footprint-stage.mjs STAGE AGENT_DIR
import { setFlagsFromString } from 'node:v8';

const STAGES = ['esm', 'logger', 'journal', 'actors', 'docker', 'dockerode-eager', 'studio-deps', 'gateway-deps'];
const [stage = 'esm', agentDir = '.'] = process.argv.slice(2);
const upTo = STAGES.indexOf(stage);
if (upTo < 0) throw new Error(`stage must be one of ${STAGES.join(', ')}, got ${stage}`);
// The daemon's own setting (cli/main.cts), before SQLite is compiled.
setFlagsFromString('--liftoff-only');
const keep = [];

if (upTo >= 1) {
  const { createLogger } = await import('../dist/adapters/log/logger.js');
  const { Redactor } = await import('../dist/adapters/log/redactor.js');
  const logger = createLogger({ level: 'info', encoding: 'json', pretty: false, redactor: new Redactor(), stdout: { write: () => {} } });
  logger.info({ stage }, 'footprint');
  keep.push(logger);
}
if (upTo >= 2) {
  const { Journal } = await import('../dist/adapters/store/journal.js');
  const journal = Journal.open({ path: `${agentDir}/reagent.db` });
  journal.appendRun('footprint', Date.now(), 'footprint', {});
  journal.commit();
  keep.push(journal);
  if (upTo >= 3) {
    const { ActorSystem } = await import('../dist/actors/system.js');
    const { SystemClock } = await import('../dist/actors/clock.js');
    const { builtinMachines } = await import('../dist/machines/registry.js');
    const system = new ActorSystem({ journal, clock: new SystemClock(), registry: builtinMachines(), random: Math.random, run: 'footprint' });
    const policy = { connectTimeoutMs: 1250, pingIntervalMs: 5000, resetAfterMs: 60_000, backoff: { initialMs: 1000, maxMs: 30_000, multiplier: 2, jitter: 0.2 } };
    system.spawn('link', 'connection', { link: 'net', policy });
    await system.flush();
    keep.push(system);
  }
}
if (upTo === 4) {
  const { dockerFromEnv } = await import('../dist/adapters/docker/client.js');
  keep.push(dockerFromEnv({}));
}
if (upTo === 5) {
  const { createRequire } = await import('node:module');
  keep.push(createRequire(import.meta.url)('dockerode'));
}
if (upTo === 6) keep.push(await import('autobahn'), await import('ws'));
if (upTo === 7) keep.push(await import('@grpc/grpc-js'), await import('@grpc/proto-loader'));

console.log('ready');
setInterval(() => keep.length, 60_000);
