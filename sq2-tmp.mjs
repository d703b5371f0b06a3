import { setFlagsFromString } from 'node:v8';
for (const f of (process.env.F ?? '').split(' ').filter(Boolean)) setFlagsFromString(f);
const t = performance.now();
const { default: sqlite3 } = await import('node-sqlite3-wasm');
const db = new sqlite3.Database('/tmp/perf/sq2-' + process.pid + '.db'); db.exec('PRAGMA journal_mode=DELETE; create table t(x); insert into t values (1)'); db.all('PRAGMA quick_check');
const dt = performance.now() - t;
setTimeout(() => console.log(`${(process.env.F ?? '').padEnd(60)} ${(process.env.MALLOC_ARENA_MAX ?? '').padEnd(2)} ${dt.toFixed(0)} ms rss ${(process.memoryUsage().rss / 1048576).toFixed(1)}`), 1500);
setTimeout(() => process.exit(0), 1600);
