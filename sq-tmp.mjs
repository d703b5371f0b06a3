import { setFlagsFromString } from 'node:v8';
for (const f of (process.env.F ?? '').split(' ').filter(Boolean)) setFlagsFromString(f);
const { Journal } = await import('./dist/adapters/store/journal.js');
const j = Journal.open({ path: '/tmp/perf/sq-' + process.pid + '.db' });
j.appendRun('r', 1, 'v', {}); for (let i = 0; i < 10; i++) j.append({ run: 'r', at: i, source: 's', actor: 'a', type: 't', payload: {}, rand: 0, state: null, ctx: null, cmds: [] }); j.commit();
setInterval(() => {}, 1000);
