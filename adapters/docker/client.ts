// The dockerode client for the engine named by DOCKER_HOST (the docker CLI's
// variable), read from the environment the daemon was given rather than from
// process.env, so a test can point a daemon at its private engine.

import Dockerode from 'dockerode';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export function dockerFromEnv(env: NodeJS.ProcessEnv): Dockerode {
  const host = env['DOCKER_HOST'];
  if (!host) return new Dockerode({ socketPath: DEFAULT_DOCKER_SOCKET });
  if (host.startsWith('unix://')) return new Dockerode({ socketPath: host.slice('unix://'.length) });
  const tcp = /^tcp:\/\/([^:/]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\/?$/.exec(host);
  if (tcp) return new Dockerode({ host: tcp[1]!.replace(/^\[|\]$/g, ''), port: Number(tcp[2]), protocol: 'http' });
  throw new Error(`DOCKER_HOST=${JSON.stringify(host)}: expected unix:///path/to/docker.sock or tcp://host:port`);
}
