// The studio's terminals end to end (§7.4): the built CLI, the real WAMP
// router (with its registration meta events), a studio-like autobahn client,
// and a busybox container on the private dockerd. A container terminal with
// input, resize and EOF; its cleanup when the frontend's registration goes
// away; the device terminal (one per caller); and the privileges.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type autobahn from 'autobahn';
import { skipLoudly, startDockerPeer, uniqueAppKey, type DockerPeer } from '../helpers/docker-peer.js';
import { OTHER_USER, STUDIO_USER, proc, startPeers, until } from './helpers/harness.js';
import { applicationError, callOutcome, connectPeer, type Peer } from './helpers/wamp-peer.js';
import { startCliDevice, type CliDevice } from './helpers/cli-device.js';
import type { RouterPeer } from './helpers/router.js';
import type { BackendSim } from './helpers/backend-sim.js';
import { requireBuild } from '../helpers/cli.js';

requireBuild();
const peerOrSkip = await startDockerPeer();
const skip = 'skipped' in peerOrSkip ? peerOrSkip.skipped : false;
if (skip) skipLoudly('studio terminals e2e', skip);
after(async () => {
  if (!('skipped' in peerOrSkip)) await peerOrSkip.stop();
});

interface Topics {
  dataTopic: string;
  writeTopic: string;
  resizeTopic: string;
  sessionID: string;
}

