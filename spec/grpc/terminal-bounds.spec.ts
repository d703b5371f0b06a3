// What a gateway can make the agent's terminals hold: at most 64 PTYs, 1 MiB
// per input packet, rows and columns 1-1000 (a resize outside that is a bad
// packet naming "payload"); a resize before the spawn is kept; the spawning
// packet is not typed; exec and terminal packets do not mix in one session.
// Real PTYs (node-pty), the session manager in this process.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeConnectionParams, emptyConnectionParams } from '../../adapters/grpc/gob/connection-params.js';
import { packet, type Packet } from '../../adapters/grpc/packet-codec.js';
import { classifyPacket, LIMITS, parseTtySize } from '../../adapters/grpc/packet-validation.js';
import { SessionManager } from '../../adapters/grpc/sessions/manager.js';
import { DEFAULT_LIMITS } from '../../adapters/grpc/sessions/types.js';
import { AgentPacket, ClientPacket, SpecKey } from '../../adapters/grpc/wire-names.js';
import { loadPty } from '../../packaging/pty.js';
import { waitUntil } from '../helpers/gateway-peer.js';
import { tempDir } from '../helpers/cli.js';

const sidSpec = (s: string): [string, Buffer] => [SpecKey.GatewaySessionID, Buffer.from(s)];

function harness() {
  const sent: Packet[] = [];
  const records: Array<{ sid: string; type: string; payload: unknown }> = [];
  const nativeDir = tempDir('reagent-pty-');
  const m = new SessionManager({
    sink: { send: (p) => (sent.push(p), true), writable: true, onceWritable: (fn) => fn() },
    gate: { block: () => {}, unblock: () => {} },
    recorder: { opening: () => {}, record: (sid, { type, ...payload }) => records.push({ sid, type, payload }), closed: () => {}, rejected: () => {} },
    dial: () => Promise.reject(new Error('no dials here')),
    spawn: () => {
      throw new Error('no exec here');
    },
    limits: { ...DEFAULT_LIMITS, killGraceMs: 500 },
    agentEnv: { PATH: process.env.PATH },
    envDir: null,
    pty: () => loadPty({ nativeDir, files: null }),
    ledger: null,
  });
  const handle = (p: Packet) => m.handle(classifyPacket(p));
  const open = (sid: string, command: string[]) =>
    handle(
      packet(AgentPacket.SessionOpen, [
        sidSpec(sid),
        [SpecKey.ConnectionType, Buffer.from('command-line')],
        [SpecKey.AgentConnectionParams, Buffer.from(encodeConnectionParams({ ...emptyConnectionParams(), ConnectionType: 'command-line', CmdList: command }))],
      ]),
    );
  const stdin = (sid: string, text: string | Buffer) => handle(packet(AgentPacket.TerminalWriteStdin, [sidSpec(sid)], Buffer.from(text)));
  const resize = (sid: string, text: string) => handle(packet(AgentPacket.TerminalResizeTTY, [sidSpec(sid)], Buffer.from(text)));
  const output = (sid: string) =>
    Buffer.concat(sent.filter((p) => p.type === ClientPacket.WriteStdout && p.spec.get(SpecKey.GatewaySessionID)?.toString() === sid).map((p) => p.payload)).toString();
  const close = (sid: string) =>
    sent
      .filter((p) => p.type === ClientPacket.SessionClose && p.spec.get(SpecKey.GatewaySessionID)?.toString() === sid)
      .map((p) => ({ code: p.spec.get(SpecKey.ClientExitCode)?.toString(), message: p.payload.toString() }))[0];
  return { m, sent, records, open, stdin, resize, output, close, handle };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('terminal packets at the boundary', () => {
  it('a resize is "rows,cols,x,y" with rows and cols 1-1000; anything else names the payload', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 }), fc.nat(5000), fc.nat(5000), (rows, cols, x, y) => {
        assert.deepEqual(parseTtySize(Buffer.from(`${rows},${cols},${x},${y}`)), { rows, cols });
      }),
    );
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 1001, max: 2 ** 31 }), fc.constant(0)), fc.integer({ min: 1, max: 1000 }), fc.boolean(), (bad, good, rowsBad) => {
        const text = rowsBad ? `${bad},${good},0,0` : `${good},${bad},0,0`;
        const r = parseTtySize(Buffer.from(text));
        assert.equal(typeof r, 'string');
        assert.match(r as string, /field "payload"/);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const r = parseTtySize(Buffer.from(bytes));
        if (typeof r !== 'string') assert.ok((r.rows === 0 && r.cols === 0) || (r.rows >= 1 && r.rows <= 1000 && r.cols >= 1 && r.cols <= 1000));
      }),
    );
    // Both zero is a terminal with no size, as hoop's clients send it: taken, and the PTY keeps its own.
    assert.deepEqual(parseTtySize(Buffer.from('0,0,0,0')), { rows: 0, cols: 0 });
    for (const bad of ['', '24', 'a,b,c,d', '24,80,0,0,0', '-1,80,0,0', '24.5,80,0,0', '1e3,80,0,0']) {
      const msg = classifyPacket(packet(AgentPacket.TerminalResizeTTY, [sidSpec('s')], Buffer.from(bad)));
      assert.equal(msg.kind, 'invalid', bad);
      assert.match((msg as { reason: string }).reason, /field "payload": expected "rows,cols,x,y"/);
    }
  });

  it('an input packet over 1 MiB is refused naming the payload; 1 MiB exactly is taken', () => {
    const ok = classifyPacket(packet(AgentPacket.TerminalWriteStdin, [sidSpec('s')], Buffer.alloc(LIMITS.terminalInputBytes)));
    assert.equal(ok.kind, 'terminal-stdin');
    const big = classifyPacket(packet(AgentPacket.TerminalWriteStdin, [sidSpec('s')], Buffer.alloc(LIMITS.terminalInputBytes + 1)));
    assert.equal(big.kind, 'invalid');
    assert.match((big as { reason: string }).reason, /field "payload": expected at most 1048576 bytes of terminal input/);
  });
});

