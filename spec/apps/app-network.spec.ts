// Where app containers are attached and what they publish: REAGENT_APP_NETWORK
// (bridge, host, none, or a user-defined network's name) and the host ports of
// their rules in the create options.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appsSettings } from '../../apps/config.js';
import { buildCreateOptions } from '../../adapters/docker/containers.js';

const base = { appsDir: '/var/lib/reagent/apps', buildExtension: 'tgz', arch: 'amd64' };
const spec = (networkMode: string) => ({
  appKey: 7,
  stage: 'PROD' as const,
  appName: 'web',
  image: 'registry.example.com/apps/prod_amd64_7_web:1.0.0',
  networkMode,
  ports: [
    { port: 80, protocol: 'tcp' as const, host_port: 40000 },
    { port: 5683, protocol: 'udp' as const, host_port: 40001 },
  ],
});

describe('app network', () => {
  it('REAGENT_APP_NETWORK takes bridge, host, none and a network name; refuses anything else, naming the variable', () => {
    for (const n of ['bridge', 'host', 'none', 'iot_net', 'apps.v2']) {
      const r = appsSettings(base, { REAGENT_APP_NETWORK: n });
      assert.ok(r.ok && r.settings.networkMode === n, n);
    }
    for (const n of ['container:abc', '../x', 'a b', '-net']) {
      const r = appsSettings(base, { REAGENT_APP_NETWORK: n });
      assert.ok(!r.ok && /REAGENT_APP_NETWORK=/.test(r.error), n);
    }
    const d = appsSettings(base, {});
    assert.ok(d.ok && d.settings.networkMode === 'bridge');
  });

  it('ports are published on bridge and on a named network, not with host or none', () => {
    for (const n of ['bridge', 'iot_net']) {
      const o = buildCreateOptions({ appsDir: base.appsDir }, spec(n));
      assert.equal(o.HostConfig?.NetworkMode, n);
      assert.deepEqual(o.HostConfig?.PortBindings, { '80/tcp': [{ HostPort: '40000' }], '5683/udp': [{ HostPort: '40001' }] });
    }
    for (const n of ['host', 'none']) assert.deepEqual(buildCreateOptions({ appsDir: base.appsDir }, spec(n)).HostConfig?.PortBindings, {});
  });
});
