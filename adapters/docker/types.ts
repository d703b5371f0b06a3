// Shared shapes of the Docker adapter: what every part is constructed with and what
// it reports about our containers.

import type Dockerode from 'dockerode';
import type { Stage } from './naming.js';

/** pino-compatible subset, so the daemon can pass its logger straight in. */
export interface EngineLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface EngineDeps {
  docker: Dockerode;
  /** Absolute; app data and shared dirs live below it. */
  appsDir: string;
  /** arch+variant used in image names and `Dockerfile.<arch>`, e.g. "amd64", "armv7". */
  arch: string;
  logger: EngineLogger;
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface OurContainer {
  id: string;
  /** Without Docker's leading "/". */
  name: string;
  appKey: string;
  stage: Stage;
  appName: string;
  image: string;
  state: ContainerState;
  /** Docker's human status, e.g. "Exited (137) 2 seconds ago". */
  status: string;
  /** Parsed from `status` for exited containers. */
  exitCode?: number;
  /** Unix ms. */
  createdAt: number;
}

export interface RegistryCredentials {
  username: string;
  password: string;
  /** host[:port] of the registry the credentials are for. */
  serveraddress: string;
}

export const silentLogger: EngineLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
