// Child process for bugreport.spec.ts: a daemon-like writer that keeps a
// journal busy (group commits several times a second) until it is signalled,
// so a bug report has to read next to a live writer.
//
// Usage: node --import tsx busy-writer.ts <agentDir>
// Prints "READY <seq>" after its first commit and "STOPPED" once it closed cleanly.
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { ActorSystem } from '../../../actors/system.js';
import type { LooseCatalog } from '../../../actors/contracts.js';
import { ManualClock } from '../../../actors/clock.js';
import { builtinMachines } from '../../../machines/registry.js';
import { Journal } from '../../../adapters/store/journal.js';
import { acquireInstanceLock } from '../../../adapters/store/instance-lock.js';
import { studioPolicy } from '../../helpers/connection-policy.js';
import type { Json } from '../../../actors/types.js';

const agentDir = process.argv[2]!;
const lock = acquireInstanceLock(agentDir);
const journal = Journal.open({ path: join(agentDir, 'reagent.db'), staleLockRecovery: true, logger: { info() {}, warn() {}, error() {} } });
const clock = new ManualClock(1_700_000_000_000);
let s = 5;
const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const registry = builtinMachines();
journal.appendRun('busy', clock.now(), 'test', registry.versions());
const system = new ActorSystem<LooseCatalog>({ journal, clock, registry, random, run: 'busy' });
const ids = ['studio', 'gateway', 'extra'];
for (const id of ids) system.spawn(id, 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
for (const id of ids) system.send(id, 'net', 'START');

let stopping = false;
const stop = () => {
  stopping = true;
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

let first = true;
for (let i = 0; !stopping; i++) {
  const id = ids[i % ids.length]!;
  const r = random();
  if (r < 0.3) system.send(id, 'net', 'CONNECTED');
  else if (r < 0.6) system.send(id, 'net', 'PONG');
  else if (r < 0.75) system.send(id, 'net', 'DISCONNECTED', { reason: 'eof' });
  else clock.advance(Math.floor(random() * 4000));
  if (i % 40 === 39) {
    await system.flush();
    // Only once: the parent blocks in spawnSync meanwhile, and a full pipe must not stop the writer.
    if (first) writeSync(1, `READY ${journal.nextSeq - 1}\n`);
    first = false;
    // A turn of the event loop between commits, as in the daemon: signals get through.
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
await system.flush();
system.close();
journal.close();
lock.release();
writeSync(1, 'STOPPED\n');
