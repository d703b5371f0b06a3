// The on-connect removal of apps the studio no longer lists (§3 OnConnect
// step 1), the registry token source and the per-app credentials, below the
// CLI: the pure plan (property), the studio link's sync step against the real
// router and backend (removal only on an answer read whole), and the token
// source's refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { planRemovals } from '../../machines/studio-reconcile.js';
import { registryHostOfUrl, registryTokenSource } from '../../adapters/wamp/registry-token.js';
import { appCredentials } from '../../apps/app-credential.js';
import { Redactor } from '../../adapters/log/redactor.js';
import type { WampSession } from '../../adapters/wamp/session.js';
import { startHarness, startPeers } from './helpers/harness.js';

const appArb = fc.record({ appKey: fc.constantFrom('1', '2', '3', '4'), stage: fc.constantFrom('DEV' as const, 'PROD' as const) });

test('planRemovals: exactly the kept apps the answer does not list, in their order', () => {
  fc.assert(
    fc.property(fc.uniqueArray(appArb, { selector: (a) => `${a.stage}:${a.appKey}` }), fc.array(appArb), (kept, listed) => {
      const out = planRemovals(kept, listed);
      const isListed = (a: { appKey: string; stage: string }) => listed.some((l) => l.appKey === a.appKey && l.stage === a.stage);
      assert.deepEqual(out, kept.filter((k) => !isListed(k)));
      assert.ok(out.every((o) => kept.includes(o)), 'only kept apps are removed');
      assert.ok(!out.some(isListed), 'a listed app is never removed');
    }),
  );
  assert.deepEqual(planRemovals([{ appKey: '1', stage: 'PROD' }], [{ appKey: '1', stage: 'DEV' }]), [{ appKey: '1', stage: 'PROD' }], 'stage is part of the key');
  assert.deepEqual(planRemovals([{ appKey: '1', stage: 'PROD' }], []), [{ appKey: '1', stage: 'PROD' }], 'an empty list (read whole) removes all');
});

const ENTRY = { app_key: 11, app_name: 'kept', stage: 'PROD', target_state: 'RUNNING', version: '1.0.0' };

async function syncWith(prepare: (backend: Awaited<ReturnType<typeof startPeers>>['backend']) => void) {
  const peers = await startPeers();
  prepare(peers.backend);
  const h = await startHarness({ peers });
  try {
    await peers.backend.until(() => peers.backend.statuses().includes('CONNECTED'), 20_000, 'online');
    return { checks: h.recordingApps!.removalChecks.map((c) => c.map((l) => ({ ...l }))), logs: h.logs.join('') };
  } finally {
    await h.stop();
    await peers.backend.stop();
    await peers.router.stop();
  }
}

test('sync: a list read whole is handed to removeUnlisted before the requests are applied', async () => {
  const r = await syncWith((b) => (b.requestedAppStates = [ENTRY]));
  assert.deepEqual(r.checks, [[{ appKey: 11, stage: 'PROD' }]]);
});

test('sync: an error, an answer that is no list, or an entry that cannot be read removes nothing', async () => {
  const failed = await syncWith((b) => b.failures.set('reswarm.containers.get_requested_app_states', 1));
  assert.deepEqual(failed.checks, [], 'error');
  const notAList = await syncWith((b) => (b.requestedAppStates = { apps: [ENTRY] } as unknown as unknown[]));
  assert.deepEqual(notAList.checks, [], 'not a list');
  const malformed = await syncWith((b) => (b.requestedAppStates = [ENTRY, { app_key: 'twelve', app_name: 'x', stage: 'PROD' }]));
  assert.deepEqual(malformed.checks, [], 'a malformed entry');
  assert.match(malformed.logs, /no app is removed for not being listed/);
});

test('sync: a timeout of get_requested_app_states removes nothing', { timeout: 30_000 }, async () => {
  const peers = await startPeers();
  peers.backend.hangs.add('reswarm.containers.get_requested_app_states');
  const h = await startHarness({ peers });
  try {
    await peers.backend.until(() => peers.backend.statuses().includes('CONNECTED'), 20_000, 'online after the timeout');
    assert.deepEqual(h.recordingApps!.removalChecks, []);
  } finally {
    await h.stop();
    await peers.backend.stop();
    await peers.router.stop();
  }
});

function sessionAnswering(token: unknown, calls: unknown[][]): () => WampSession {
  return () =>
    ({
      call: async (procedure: string, args: unknown[]) => {
        calls.push([procedure, ...args]);
        return { args: [token], kwargs: {} };
      },
    }) as unknown as WampSession;
}

test('registry token source: only for the device registry, offline and bad answers name the registry', async () => {
  const redactor = new Redactor();
  const calls: unknown[][] = [];
  const req = { registryHost: '127.0.0.1:5000', stage: 'PROD' as const, appKey: '9', appName: 'a', callerId: 3003 };
  const source = registryTokenSource({ session: sessionAnswering('tok-123', calls), secret: 'flock-secret', registryUrl: 'http://127.0.0.1:5000/', redactor });
  assert.deepEqual(await source(req), { username: 'tok-123', password: 'flock-secret', serveraddress: '127.0.0.1:5000' });
  assert.deepEqual(calls, [['reswarm.containers.get_registry_token', { callerID: 3003 }]]);
  assert.equal(redactor.scrubString('token tok-123').includes('tok-123'), false, 'the token is redacted');
  assert.equal(await source({ ...req, registryHost: 'evil.example.com' }), undefined, 'the device secret never goes to another registry');
  assert.equal(calls.length, 1);
  const offline = registryTokenSource({ session: () => null, secret: 's', registryUrl: '127.0.0.1:5000', redactor });
  await assert.rejects(offline(req), /registry 127\.0\.0\.1:5000.*studio connection/);
  const empty = registryTokenSource({ session: sessionAnswering('', []), secret: 's', registryUrl: '127.0.0.1:5000', redactor });
  await assert.rejects(empty(req), /registry 127\.0\.0\.1:5000.*no token in args\[0\]/);
  assert.equal(registryHostOfUrl('registry.ironflock.com/'), 'registry.ironflock.com');
  assert.equal(registryHostOfUrl(''), undefined);
});

test('app credentials: §1.3 exactly, epoch 0 or absent read as 1', () => {
  const mac = (s: string) => createHmac('sha256', 'k').update(s).digest('base64');
  assert.deepEqual(appCredentials('k', { serial: 'SER', appKey: 5, stage: 'DEV', epoch: 0 }), {
    APP_AUTH_ID: 'app-5-dev-e1@SER',
    APP_AUTH_SECRET: mac('ironflock/app-cred/v1|SER|5|DEV|1'),
  });
  assert.equal(appCredentials('k', { serial: 'SER', appKey: 5, stage: 'PROD', epoch: 4 }).APP_AUTH_ID, 'app-5-prod-e4@SER');
  assert.equal(appCredentials('k', { serial: 'SER', appKey: 5, stage: 'PROD', epoch: null }).APP_AUTH_SECRET, mac('ironflock/app-cred/v1|SER|5|PROD|1'));

});
