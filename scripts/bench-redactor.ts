// The log redactor's cost on a typical small log object, next to what every
// log line pays anyway (JSON.stringify of the same object). Moved here from a
// timed unit test: a time budget belongs in the bench, as a ratio.
import { Redactor } from '../adapters/log/redactor.js';

export function benchRedactor(rounds: number): { scrubUs: number; stringifyUs: number; ratio: number } {
  const r = new Redactor();
  r.addSecret('device-secret-1234');
  const obj = { msg: 'connected to wss://cbw.ironflock.com/ws-re-dev', app: { key: 12, name: 'temp', state: 'RUNNING' }, attempt: 3 };
  const time = (fn: () => unknown): number => {
    for (let i = 0; i < 2_000; i++) fn(); // warm up
    const start = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) fn();
    return Number(process.hrtime.bigint() - start) / 1000 / rounds;
  };
  const stringifyUs = time(() => JSON.stringify(obj));
  const scrubUs = time(() => r.scrub(obj));
  return { scrubUs, stringifyUs, ratio: scrubUs / stringifyUs };
}
