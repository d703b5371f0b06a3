// The dockerode client for the engine named by DOCKER_HOST (the docker CLI's
// variable), read from the environment the daemon was given rather than from
// process.env, so a test can point a daemon at its private engine.
//
// dockerode is loaded with its transports for other engines deferred (see
// `loadDockerode`), because the daemon always runs the apps link.

import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type Dockerode from 'dockerode';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

// Undefined in the single executable's bundle (scripts/package/bundle.ts defines
// `import.meta.url` away): there esbuild has bundled dockerode already.
const requireHere = import.meta.url ? createRequire(import.meta.url) : undefined;

export function dockerFromEnv(env: NodeJS.ProcessEnv): Dockerode {
  const Docker = loadDockerode();
  const host = env['DOCKER_HOST'];
  if (!host) return new Docker({ socketPath: DEFAULT_DOCKER_SOCKET });
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  const tcp = /^tcp:\/\/([^:/]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\/?$/.exec(host);
  if (tcp) return new Docker({ host: tcp[1]!.replace(/^\[|\]$/g, ''), port: Number(tcp[2]), protocol: 'http' });
  throw new Error(`DOCKER_HOST=${JSON.stringify(host)}: expected unix:///path/to/docker.sock or tcp://host:port`);
}

/**
 * The modules dockerode loads eagerly for what we rarely or never use, as
 * `[requiring module, request, stub]`. Measured on `require('dockerode')`
 * (README "Footprint"): 184 modules, ~120 ms and ~12 MiB of resident memory go
 * to ssh2 (ssh:// engines; its poly1305 alone is a 16 MiB WebAssembly heap),
 * dockerode's own copy of grpc-js and protobufjs (BuildKit sessions) and
 * tar-fs (build contexts given as directories; we upload archives).
 */
const DEFERRED: ReadonlyArray<readonly [from: 'dockerode' | 'docker-modem', request: string, stub: (load: () => unknown) => unknown]> = [
  [
    'docker-modem',
    'ssh2',
    // docker-modem reads `.Client` at load and constructs one per ssh:// connection.
    (load) => ({
      Client: function Client(this: unknown, ...args: unknown[]) {
        const { Client: Real } = load() as { Client: new (...a: unknown[]) => object };
        return new Real(...args);
      },
    }),
  ],
  ['dockerode', './session', (load) => (...args: unknown[]) => (load() as (...a: unknown[]) => unknown)(...args)],
  [
    'dockerode',
    'tar-fs',
    (load) => ({
      pack: (...args: unknown[]) => (load() as { pack: (...a: unknown[]) => unknown }).pack(...args),
      extract: (...args: unknown[]) => (load() as { extract: (...a: unknown[]) => unknown }).extract(...args),
    }),
  ],
];

/**
 * `require('dockerode')`, with the modules in `DEFERRED` replaced by stubs in
 * the module cache that load the real module on first use (and forward to it).
 * dockerode's behaviour is unchanged; only the cost moves to the first ssh://
 * connection, BuildKit session or directory build context, which the daemon
 * does not make. If dockerode's layout ever differs, whatever cannot be
 * resolved is simply loaded eagerly as before.
 */
export function loadDockerode(): typeof Dockerode {
  // In the bundle this literal require is what makes esbuild include dockerode;
  // nothing is read from disk, so there is nothing to defer.
  if (!requireHere) return require('dockerode') as typeof Dockerode;
  const dockerodeMain = requireHere.resolve('dockerode');
  if (!(dockerodeMain in requireHere.cache)) {
    const resolveFrom = { dockerode: dockerodeMain, 'docker-modem': '' };
    try {
      resolveFrom['docker-modem'] = createRequire(dockerodeMain).resolve('docker-modem');
    } catch {
      // no deferral for docker-modem's requires
    }
    for (const [from, request, stub] of DEFERRED) {
      if (!resolveFrom[from]) continue;
      let file: string;
      try {
        file = createRequire(resolveFrom[from]).resolve(request.startsWith('.') ? join(dirname(resolveFrom[from]), request) : request);
      } catch {
        continue;
      }
      if (file in requireHere.cache) continue;
      const load = () => {
        // The stub stays reachable from the modules that captured it; the cache gets the real module.
        if (requireHere.cache[file] === placeholder) delete requireHere.cache[file];
        return requireHere(file) as unknown;
      };
      const placeholder = new Module(file);
      placeholder.filename = file;
      placeholder.loaded = true;
      placeholder.exports = stub(memo(load));
      requireHere.cache[file] = placeholder;
    }
  }
  return requireHere('dockerode') as typeof Dockerode;
}

function memo<T>(f: () => T): () => T {
  let loaded = false;
  let value: T | undefined;
  return () => {
    if (!loaded) {
      value = f();
      loaded = true;
    }
    return value as T;
  };
}
