// The terminal ledger (adapters/terminal/ledger.ts): what a killed daemon
// left is swept at the next start, a pid now owned by another process is
// left alone, a damaged file is an empty ledger. The process table is a
// stand-in here (the e2e specs sweep real shells); fast-check over contents.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { readLedger, sweepLedger, TerminalLedger, type ProcessTable } from '../../adapters/terminal/ledger.js';
import { tempDir } from '../helpers/cli.js';

function table(procs: Record<number, { start: string; session: number }>) {
  const killed: number[] = [];
  const t: ProcessTable = {
    stat: (pid) => procs[pid] ?? null,
    sessionMembers: (sid) => Object.entries(procs).filter(([, p]) => p.session === sid).map(([pid]) => Number(pid)),
    kill: (pid) => void killed.push(pid),
  };
  return { t, killed };
}

describe('terminal ledger', () => {
  it('records and forgets pty and exec entries in its file', () => {
    const path = join(tempDir(), 'terminals-gateway.json');
    const { t } = table({ 100: { start: '555', session: 100 } });
    const l = new TerminalLedger(path, t);
    l.addPty(100);
    l.addExec('prod_1_a', 'abc123', null);
    assert.deepEqual(readLedger(path), [
      { kind: 'pty', pid: 100, start: '555' },
      { kind: 'exec', container: 'prod_1_a', execId: 'abc123', pid: null, start: null },
    ]);
    l.removePty(100);
    l.removeExec('abc123');
    assert.deepEqual(readLedger(path), []);
  });

  it('kills the whole session of a listed shell, even when the shell is gone; never a reused pid', () => {
    const path = join(tempDir(), 'terminals-gateway.json');
    writeFileSync(
      path,
      JSON.stringify({
        version: 1,
        entries: [
          { kind: 'pty', pid: 100, start: '555' },
          { kind: 'pty', pid: 200, start: '777' },
          { kind: 'pty', pid: 300, start: '999' },
          { kind: 'exec', container: 'prod_1_a', execId: 'abc', pid: 400, start: '1' },
        ],
      }),
    );
    const { t, killed } = table({
      100: { start: '555', session: 100 },
      101: { start: '556', session: 100 },
      // 200's shell is gone; its job lives on in its session.
      201: { start: '780', session: 200 },
      // 300 is someone else's process now.
      300: { start: '123', session: 300 },
      301: { start: '124', session: 300 },
      400: { start: '1', session: 1 },
    });
    assert.equal(sweepLedger(path, t), 4);
    assert.deepEqual(killed.sort(), [100, 101, 201, 400]);
    assert.ok(!existsSync(path), 'the ledger is removed after the sweep');
  });

  it('any file content is read without throwing; only well-formed entries count', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ entries: [v] }))), (content) => {
        const path = join(tempDir(), 'terminals-studio.json');
        writeFileSync(path, content);
        for (const e of readLedger(path)) {
          assert.ok(e.kind === 'pty' || e.kind === 'exec');
          if (e.pid !== null) assert.ok(Number.isInteger(e.pid) && e.pid > 1);
        }
        const { t, killed } = table({});
        sweepLedger(path, t);
        assert.deepEqual(killed, []);
      }),
      { numRuns: 100 },
    );
  });
});
