// A compose app's payload, names and files (adapters/compose/project.ts).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import {
  composeDir,
  composeImages,
  composeProjectName,
  envFileText,
  MAX_COMPOSE_BYTES,
  parseComposePayload,
  writeComposeFiles,
} from '../../adapters/compose/project.js';
import { validateRequest } from '../../apps/request.js';
import { appRequest } from '../helpers/apps-daemon.js';

describe('compose payload', () => {
  it('takes an object with services, nothing for null or {}', () => {
    const c = { services: { web: { image: 'nginx:1' }, db: { image: 'postgres:16' } } };
    assert.deepEqual(parseComposePayload('docker_compose', c), c);
    assert.equal(parseComposePayload('docker_compose', null), undefined);
    assert.equal(parseComposePayload('docker_compose', {}), undefined);
    assert.deepEqual(composeImages(c).sort(), ['nginx:1', 'postgres:16']);
  });

  it('refuses bad ones with an error naming the field', () => {
    assert.throws(() => parseComposePayload('docker_compose', 'services: {}'), /field "docker_compose": expected a compose file as an object/);
    assert.throws(() => parseComposePayload('docker_compose', { version: '3' }), /field "docker_compose.services"/);
    assert.throws(() => parseComposePayload('new_docker_compose', { services: { 'a/b': {} } }), /field "new_docker_compose.services": service name/);
    assert.throws(() => parseComposePayload('docker_compose', { services: { web: 'nginx' } }), /field "docker_compose.services.web": expected an object/);
    const big = { services: { web: { image: 'x', command: 'y'.repeat(MAX_COMPOSE_BYTES) } } };
    assert.throws(() => parseComposePayload('docker_compose', big), /expected at most \d+ bytes/);
  });

  it('never throws anything but an Error naming docker_compose, whatever arrives', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          parseComposePayload('docker_compose', v);
          return true;
        } catch (err) {
          return err instanceof Error && err.message.includes('docker_compose');
        }
      }),
    );
  });

  it('the request carries it into the spec and the journaled event; new_docker_compose on an update', () => {
    const a = { services: { web: { image: 'a:1' } } };
    const b = { services: { web: { image: 'a:2' } } };
    const base = { appKey: 5, appName: 'plant', stage: 'PROD' as const, targetState: 'RUNNING' as const, dockerCompose: a, newDockerCompose: b };
    const v = validateRequest(appRequest(base), { registry: '', repository: '' });
    assert.ok(v.ok);
    assert.deepEqual(v.request.spec.compose, a);
    assert.deepEqual(v.request.event.spec.compose, a);
    const u = validateRequest(appRequest({ ...base, requestUpdate: true }), { registry: '', repository: '' });
    assert.ok(u.ok);
    assert.deepEqual(u.request.spec.compose, b);
    const bad = validateRequest(appRequest({ ...base, dockerCompose: { services: [] } as never }), { registry: '', repository: '' });
    assert.ok(!bad.ok);
    assert.match(bad.error, /docker_compose\.services/);
  });
});

describe('compose names and files', () => {
  let appsDir: string;
  before(() => {
    appsDir = mkdtempSync(path.join(os.tmpdir(), 'compose-files-'));
  });
  after(() => rmSync(appsDir, { recursive: true, force: true }));

  it('project <stage>_<appKey>_<name>_compose, lowercase, in the characters both CLIs keep', () => {
    assert.equal(composeProjectName({ stage: 'PROD', appKey: '12', appName: 'Plant' }), 'prod_12_plant_compose');
    assert.equal(composeProjectName({ stage: 'DEV', appKey: '7', appName: 'my.app-x' }), 'dev_7_myapp-x_compose');
  });

  it('PROD files in <appsDir>/compose/<name>, DEV in <appsDir>/build/<name>', () => {
    assert.equal(composeDir(appsDir, { stage: 'PROD', appKey: '1', appName: 'plant' }), path.join(appsDir, 'compose', 'plant'));
    assert.equal(composeDir(appsDir, { stage: 'DEV', appKey: '1', appName: 'plant' }), path.join(appsDir, 'build', 'plant'));
    assert.throws(() => composeDir(appsDir, { stage: 'PROD', appKey: '1', appName: '../x' }));
  });

  it('writes docker-compose.json and .env-compose 0600; values with line breaks are left out', async () => {
    const app = { stage: 'PROD' as const, appKey: '3', appName: 'plant' };
    const r = await writeComposeFiles(appsDir, app, { services: { web: { image: 'a' } } }, { A: '1', B: 'two\nlines' });
    assert.deepEqual(r.skipped, ['B']);
    assert.equal(readFileSync(r.envFile, 'utf8'), 'A=1\n');
    assert.equal(statSync(r.envFile).mode & 0o777, 0o600);
    assert.equal(statSync(r.file).mode & 0o777, 0o600);
    assert.deepEqual(envFileText({}), { text: '', skipped: [] });
  });

  it('refuses to write through a symlink planted as the file or as the dir', async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), 'compose-outside-'));
    try {
      const app = { stage: 'PROD' as const, appKey: '4', appName: 'linked' };
      const dir = composeDir(appsDir, app);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(outside, 'target'), 'keep');
      symlinkSync(path.join(outside, 'target'), path.join(dir, '.env-compose'));
      await assert.rejects(writeComposeFiles(appsDir, app, { services: { web: {} } }, { A: '1' }), /ELOOP|symbolic/);
      assert.equal(readFileSync(path.join(outside, 'target'), 'utf8'), 'keep');

      const app2 = { stage: 'PROD' as const, appKey: '5', appName: 'dirlink' };
      symlinkSync(outside, composeDir(appsDir, app2));
      await assert.rejects(writeComposeFiles(appsDir, app2, { services: { web: {} } }, { A: '1' }), /not a directory|outside the apps dir/);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
