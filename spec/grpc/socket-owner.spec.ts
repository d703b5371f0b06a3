// Who owns a socket, read from the kernel's /proc/net/tcp{,6}: the parser
// against tables written the way the kernel writes them (both byte orders),
// then the real kernel with a listener of another user (uid 65534), and the
// channel credentials that refuse a connection to it before a byte is sent.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { connect, createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { Client, type ServiceError } from '@grpc/grpc-js';
import {
  canonicalIp,
  checkConnection,
  checkListener,
  listenersFor,
  parseProcNetTcp,
  readSocketTable,
  TCP_LISTEN,
  type Endianness,
  type SocketRow,
} from '../../adapters/grpc/socket-owner.js';
import { OwnerCheckedCredentials } from '../../adapters/grpc/owner-checked-credentials.js';
import { encodePacket, decodePacket, packet, type Packet } from '../../adapters/grpc/packet-codec.js';
import { TransportMethod } from '../../adapters/grpc/wire-names.js';
import { NOBODY, skipUnlessUnprivileged, startNobodyListener, type NobodyListener } from '../helpers/unprivileged.js';

/** One 32-bit group as the kernel prints it: %08X of the network-order bytes read as a host-order word. */
function group(bytes: number[], endian: Endianness): string {
  const ordered = endian === 'LE' ? [...bytes].reverse() : bytes;
  return ordered.map((b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
}

function ipHex(ip: string, endian: Endianness): string {
  if (ip.includes('.')) return group(ip.split('.').map(Number), endian);
  const words = ip.split(':').map((w) => parseInt(w, 16));
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  return [0, 4, 8, 12].map((i) => group(bytes.slice(i, i + 4), endian)).join('');
}

function formatTable(rows: SocketRow[], endian: Endianness): string {
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  return (
    header +
    rows
      .map(
        (r, i) =>
          `${String(i).padStart(4)}: ${ipHex(r.local.ip, endian)}:${r.local.port.toString(16).toUpperCase().padStart(4, '0')} ` +
          `${ipHex(r.remote.ip, endian)}:${r.remote.port.toString(16).toUpperCase().padStart(4, '0')} ${r.state.toString(16).toUpperCase().padStart(2, '0')} ` +
          `00000000:00000000 00:00000000 00000000 ${String(r.uid).padStart(5)}        0 ${r.inode} 1 0000000000000000 100 0 0 10 0`,
      )
      .join('\n') +
    '\n'
  );
}

/** fast-check's records have no prototype; the parser's rows do. */
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const v4 = fc.ipV4();
// Canonical v6 as the parser spells it; v4-mapped addresses come out dotted, so they are left to their own case.
const v6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).filter((w) => !(w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff)).map((w) => w.map((x) => x.toString(16)).join(':'));
const endpoint = (ip: fc.Arbitrary<string>) => fc.record({ ip, port: fc.integer({ min: 0, max: 65535 }) });
const row = (ip: fc.Arbitrary<string>) =>
  fc.record({ local: endpoint(ip), remote: endpoint(ip), state: fc.integer({ min: 1, max: 12 }), uid: fc.integer({ min: 0, max: 2 ** 31 - 1 }), inode: fc.nat() });

describe('the /proc/net/tcp parser', () => {
  it('reads back what the kernel writes, IPv4 and IPv6, in both byte orders', () => {
    for (const endian of ['LE', 'BE'] as const) {
      fc.assert(fc.property(fc.array(row(v4), { maxLength: 20 }), (rows) => assert.deepEqual(parseProcNetTcp(formatTable(rows, endian), endian), plain(rows))), { numRuns: 200 });
      fc.assert(fc.property(fc.array(row(v6), { maxLength: 20 }), (rows) => assert.deepEqual(parseProcNetTcp(formatTable(rows, endian), endian), plain(rows))), { numRuns: 200 });
    }
  });

  it('reads a real line of this machine (little-endian 127.0.0.1:18777, LISTEN, uid 65534)', () => {
    const line = '   1: 0100007F:4959 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 43293 1 000000009966e635 100 0 0 10 0';
    assert.deepEqual(parseProcNetTcp(line, 'LE'), [{ local: { ip: '127.0.0.1', port: 18777 }, remote: { ip: '0.0.0.0', port: 0 }, state: TCP_LISTEN, uid: 65534, inode: 43293 }]);
    // ::ffff:127.0.0.1 in tcp6 is the IPv4 address.
    const mapped = '   0: 0000000000000000FFFF00000100007F:1F4A 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1';
    assert.equal(parseProcNetTcp(mapped, 'LE')[0]!.local.ip, '127.0.0.1');
    assert.deepEqual(parseProcNetTcp('garbage\n  9: zz:zz\n', 'LE'), []);
  });

  it('finds the listeners a connection could reach: the address itself and the wildcards that cover it', () => {
    const l = (ip: string, port: number, uid: number, state = TCP_LISTEN): SocketRow => ({ local: { ip: canonicalIp(ip)!, port }, remote: { ip: '0.0.0.0', port: 0 }, state, uid, inode: 1 });
    const rows = [l('127.0.0.1', 8010, 0), l('0.0.0.0', 8010, 1000), l('::', 8010, 1001), l('127.0.0.2', 8010, 1002), l('::1', 8010, 1003), l('127.0.0.1', 8011, 1004), l('127.0.0.1', 8010, 1005, 1)];
    assert.deepEqual(listenersFor('127.0.0.1', 8010, rows).map((r) => r.uid), [0, 1000, 1001]);
    assert.deepEqual(listenersFor('::1', 8010, rows).map((r) => r.uid), [1001, 1003]);
    assert.deepEqual(listenersFor('localhost', 8010, rows).map((r) => r.uid), [0, 1000, 1001, 1003]);
    const table = { ok: true as const, rows };
    // Any foreign one is enough to refuse: the kernel prefers the most specific bind, which may be the squatter's.
    assert.deepEqual(checkListener('127.0.0.1', 8010, 0, table), {
      kind: 'foreign',
      uid: 1000,
      line: "refusing to connect to 127.0.0.1:8010 without TLS: the socket listening there belongs to uid 1000, not root or this process's uid 0",
    });
    assert.deepEqual(checkListener('127.0.0.1', 8011, 1004, table), { kind: 'trusted', uids: [1004] });
    assert.equal(checkListener('127.0.0.1', 9, 0, table).kind, 'absent');
    assert.match((checkListener('::1', 8010, 0, { ok: false, reason: '/proc/net/tcp: ENOENT' }) as { line: string }).line, /cannot tell who listens there \(\/proc\/net\/tcp: ENOENT\)/);
  });
});

describe('socket owners on this kernel', () => {
  const skip = process.platform !== 'linux' ? 'not Linux' : skipUnlessUnprivileged();
  const stops: Array<() => Promise<void>> = [];
  after(async () => {
    for (const s of stops.reverse()) await s();
  });

  async function rootListener(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s.on('error', () => {})));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    stops.push(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
    return { server, port: (server.address() as { port: number }).port, sockets };
  }

  it('names uid 65534 as the owner of its listener and of a connection to it; root\'s are trusted', { skip }, async () => {
    const squatter: NobodyListener = await startNobodyListener('127.0.0.1');
    stops.push(() => squatter.stop());
    const verdict = checkListener('127.0.0.1', squatter.port, 0, readSocketTable());
    assert.equal(verdict.kind, 'foreign');
    assert.equal((verdict as { uid: number }).uid, NOBODY);
    assert.match((verdict as { line: string }).line, new RegExp(`127\\.0\\.0\\.1:${squatter.port} .*uid 65534`));

    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(squatter.port, '127.0.0.1', () => resolve(s)).on('error', reject);
    });
    const onConnection = checkConnection(socket, 0, readSocketTable());
    socket.destroy();
    assert.equal(onConnection.kind, 'foreign');

    const own = await rootListener();
    assert.deepEqual(checkListener('127.0.0.1', own.port, 0, readSocketTable()), { kind: 'trusted', uids: [0] });
    // The agent's own user is trusted too: seen from uid 65534, its own listener is fine and root's as well.
    assert.deepEqual(checkListener('127.0.0.1', squatter.port, NOBODY, readSocketTable()), { kind: 'trusted', uids: [NOBODY] });
  });

  it('the plaintext channel credentials refuse a connection to uid 65534 before any byte is sent, and allow root\'s', { skip }, async () => {
    const squatter = await startNobodyListener('127.0.0.1');
    stops.push(() => squatter.stop());
    const refused: string[] = [];
    const creds = new OwnerCheckedCredentials({ uid: 0, refused: (v) => refused.push(v.line) });
    const client = new Client(`127.0.0.1:${squatter.port}`, creds);
    const call = client.makeBidiStreamRequest<Packet, Packet>(TransportMethod.Connect, encodePacket, decodePacket);
    const error = await new Promise<ServiceError>((resolve) => call.on('error', resolve));
    call.write(packet('never-sent'));
    client.close();
    assert.equal(error.code, 14, error.message);
    assert.ok(refused.length >= 1 && refused.every((l) => /uid 65534/.test(l)), refused.join('\n'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(squatter.received().length, 0, 'not one byte reached the squatter');

    // Root's listener gets the HTTP/2 preface: the check lets it through.
    const own = await rootListener();
    const got: Buffer[] = [];
    own.server.on('connection', (s) => s.on('data', (d: Buffer) => got.push(d)));
    const ok = new Client(`127.0.0.1:${own.port}`, new OwnerCheckedCredentials({ uid: 0 }));
    const call2 = ok.makeBidiStreamRequest<Packet, Packet>(TransportMethod.Connect, encodePacket, decodePacket);
    call2.on('error', () => {});
    await new Promise((r) => setTimeout(r, 500));
    call2.cancel();
    ok.close();
    assert.match(Buffer.concat(got).toString('latin1'), /^PRI \* HTTP\/2\.0/);
  });
});