describe('terminal sessions on real PTYs', () => {
  const h = harness();
  after(() => h.m.stop('test over'));

  it('keeps a resize sent before the spawn, does not type the spawning packet, then types and resizes', async () => {
    h.open('t1', ['sh']);
    await settle();
    h.resize('t1', '7,33,0,0');
    h.stdin('t1', 'echo never-typed\r');
    h.stdin('t1', 'stty size; echo "x-$((40+2))"\r');
    await waitUntil(() => /x-42/.test(h.output('t1')), 10_000, 'the first command');
    assert.match(h.output('t1'), /7 33/);
    assert.doesNotMatch(h.output('t1'), /never-typed/);
    h.resize('t1', '1000,1000,0,0');
    h.stdin('t1', 'stty size; exit 3\r');
    await waitUntil(() => h.close('t1') !== undefined, 10_000, 'the exit');
    assert.match(h.output('t1'), /1000 1000/);
    assert.deepEqual(h.close('t1'), { code: '3', message: '' });
    const started = h.records.find((r) => r.sid === 't1' && r.type === 'TERMINAL_STARTED');
    assert.deepEqual(started?.payload, { program: 'sh', args: 0, rows: 7, cols: 33 });
    assert.ok(h.records.some((r) => r.sid === 't1' && r.type === 'TERMINAL_EXITED'));
  });

  it('a "0,0" resize (a client terminal with no size) is taken: the PTY keeps its own size and the session goes on', async () => {
    h.open('t0', ['sh']);
    await settle();
    h.resize('t0', '0,0,0,0');
    h.stdin('t0', '');
    h.resize('t0', '0,0,0,0');
    h.stdin('t0', 'stty size; exit 4\r');
    await waitUntil(() => h.close('t0') !== undefined, 10_000, 'the exit');
    assert.deepEqual(h.close('t0'), { code: '4', message: '' });
    assert.match(h.output('t0'), /24 80/);
  });

  it('a bad resize ends the session with 254 and the reason; exec packets do not enter a terminal', async () => {
    h.open('t2', ['sh']);
    await settle();
    h.stdin('t2', '');
    h.resize('t2', '0,80,0,0');
    await waitUntil(() => h.close('t2') !== undefined, 5_000, 'the refusal');
    assert.equal(h.close('t2')!.code, '254');
    assert.match(h.close('t2')!.message, /bad AgentTerminalResizeTTY packet: field "payload"/);
    h.open('t3', ['sh']);
    await settle();
    h.stdin('t3', '');
    h.handle(packet(AgentPacket.ExecWriteStdin, [sidSpec('t3')], Buffer.from('id')));
    await waitUntil(() => h.close('t3') !== undefined, 5_000, 'the refusal');
    assert.deepEqual(h.close('t3'), { code: '254', message: 'AgentExecWriteStdin sent to an interactive terminal' });
  });

  it('runs at most 64 terminals; the 65th session ends with 254, and a slot frees when one ends', async () => {
    const sids = Array.from({ length: 65 }, (_, i) => `many-${i}`);
    for (const sid of sids) h.open(sid, ['sh', '-c', 'read line; exit 0']);
    await settle();
    for (const sid of sids) h.stdin(sid, '');
    await waitUntil(() => h.close('many-64') !== undefined, 10_000, 'the refusal of the 65th');
    assert.deepEqual(h.close('many-64'), { code: '254', message: 'too many terminals open on this agent' });
    assert.equal(h.m.openTerminals, 64);
    h.handle(packet(AgentPacket.SessionClose, [sidSpec('many-0')]));
    assert.equal(h.m.openTerminals, 63);
    h.open('one-more', ['sh', '-c', 'echo "late-$((1+1))"']);
    await settle();
    h.stdin('one-more', '');
    await waitUntil(() => h.close('one-more') !== undefined, 10_000, 'the late terminal');
    assert.match(h.output('one-more'), /late-2/);
    for (const sid of sids.slice(1, 64)) h.stdin(sid, 'go\r');
    await waitUntil(() => h.m.openTerminals === 0, 15_000, 'every terminal to end');
  });
});
