// The compose observer (apps/compose-observer.ts) over a stand-in for
// dockerode's container list: what a RUNNING compose app hears, and that it
// hears it once per RUNNING spell.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type Dockerode from 'dockerode';
import { ComposeObserver, PROJECT_LABEL } from '../../apps/compose-observer.js';
import type { AppView } from '../../apps/engine-monitor.js';

type Info = Pick<Dockerode.ContainerInfo, 'Names' | 'State' | 'Status' | 'Labels'>;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function harness(compose = true) {
  let list: Info[] = [];
  const filters: unknown[] = [];
  const sent: Array<{ actor: string; type: string; payload: unknown }> = [];
  let state = 'RUNNING';
  const view: AppView = { app: { stage: 'PROD', appKey: '12', appName: 'plant' }, state, containerId: null };
  const obs = new ComposeObserver({
    docker: {
      listContainers: async (opts: { filters: unknown }) => {
        filters.push(opts.filters);
        return list;
      },
    } as unknown as Dockerode,
    events: { send: (actor, _source, type, payload) => void sent.push({ actor, type, payload }) },
    view: { appActors: () => ['app:PROD:12'], appView: () => ({ ...view, state }) },
    isCompose: () => compose,
    logger: quiet,
  });
  return {
    obs,
    sent,
    filters,
    set: (l: Info[]) => void (list = l),
    state: (s: string) => void (state = s),
  };
}

const svc = (service: string, State: string, Status: string): Info => ({
  Names: [`/prod_12_plant_compose_${service}_1`],
  State,
  Status,
  Labels: { [PROJECT_LABEL]: 'prod_12_plant_compose', 'com.docker.compose.service': service },
});

describe('compose observer', () => {
  it('lists the project by its label, and says nothing while the project runs', async () => {
    const h = harness();
    h.set([svc('web', 'running', 'Up 3 seconds'), svc('worker', 'exited', 'Exited (0) 1 second ago')]);
    await h.obs.tick();
    assert.deepEqual(h.filters, [{ label: [`${PROJECT_LABEL}=prod_12_plant_compose`] }]);
    assert.deepEqual(h.sent, []);
  });

  it('a service exited non-zero: CONTAINER_DIED with its code, once per RUNNING spell', async () => {
    const h = harness();
    h.set([svc('web', 'running', 'Up 3 seconds'), svc('worker', 'exited', 'Exited (3) 1 second ago')]);
    await h.obs.tick();
    await h.obs.tick();
    assert.deepEqual(h.sent, [{ actor: 'app:PROD:12', type: 'CONTAINER_DIED', payload: { exitCode: 3 } }]);
    h.state('FAILED');
    await h.obs.tick();
    h.state('RUNNING');
    await h.obs.tick();
    assert.equal(h.sent.length, 2, 'a new RUNNING spell is watched again');
  });

  it('every service ended cleanly: CONTAINER_DIED with 0; no container left: CONTAINER_GONE', async () => {
    const h = harness();
    h.set([svc('web', 'exited', 'Exited (0) 1 second ago')]);
    await h.obs.tick();
    assert.deepEqual(h.sent.at(-1), { actor: 'app:PROD:12', type: 'CONTAINER_DIED', payload: { exitCode: 0 } });
    const g = harness();
    g.set([]);
    await g.obs.tick();
    assert.deepEqual(g.sent, [{ actor: 'app:PROD:12', type: 'CONTAINER_GONE', payload: {} }]);
  });

  it('leaves apps alone that are not compose apps or not RUNNING', async () => {
    const h = harness(false);
    h.set([]);
    await h.obs.tick();
    const p = harness();
    p.state('PRESENT');
    p.set([]);
    await p.obs.tick();
    assert.deepEqual([...h.sent, ...p.sent, ...h.filters, ...p.filters], []);
  });
});
