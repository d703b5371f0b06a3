// Which compose CLI the host has, and how a run is bounded. Fake `docker` and
// `docker-compose` executables on a private PATH stand in for the host's, so
// each combination can be tried; the real Debian docker-compose is exercised
// by spec/studio/e2e-compose.spec.ts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { childEnv, detectComposeCli, runCompose } from '../../adapters/compose/cli.js';

function fakeBin(dir: string, name: string, script: string): void {
  const p = path.join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${script}\n`);
  chmodSync(p, 0o755);
}

describe('compose CLI detection', () => {
  let root: string;
  const dirs: Record<string, string> = {};
  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'compose-cli-'));
    for (const name of ['plugin', 'v1', 'both', 'none', 'broken']) {
      dirs[name] = path.join(root, name);
      mkdirSync(dirs[name]!);
    }
    const plugin = 'if [ "$1" = compose ] && [ "$2" = version ]; then echo "Docker Compose version v2.27.0"; exit 0; fi; exit 1';
    const noPlugin = 'echo "docker: unknown command: docker $1" >&2; exit 1';
    const v1 = 'if [ "$1" = version ]; then echo "docker-compose version 1.29.2, build unknown"; echo "docker-py version: 5.0.3"; exit 0; fi; exit 1';
    fakeBin(dirs['plugin']!, 'docker', plugin);
    fakeBin(dirs['v1']!, 'docker', noPlugin);
    fakeBin(dirs['v1']!, 'docker-compose', v1);
    fakeBin(dirs['both']!, 'docker', plugin);
    fakeBin(dirs['both']!, 'docker-compose', v1);
    fakeBin(dirs['none']!, 'docker', noPlugin);
    fakeBin(dirs['broken']!, 'docker-compose', 'exit 2');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('takes `docker compose` when the plugin answers', async () => {
    const cli = await detectComposeCli({ PATH: dirs['plugin'] });
    assert.deepEqual(cli.command, ['docker', 'compose']);
    assert.equal(cli.version, 'Docker Compose version v2.27.0');
  });

  it('prefers the plugin when both are there', async () => {
    assert.deepEqual((await detectComposeCli({ PATH: dirs['both'] })).command, ['docker', 'compose']);
  });

  it('falls back to docker-compose (v1) when `docker compose` fails', async () => {
    const cli = await detectComposeCli({ PATH: dirs['v1'] });
    assert.deepEqual(cli.command, ['docker-compose']);
    assert.equal(cli.version, 'docker-compose version 1.29.2, build unknown');
  });

  it('neither: a clear error naming both commands', async () => {
    await assert.rejects(detectComposeCli({ PATH: dirs['none'] }), (err: Error) => {
      assert.match(err.message, /no compose CLI on this host/);
      assert.match(err.message, /"docker compose version" exited 1/);
      assert.match(err.message, /"docker-compose"/);
      return true;
    });
    await assert.rejects(detectComposeCli({ PATH: dirs['broken'] }), /"docker-compose version" exited 2/);
  });
});

describe('compose CLI runs', () => {
  it('gets DOCKER_HOST, PATH and HOME of the daemon, and none of its other variables', () => {
    const env = childEnv({ PATH: '/x', HOME: '/h', DOCKER_HOST: 'unix:///d.sock', REAGENT_SECRET: 's3cret', AWS_SECRET_ACCESS_KEY: 'k' });
    assert.equal(env['DOCKER_HOST'], 'unix:///d.sock');
    assert.equal(env['PATH'], '/x');
    assert.equal(env['HOME'], '/h');
    assert.equal(env['REAGENT_SECRET'], undefined);
    assert.equal(env['AWS_SECRET_ACCESS_KEY'], undefined);
  });

  it('passes DOCKER_HOST to the child and hands out its lines', async () => {
    const lines: string[] = [];
    const r = await runCompose(['sh', '-c', 'echo "host=$DOCKER_HOST"; echo "secret=$REAGENT_SECRET" >&2; exit 4'], [], {
      env: { PATH: process.env['PATH'], DOCKER_HOST: 'unix:///peer.sock', REAGENT_SECRET: 'nope' },
      timeoutMs: 10_000,
      onLine: (l) => lines.push(l),
    });
    assert.equal(r.code, 4);
    assert.deepEqual(lines.sort(), ['host=unix:///peer.sock', 'secret='].sort());
  });

  it('keeps only the tail of a large output', async () => {
    const r = await runCompose(['sh', '-c', 'i=0; while [ $i -lt 5000 ]; do echo "line $i"; i=$((i+1)); done'], [], {
      env: { PATH: process.env['PATH'] },
      timeoutMs: 20_000,
      maxOutputBytes: 1024,
    });
    assert.equal(r.code, 0);
    assert.ok(r.output.length <= 1024, `kept ${r.output.length} bytes`);
    assert.match(r.output, /line 4999\n$/);
  });

  it('a run past its time limit is killed and says so', async () => {
    const t0 = Date.now();
    const r = await runCompose(['sh', '-c', 'sleep 30'], [], { env: { PATH: process.env['PATH'] }, timeoutMs: 300 });
    // Its grandchild (sleep) holds the pipes: only a group kill ends the run before the sleep does.
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
    assert.equal(r.timedOut, true);
    assert.notEqual(r.code, 0);
  });

  it('an abort (cancel) stops the child', async () => {
    const ac = new AbortController();
    const p = runCompose(['sh', '-c', 'sleep 30'], [], { env: { PATH: process.env['PATH'] }, timeoutMs: 60_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    const r = await p;
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
    assert.equal(r.signal, 'SIGTERM');
  });
});