/** What a terminal frontend does: subscribe to the data topic and collect the chunks. */
async function follow(session: autobahn.Session, topic: string) {
  const chunks: string[] = [];
  const sub = await session.subscribe(topic, (args?: unknown[]) => void chunks.push(String(args?.[0])));
  return { chunks, text: () => chunks.join(''), eof: () => chunks.includes('TERMINAL_EOF'), sub };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('studio terminals: studio client → router → CLI → Docker / host PTY', { skip }, () => {
  const peer = peerOrSkip as DockerPeer;
  const container = `prod_${uniqueAppKey()}_shell`;
  let router: RouterPeer;
  let backend: BackendSim;
  let device: CliDevice;
  let studio: Peer;
  let maintainer: Peer;

  /** Shells of our terminals in the container (busybox `ps` lists every process of it). */
  const shellsInContainer = async (): Promise<number> => {
    const top = (await peer.docker().getContainer(container).top()) as { Processes?: string[][] };
    return (top.Processes ?? []).filter((p) => /(^|\/)sh$/.test(String(p.at(-1)))).length;
  };

  before(async () => {
    const docker = peer.docker();
    const c = await docker.createContainer({ name: container, Image: peer.image, Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'none' } });
    await c.start();
    ({ router, backend } = await startPeers({ allow: [`DEVELOP:${STUDIO_USER.authid}`, `READ:${STUDIO_USER.authid}`, `MAINTAIN:${OTHER_USER.authid}`] }));
    device = startCliDevice({ url: router.url, env: { DOCKER_HOST: peer.dockerHost, REAGENT_APP_NETWORK: 'none' } });
    await backend.until(() => backend.statuses().includes('CONNECTED'), 60_000, 'the CLI device online');
    studio = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
    maintainer = await connectPeer(router.url, OTHER_USER.authid, OTHER_USER.secret);
  });

  after(async () => {
    await studio?.close();
    await maintainer?.close();
    if (device) {
      await device.stop();
      device.cleanup();
    }
    await backend?.stop();
    await router?.stop();
    await peer.docker().getContainer(container).remove({ force: true }).catch(() => undefined);
  });

  const requestTerminal = async (): Promise<Topics> => {
    const r = await callOutcome(studio.session, proc('request_terminal_session'), [{ containerName: container }]);
    assert.ok(r.ok, JSON.stringify(r));
    return r.args[0] as Topics;
  };

  test('a container terminal: /bin/sh on a TTY, input, resize, output, TERMINAL_EOF at the end', async () => {
    const t = await requestTerminal();
    const serial = proc('').slice(0, -1);
    assert.match(t.sessionID, /^[0-9a-f-]{36}$/);
    assert.equal(t.dataTopic, `${serial}.term_data.${container}.${t.sessionID}`);
    assert.equal(t.writeTopic, `${serial}.term_write.${container}.${t.sessionID}`);
    assert.equal(t.resizeTopic, `${serial}.term_resize.${container}.${t.sessionID}`);
    const data = await follow(studio.session, t.dataTopic);
    const frontend = await studio.session.register(`studio.frontend.${t.sessionID}`, () => null);
    const started = await callOutcome(studio.session, proc('start_terminal_session'), [{ sessionID: t.sessionID, registrationID: frontend.id }]);
    assert.ok(started.ok, JSON.stringify(started));
    await studio.session.publish(t.writeTopic, ['tty; echo "c-$((6*7))"\n']);
    await until(() => /c-42/.test(data.text()), 15_000, 'the shell answers');
    assert.match(data.text(), /\/dev\/pts\/\d+/, 'a TTY');
    const resized = await callOutcome(studio.session, t.resizeTopic, [{ height: 33, width: 77 }]);
    assert.ok(resized.ok, JSON.stringify(resized));
    await studio.session.publish(t.writeTopic, ['stty size\n']);
    await until(() => /33 77/.test(data.text()), 15_000, 'the new size');
    const bad = await callOutcome(studio.session, t.resizeTopic, [{ height: 0, width: 77 }]);
    assert.ok(!bad.ok);
    assert.equal(await shellsInContainer(), 1);
    await studio.session.publish(t.writeTopic, ['exit 5\n']);
    await until(() => data.eof(), 15_000, 'TERMINAL_EOF');
    assert.equal(data.chunks.at(-1), 'TERMINAL_EOF');
    assert.ok(data.chunks.every((c) => Buffer.byteLength(c) <= 32 * 1024));
    await until(async () => (await shellsInContainer()) === 0, 10_000, 'the shell gone');
    // Released: its resize procedure is gone with it.
    await until(async () => !(await callOutcome(studio.session, t.resizeTopic, [{ height: 10, width: 10 }])).ok, 10_000, 'the resize procedure removed');
    await studio.session.unsubscribe(data.sub);
    await studio.session.unregister(frontend);
  });

  test('the session ends when its frontend registration goes away (wamp.registration.on_unregister)', async () => {
    const t = await requestTerminal();
    const data = await follow(studio.session, t.dataTopic);
    const frontend = await studio.session.register(`studio.frontend.${t.sessionID}`, () => null);
    assert.ok((await callOutcome(studio.session, proc('start_terminal_session'), [{ sessionID: t.sessionID, registrationID: frontend.id }])).ok);
    // A shell that ignores the hangup: only the kill after the grace ends it.
    await studio.session.publish(t.writeTopic, ["trap '' HUP; echo \"ready-$((2+2))\"\n"]);
    await until(() => /ready-4/.test(data.text()), 15_000, 'the shell');
    assert.equal(await shellsInContainer(), 1);
    await studio.session.unregister(frontend);
    await until(() => data.eof(), 10_000, 'TERMINAL_EOF after the registration went away');
    await until(async () => (await shellsInContainer()) === 0, 15_000, 'the shell killed within the grace');
    await until(() => device.lines().some((l) => l.msg === 'terminal closed' && l.terminal === t.sessionID), 5_000, 'the terminal released');
    await studio.session.unsubscribe(data.sub);
  });

  test('stop_terminal_session ends a session; the ledger lists only running terminals', async () => {
    const t = await requestTerminal();
    const data = await follow(studio.session, t.dataTopic);
    const frontend = await studio.session.register(`studio.frontend.${t.sessionID}`, () => null);
    assert.ok((await callOutcome(studio.session, proc('start_terminal_session'), [{ sessionID: t.sessionID, registrationID: frontend.id }])).ok);
    await until(async () => (await shellsInContainer()) === 1, 10_000, 'the shell');
    const ledger = readFileSync(join(device.agentDir, 'terminals-studio.json'), 'utf8');
    assert.match(ledger, /"kind":"exec"/);
    assert.ok((await callOutcome(studio.session, proc('stop_terminal_session'), [{ sessionID: t.sessionID }])).ok);
    await until(() => data.eof(), 10_000, 'TERMINAL_EOF');
    await until(async () => (await shellsInContainer()) === 0, 15_000, 'the shell gone');
    await until(() => !/"kind":"exec"/.test(readFileSync(join(device.agentDir, 'terminals-studio.json'), 'utf8')), 5_000, 'the ledger entry removed');
    const unknown = await callOutcome(studio.session, proc('stop_terminal_session'), [{ sessionID: t.sessionID }]);
    assert.equal(applicationError(unknown), 'wamp.error.canceled');
    const malformed = await callOutcome(studio.session, proc('start_terminal_session'), [{ sessionID: 'x; rm -rf /', registrationID: 1 }]);
    assert.equal(applicationError(malformed), 'wamp.error.invalid_argument');
    await studio.session.unregister(frontend);
  });

  test('the device terminal: a host shell on a PTY, one per caller, resize, EOF, no process left', async () => {
    const r = await callOutcome(maintainer.session, proc('init_device_terminal'));
    assert.ok(r.ok, JSON.stringify(r));
    const t = r.args[0] as Topics;
    const serial = proc('').slice(0, -1);
    assert.equal(t.dataTopic, `${serial}.data.${t.sessionID}`);
    assert.equal(t.writeTopic, `${serial}.term_write.${t.sessionID}`);
    assert.equal(t.resizeTopic, `${serial}.term_resize.${t.sessionID}`);
    const again = await callOutcome(maintainer.session, proc('init_device_terminal'));
    assert.equal((again.args[0] as Topics).sessionID, t.sessionID, 'one shell per caller_authid');
    const data = await follow(maintainer.session, t.dataTopic);
    assert.ok((await callOutcome(maintainer.session, t.resizeTopic, [{ height: 21, width: 61 }])).ok);
    await maintainer.session.publish(t.writeTopic, ['tty; stty size; echo "pid-$$-h-$((5*5))"\n']);
    await until(() => /pid-\d+-h-25/.test(data.text()), 15_000, 'the host shell');
    assert.match(data.text(), /\/dev\/pts\/\d+/);
    assert.match(data.text(), /21 61/);
    const pid = Number(/pid-(\d+)-h-25/.exec(data.text())![1]);
    assert.ok(alive(pid));
    await maintainer.session.publish(t.writeTopic, ['exit 3\n']);
    await until(() => data.eof(), 10_000, 'TERMINAL_EOF');
    await until(() => !alive(pid), 10_000, 'the host shell gone');
    const next = await callOutcome(maintainer.session, proc('init_device_terminal'));
    assert.notEqual((next.args[0] as Topics).sessionID, t.sessionID, 'a new shell after the old one ended');
    await maintainer.session.unsubscribe(data.sub);
  });

  test('privileges: a host shell needs MAINTAIN, a container shell DEVELOP', async () => {
    assert.equal(applicationError(await callOutcome(studio.session, proc('init_device_terminal'))), 'wamp.error.not_authorized');
    assert.equal(applicationError(await callOutcome(maintainer.session, proc('request_terminal_session'), [{ containerName: container }])), 'wamp.error.not_authorized');
    assert.equal(applicationError(await callOutcome(studio.session, proc('request_terminal_session'), [{ containerName: '../etc' }])), 'wamp.error.invalid_argument');
  });

  test('a SIGKILLed daemon leaves no container shell behind once it starts again (the ledger sweep)', async () => {
    const t = await requestTerminal();
    const frontend = await studio.session.register(`studio.frontend.${t.sessionID}`, () => null);
    assert.ok((await callOutcome(studio.session, proc('start_terminal_session'), [{ sessionID: t.sessionID, registrationID: frontend.id }])).ok);
    await until(async () => (await shellsInContainer()) === 1, 10_000, 'the shell');
    device.reagent.child.kill('SIGKILL');
    await device.reagent.exit;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await shellsInContainer(), 1, 'nobody cleaned up: Docker keeps an exec whose client died');
    const before = backend.statuses().length;
    device = startCliDevice({ url: router.url, dir: device.dir, env: { DOCKER_HOST: peer.dockerHost, REAGENT_APP_NETWORK: 'none' } });
    await until(async () => (await shellsInContainer()) === 0, 30_000, 'the sweep at start');
    await backend.until(() => backend.statuses().length > before, 60_000, 'the device online again');
    await studio.session.unregister(frontend);
  });

  test('a daemon stopped with SIGTERM kills its shells at once, even one that ignores the hangup', async () => {
    await backend.until(() => backend.statuses().filter((x) => x === 'CONNECTED').length >= 2, 60_000, 'the restarted device online');
    await studio.close();
    studio = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
    const t = await requestTerminal();
    const data = await follow(studio.session, t.dataTopic);
    const frontend = await studio.session.register(`studio.frontend.${t.sessionID}`, () => null);
    assert.ok((await callOutcome(studio.session, proc('start_terminal_session'), [{ sessionID: t.sessionID, registrationID: frontend.id }])).ok);
    await studio.session.publish(t.writeTopic, ["trap '' HUP; echo \"stubborn-$((3+3))\"\n"]);
    await until(() => /stubborn-6/.test(data.text()), 15_000, 'the shell');
    const stoppedAt = Date.now();
    assert.equal(await device.stop(), 0);
    await until(async () => (await shellsInContainer()) === 0, 15_000, 'the shell killed by the stop');
    assert.ok(Date.now() - stoppedAt < 4_000, 'not left to the 5 s grace');
    assert.ok(!/"kind":"exec"/.test(readFileSync(join(device.agentDir, 'terminals-studio.json'), 'utf8')), 'nothing left in the ledger');
    const before = backend.statuses().filter((x) => x === 'CONNECTED').length;
    device = startCliDevice({ url: router.url, dir: device.dir, env: { DOCKER_HOST: peer.dockerHost, REAGENT_APP_NETWORK: 'none' } });
    await backend.until(() => backend.statuses().filter((x) => x === 'CONNECTED').length > before, 60_000, 'the device online again');
  });

  test('losing the studio link ends every terminal: the container shell and the host shell are gone', async () => {
    await studio.close();
    await maintainer.close();
    studio = await connectPeer(router.url, STUDIO_USER.authid, STUDIO_USER.secret);
    maintainer = await connectPeer(router.url, OTHER_USER.authid, OTHER_USER.secret);
    const t = await requestTerminal();
    const frontend = await studio.session.register(`studio.frontend.${t.sessionID}`, () => null);
    assert.ok((await callOutcome(studio.session, proc('start_terminal_session'), [{ sessionID: t.sessionID, registrationID: frontend.id }])).ok);
    const d = (await callOutcome(maintainer.session, proc('init_device_terminal'))).args[0] as Topics;
    const data = await follow(maintainer.session, d.dataTopic);
    await maintainer.session.publish(d.writeTopic, ['echo "pid-$$-up"\n']);
    await until(() => /pid-\d+-up/.test(data.text()), 15_000, 'the host shell');
    const pid = Number(/pid-(\d+)-up/.exec(data.text())![1]);
    await until(async () => (await shellsInContainer()) === 1, 10_000, 'the container shell');
    await router.crash('SIGKILL');
    await until(() => !alive(pid), 10_000, 'the host shell gone with the link');
    await until(async () => (await shellsInContainer()) === 0, 15_000, 'the container shell gone with the link');
    await until(() => device.lines().filter((l) => l.msg === 'terminal closed').length >= 2, 10_000, 'both released');
    await router.restart();
  });
});
