// Compile-time tests of the contracts (actors/contracts.ts, machines/catalog.ts).
// `npm run typecheck` compiles this file; nothing runs it. Each
// `@ts-expect-error` line must fail to compile: if the contract stopped
// catching the mistake, the directive itself becomes the error.
import { actorId, sameExecutor, type CommandTypes, type Executors, type ExecutorsFor } from '../../actors/contracts.js';
import type { ActorSystem } from '../../actors/system.js';
import type { AppStateRequest } from '../../apps/service.js';
import { AppId } from '../../machines/app-id.js';
import type { MachineCatalog } from '../../machines/catalog.js';
import type { UpdateCommand } from '../../machines/update.js';

declare const system: ActorSystem;
const link = actorId('connection', 'studio:connection');
const app = AppId.format('PROD', '21');

// ---- system.send accepts only the events of the machine behind the address ----

system.send(link, 'wamp', 'CONNECT_FAILED', { reason: 'refused' });
system.send(link, 'wamp', 'START');
system.send(app, 'apps', 'REQUEST', { target: 'RUNNING', requestId: 'r1' });
system.send(app, 'disk', { type: 'DISK', emergency: true });

// @ts-expect-error a connection actor has no REQUEST
system.send(link, 'wamp', 'REQUEST', { target: 'RUNNING' });
// @ts-expect-error an app actor has no PONG
system.send(app, 'docker', { type: 'PONG' });
// @ts-expect-error a payload field of the wrong type
system.send(app, 'disk', 'DISK', { emergency: 'yes' });
// @ts-expect-error a required field missing
system.send(link, 'wamp', 'CONNECT_FAILED', {});
// @ts-expect-error a field the event does not have
system.send(link, 'wamp', 'DISCONNECTED', { reason: 'eof', retryLater: true });
// @ts-expect-error a REQUEST field the payload does not declare (one declaration, machines/app-request.ts)
system.send(app, 'apps', 'REQUEST', { target: 'RUNNING', release: 42 });
// @ts-expect-error a REQUEST target that is not an app state
system.send(app, 'apps', 'REQUEST', { target: 'SPINNING' });
// @ts-expect-error a REQUEST domain field of the wrong type
system.send(app, 'apps', 'REQUEST', { target: 'RUNNING', appName: 7 });
// @ts-expect-error a run request's app name is checked where it enters (validateAppName), never a bare string
const unchecked: AppStateRequest = { ...({} as AppStateRequest), appName: 'web' };
void unchecked;
// @ts-expect-error an id built by hand is no address
system.send('app:PROD:21', 'apps', 'REQUEST', { target: 'RUNNING' });
// @ts-expect-error an actor is spawned with the machine its address names
system.spawn(link, 'app', { appKey: '21', appName: 'pump', stage: 'PROD', policy: { retry: { initialMs: 1, maxMs: 1, multiplier: 1, jitter: 0 }, maxFailures: 1, healthyResetMs: 1, startTimeoutMs: 1 } });
// @ts-expect-error and with that machine's input
system.spawn(link, 'connection', { link: 'smtp', policy: null });

// ---- one AppId type -----------------------------------------------------------

const parsed = AppId.parse('app:DEV:7');
if (parsed.ok) system.send(parsed.id, 'apps', 'ENGINE_UP');
// @ts-expect-error a hand-built string is not an AppId
const handBuilt: AppId = `app:${'PROD'}:${'21'}`;
// @ts-expect-error the address of another machine is not an AppId
const notAnApp: AppId = link;

// ---- executor tables: every command of the prefix exactly once ---------------

const update: ExecutorsFor<MachineCatalog, 'update'> = {
  'update.check': () => {},
  'update.download': (c) => void c.version.toUpperCase(),
  'update.swap': (c) => void `${c.from}->${c.to}`,
  'update.handover': () => {},
  'update.commit': () => {},
  'update.rollback': (c) => void c.reason,
  'update.result': (c) => void c.didUpdate,
};
system.handle('update', update);

// @ts-expect-error an executor table missing a command (update.result)
system.handle('update', {
  'update.check': () => {},
  'update.download': () => {},
  'update.swap': () => {},
  'update.handover': () => {},
  'update.commit': () => {},
  'update.rollback': () => {},
});

system.handle('update', {
  ...update,
  // @ts-expect-error an executor for a command no machine emits
  'update.bogus': () => {},
});

// @ts-expect-error an executor gets its own command, typed: a download has no `reason`
const wrongField: Executors<UpdateCommand>['update.download'] = (c) => void c.reason;

// @ts-expect-error a prefix no machine emits commands under
system.handle('smtp', {});

// @ts-expect-error a list of command types missing one (update.result) for sameExecutor
const partial: CommandTypes<UpdateCommand> = { 'update.check': true, 'update.download': true, 'update.swap': true, 'update.handover': true, 'update.commit': true, 'update.rollback': true };
system.handle('update', sameExecutor<UpdateCommand>({ ...partial, 'update.result': true }, () => {}));

export { handBuilt, notAnApp, wrongField };
