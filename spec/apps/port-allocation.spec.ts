// Host port allocation (machines/port-allocation.ts, apps/ports.ts):
// properties over arbitrary rules, holdings of other apps and earlier
// assignments, and the §7.2 variables built from the result.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allocatePorts, hostPortKey, DEFAULT_PORT_POOL, type PortAssigned, type PortProtocol, type PortWanted } from '../../machines/port-allocation.js';
import { assignHostPorts, portEnv, reportedPorts } from '../../apps/ports.js';
import type { Json } from '../../actors/types.js';

const proto = fc.constantFrom<PortProtocol>('tcp', 'udp');
const small = { min: 40000, max: 40019 };
const inSmall = fc.integer({ min: small.min - 3, max: small.max + 3 });
const wantedList = fc
  .uniqueArray(fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol: proto, requested: fc.option(inSmall, { nil: undefined }) }), {
    selector: (w) => `${w.port}/${w.protocol}`,
    maxLength: 12,
  })
  .map((ws) => ws.map((w) => (w.requested === undefined ? { port: w.port, protocol: w.protocol } : w)) as PortWanted[]);
const takenSet = fc.uniqueArray(fc.tuple(proto, inSmall), { maxLength: 15 }).map((t) => new Set(t.map(([p, n]) => hostPortKey(p, n))));
const previousList = fc.array(fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol: proto, hostPort: inSmall }), { maxLength: 6 });

describe('port allocation', () => {
  it('never collides: with other apps, nor among the app\'s own rules; or says the pool is exhausted', () => {
    fc.assert(
      fc.property(wantedList, previousList, takenSet, (wanted, previous, taken) => {
        const r = allocatePorts(wanted, previous, taken, small);
        if (!r.ok) {
          assert.match(r.reason, /no free host port left in 40000-40019/);
          return;
        }
        assert.equal(r.assigned.length, wanted.length);
        const keys = r.assigned.map((a) => hostPortKey(a.protocol, a.hostPort));
        assert.equal(new Set(keys).size, keys.length, 'two rules share a host port');
        for (const k of keys) assert.ok(!taken.has(k), `${k} is another app's`);
        r.assigned.forEach((a, i) => {
          assert.equal(a.port, wanted[i]!.port);
          assert.equal(a.protocol, wanted[i]!.protocol);
        });
      }),
    );
  });

  it('keeps the studio\'s host_port when it is free, else the app\'s earlier port, else the lowest free one of the pool', () => {
    fc.assert(
      fc.property(wantedList, previousList, takenSet, (wanted, previous, taken) => {
        const r = allocatePorts(wanted, previous, taken, small);
        if (!r.ok) return;
        const used = new Set(taken);
        r.assigned.forEach((a, i) => {
          const w = wanted[i]!;
          const free = (p: number | undefined) => p !== undefined && p >= 1 && p <= 65535 && !used.has(hostPortKey(w.protocol, p));
          const before = previous.find((p) => p.port === w.port && p.protocol === w.protocol)?.hostPort;
          if (free(w.requested)) assert.equal(a.hostPort, w.requested);
          else if (free(before)) assert.equal(a.hostPort, before);
          else {
            assert.ok(a.hostPort >= small.min && a.hostPort <= small.max);
            for (let p = small.min; p < a.hostPort; p++) assert.ok(used.has(hostPortKey(w.protocol, p)), `${p} was free and lower`);
          }
          used.add(hostPortKey(a.protocol, a.hostPort));
        });
      }),
    );
  });

  it('is a function of its inputs (a replay allocates the same), and stable: allocating again keeps every port', () => {
    fc.assert(
      fc.property(wantedList, previousList, takenSet, (wanted, previous, taken) => {
        const a = allocatePorts(wanted, previous, taken, small);
        assert.deepEqual(allocatePorts(wanted, previous, taken, small), a);
        if (!a.ok) return;
        const again = allocatePorts(wanted.map(({ port, protocol }) => ({ port, protocol })), a.assigned as PortAssigned[], taken, small);
        assert.deepEqual(again, a);
      }),
    );
  });

  it('the default pool is 40000–49999; TCP and UDP are separate', () => {
    assert.deepEqual(DEFAULT_PORT_POOL, { min: 40000, max: 49999 });
    const r = allocatePorts([{ port: 53, protocol: 'tcp' }, { port: 53, protocol: 'udp' }], [], new Set([hostPortKey('tcp', 40000)]));
    assert.deepEqual(r, { ok: true, assigned: [{ port: 53, protocol: 'tcp', hostPort: 40001 }, { port: 53, protocol: 'udp', hostPort: 40000 }] });
  });

  it('two apps with the same container port get different host ports', () => {
    const a = assignHostPorts([{ port: 80, protocol: 'tcp' }], [], []);
    assert.ok(a.ok);
    const b = assignHostPorts([{ port: 80, protocol: 'tcp', host_port: a.ports[0]!.host_port! }], [], [a.ports]);
    assert.ok(b.ok);
    assert.notEqual(b.ports[0]!.host_port, a.ports[0]!.host_port);
  });
});

describe('port variables and report', () => {
  it('DEVICE_PORT_FOR_<port>, and the tunnel ones only when the rule carries them', () => {
    assert.deepEqual(portEnv([{ port: 80, protocol: 'tcp', host_port: 40000 }]), { DEVICE_PORT_FOR_80: '40000' });
    assert.deepEqual(portEnv([{ port: 80, protocol: 'tcp', host_port: 40001, remote_port: 31000, cloud_remote_port: 443, remote_port_environment: 'WEB_PORT' }]), {
      DEVICE_PORT_FOR_80: '40001',
      REMOTE_PORT_FOR_80: '31000',
      WEB_PORT: '31000',
      WEB_PORT_CLOUD: '443',
    });
  });

  it('the report echoes the studio\'s rules with their host ports', () => {
    const raw: Json[] = [
      { port: 80, protocol: 'http', name: 'web', main: true, active: true },
      { port: '9000', protocol: 'udp', active: true },
      { port: 22, protocol: 'tcp', active: false },
    ];
    const out = reportedPorts(raw, [
      { port: 80, protocol: 'tcp', host_port: 40000 },
      { port: 9000, protocol: 'udp', host_port: 40000 },
    ]);
    assert.deepEqual(out, [
      { port: 80, protocol: 'http', name: 'web', main: true, active: true, host_port: 40000 },
      { port: '9000', protocol: 'udp', active: true, host_port: 40000 },
      { port: 22, protocol: 'tcp', active: false },
    ]);
  });
});
