// adapters/docker/client.ts loads dockerode with ssh2, its BuildKit session
// (grpc-js, protobufjs) and tar-fs deferred. These tests run the built client in
// a fresh process (a spec file may already have loaded dockerode eagerly) and
// check both halves of the promise: nothing heavy loads for a plain client, and
// each deferred module still works, as the real one, on first use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLIENT = new URL('../../dist/adapters/docker/client.js', import.meta.url).href;

function run(script: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

test('a docker client from DOCKER_HOST loads neither ssh2, nor grpc-js, nor protobufjs, nor tar-fs', () => {
  const r = run(`
    import { createRequire } from 'node:module';
    import { dockerFromEnv } from '${CLIENT}';
    const require = createRequire(import.meta.url);
    const docker = dockerFromEnv({ DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    let pingError = '';
    try { await docker.ping(); } catch (err) { pingError = String(err.code ?? err.message); }
    // Real module files only: a placeholder is one cache entry with no children.
    const real = (part) => Object.values(require.cache).filter((m) => m.filename.includes(part) && m.children.length > 0).length;
    const files = (part) => Object.keys(require.cache).filter((f) => f.includes(part)).length;
    console.log(JSON.stringify({ ssh2: files('/ssh2/'), grpc: files('/@grpc/'), protobuf: files('/protobufjs/'), tarStream: files('/tar-stream/'), dockerode: real('/dockerode/'), pingError }));
  `);
  // One placeholder entry each for ssh2 (the stub), nothing of grpc/protobufjs/tar-stream.
  assert.equal(r['ssh2'], 1, 'only the ssh2 placeholder is in the module cache');
  assert.equal(r['grpc'], 0);
  assert.equal(r['protobuf'], 0);
  assert.equal(r['tarStream'], 0);
  assert.ok(Number(r['dockerode']) > 0, 'dockerode itself is loaded');
  assert.match(String(r['pingError']), /ENOENT/, 'the client really dialled the socket');
});

test('the deferred modules load on first use and behave as the real ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reagent-deferred-'));
  try {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
    const r = run(`
      import { createRequire } from 'node:module';
      import { loadDockerode } from '${CLIENT}';
      const require = createRequire(import.meta.url);
      loadDockerode();
      const fromDockerode = createRequire(require.resolve('dockerode'));
      const fromModem = createRequire(fromDockerode.resolve('docker-modem'));
      // What docker-modem and dockerode captured at load: the stubs.
      const { Client } = fromModem('ssh2');
      const client = new Client();
      const realSsh2 = Object.keys(require.cache).filter((f) => f.includes('/ssh2/')).length;
      // dockerode packs a directory build context with tar-fs.
      const tar = fromDockerode('tar-fs');
      const chunks = [];
      for await (const c of tar.pack(${JSON.stringify(dir)})) chunks.push(c);
      const archive = Buffer.concat(chunks);
      const withSession = require(fromDockerode.resolve('./session.js'));
      console.log(JSON.stringify({
        clientIsReal: typeof client.connect === 'function' && typeof client.exec === 'function' && client.constructor.name === 'Client',
        realSsh2,
        tarHasDockerfile: archive.toString('latin1').includes('Dockerfile') && archive.toString('latin1').includes('FROM scratch'),
        tarBytes: archive.length,
        sessionIsFunction: typeof withSession === 'function',
      }));
    `);
    assert.equal(r['clientIsReal'], true, 'new Client() through the stub is a real ssh2 Client');
    assert.ok(Number(r['realSsh2']) > 5, 'ssh2 loaded for real on first use');
    assert.equal(r['tarHasDockerfile'], true);
    assert.equal(Number(r['tarBytes']) % 512, 0, 'a complete tar archive');
    assert.equal(r['sessionIsFunction'], true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
