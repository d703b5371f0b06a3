// App containers: create + start with the agent's conventions, stop, remove,
// uninstall, list.
//
// Only containers carrying our labels are ever stopped or removed: a name that
// happens to match (a user's own `dev_1_web`) is refused with 'not-ours'.

import { mkdir } from 'node:fs/promises';
import type Dockerode from 'dockerode';
import type { ContainerState, EngineDeps, OurContainer } from './types.js';
import {
  appDataDir,
  appLabels,
  containerName,
  MANAGED_FILTER,
  NamingError,
  parseAppLabels,
  parseImageRef,
  sharedDir,
  validateContainerName,
  type Stage,
} from './naming.js';
import { EngineError, statusCodeOf, toEngineError } from './errors.js';
import { removeAppDir } from './app-dirs.js';

type Ctx = Pick<EngineDeps, 'docker' | 'appsDir' | 'logger'>;

export interface PortSpec {
  /** Container port. */
  port: number;
  protocol?: 'tcp' | 'udp';
  /** Published on the host when set (bridge networking only). */
  host_port?: number;
  /** Tunnel fields of the studio's rule (§7.2), echoed into the app's environment when present. */
  remote_port?: number;
  cloud_remote_port?: number;
  /** `remote_port_environment`: the name of a variable of the app's own for the remote port. */
  remote_port_environment?: string;
}

export interface RunSpec {
  appKey: string | number;
  stage: Stage;
  appName: string;
  image: string;
  /** Overrides the image's CMD. */
  cmd?: string[];
  env?: Readonly<Record<string, string>>;
  ports?: readonly PortSpec[];
  /** Docker network mode; default "bridge". Tests use "none" or "host". */
  networkMode?: string;
  /**
   * The original agent ran every app privileged with CapAdd ALL and /dev mapped.
   * That is an explicit opt-in here, for apps that need hardware access.
   */
  privileged?: boolean;
  /** Allocate a TTY (logs then arrive as one undemultiplexed stream). Default false. */
  tty?: boolean;
  /** Grace period between SIGTERM and SIGKILL on stop; Docker's default is 10 s. */
  stopTimeoutSec?: number;
  memoryBytes?: number;
  /** Remove an existing container of the same name (ours only) before creating. */
  replace?: boolean;
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Docker's json-file `max-size` for app containers (ironflock-reagent.md §7.5). */
export const CONTAINER_LOG_MAX_SIZE = '50m';

function envList(env: Readonly<Record<string, string>> | undefined): string[] {
  if (!env) return [];
  return Object.entries(env).map(([k, v]) => {
    if (!ENV_KEY.test(k)) throw new NamingError('env var name', k, 'letters, digits and "_", not starting with a digit');
    if (typeof v !== 'string' || v.includes('\0')) throw new NamingError(`env var ${k}`, v, 'a string without NUL');
    return `${k}=${v}`;
  });
}

function portKey(p: PortSpec): string {
  const proto = p.protocol ?? 'tcp';
  if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) throw new NamingError('port', p.port, 'an integer 1-65535');
  if (proto !== 'tcp' && proto !== 'udp') throw new NamingError('port protocol', proto, '"tcp" or "udp"');
  if (p.host_port !== undefined && (!Number.isInteger(p.host_port) || p.host_port < 1 || p.host_port > 65535)) {
    throw new NamingError('host_port', p.host_port, 'an integer 1-65535');
  }
  return `${p.port}/${proto}`;
}

export function buildCreateOptions(ctx: Pick<EngineDeps, 'appsDir'>, spec: RunSpec): Dockerode.ContainerCreateOptions {
  const name = containerName(spec.stage, spec.appKey, spec.appName);
  parseImageRef(spec.image, 'image');
  const networkMode = spec.networkMode ?? 'bridge';
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, Array<{ HostPort: string }>> = {};
  for (const p of spec.ports ?? []) {
    const key = portKey(p);
    exposed[key] = {};
    // With "host" the container already owns host ports, and "none"/"container:"
    // have nothing to publish from: Docker would drop or reject the bindings.
    if (p.host_port !== undefined && networkMode !== 'host' && networkMode !== 'none' && !networkMode.startsWith('container:')) {
      bindings[key] = [{ HostPort: String(p.host_port) }];
    }
  }
  const binds = [`${sharedDir(ctx.appsDir)}:/shared`, `${appDataDir(ctx.appsDir, spec.stage, spec.appKey, spec.appName)}:/data`];
  if (spec.privileged) binds.push('/dev:/dev');
  const opts: Dockerode.ContainerCreateOptions = {
    name,
    Image: spec.image,
    Env: envList(spec.env),
    Labels: appLabels(spec.stage, spec.appKey, spec.appName),
    Tty: spec.tty ?? false,
    ExposedPorts: exposed,
    HostConfig: {
      Binds: binds,
      NetworkMode: networkMode,
      RestartPolicy: { Name: 'no' },
      // The Reagent's disk guard caps container logs at 50 MiB (§7.5): a chatty app cannot fill the disk.
      LogConfig: { Type: 'json-file', Config: { 'max-size': CONTAINER_LOG_MAX_SIZE } },
      PortBindings: bindings,
      Privileged: spec.privileged ?? false,
      ...(spec.privileged ? { CapAdd: ['ALL'] } : {}),
      ...(spec.memoryBytes !== undefined ? { Memory: spec.memoryBytes } : {}),
    },
  };
  if (spec.cmd) opts.Cmd = [...spec.cmd];
  if (spec.stopTimeoutSec !== undefined) opts.StopTimeout = spec.stopTimeoutSec;
  return opts;
}

/** Inspects `name` and refuses containers without our labels. */
export async function inspectOurs(ctx: Ctx, name: string, what: string): Promise<Dockerode.ContainerInspectInfo> {
  validateContainerName(name);
  let info: Dockerode.ContainerInspectInfo;
  try {
    info = await ctx.docker.getContainer(name).inspect();
  } catch (err) {
    throw toEngineError(err, `${what} ${name}`);
  }
  if (!parseAppLabels(info.Config.Labels ?? undefined)) {
    throw new EngineError('not-ours', `${what} ${name}: the container is not managed by reagent (no ${MANAGED_FILTER} label)`);
  }
  return info;
}

export async function runApp(ctx: Ctx, spec: RunSpec): Promise<{ id: string; name: string }> {
  const opts = buildCreateOptions(ctx, spec);
  const name = opts.name ?? '';
  await mkdir(sharedDir(ctx.appsDir), { recursive: true });
  await mkdir(appDataDir(ctx.appsDir, spec.stage, spec.appKey, spec.appName), { recursive: true });
  if (spec.replace) await remove(ctx, name, { force: true });
  let container: Dockerode.Container;
  try {
    container = await ctx.docker.createContainer(opts);
  } catch (err) {
    throw toEngineError(err, `create container ${name}`);
  }
  try {
    await container.start();
  } catch (err) {
    // Left in place (state "created") so the failure can be inspected; the caller decides.
    throw toEngineError(err, `start container ${name}`);
  }
  ctx.logger.info({ container: name, id: container.id, image: spec.image }, 'app container started');
  return { id: container.id, name };
}

/** Stops a running container; a container that already stopped is not an error. */
export async function stop(ctx: Ctx, name: string, timeoutSec = 10): Promise<void> {
  await inspectOurs(ctx, name, 'stop container');
  try {
    await ctx.docker.getContainer(name).stop({ t: timeoutSec });
  } catch (err) {
    if (statusCodeOf(err) === 304) return; // already stopped
    throw toEngineError(err, `stop container ${name}`);
  }
}

/** Removes the container; false when there was none. */
export async function remove(ctx: Ctx, name: string, opts: { force?: boolean } = {}): Promise<boolean> {
  try {
    await inspectOurs(ctx, name, 'remove container');
  } catch (err) {
    if (err instanceof EngineError && err.code === 'not-found') return false;
    throw err;
  }
  try {
    await ctx.docker.getContainer(name).remove({ force: opts.force ?? false });
    return true;
  } catch (err) {
    if (statusCodeOf(err) === 404) return false;
    throw toEngineError(err, `remove container ${name}`);
  }
}

/**
 * Removes the app's container and deletes its data dir, the one of this stage
 * and app key only (an app of the same name keeps its own). See app-dirs.ts
 * for why a planted symlink cannot redirect the delete.
 */
export async function uninstall(
  ctx: Ctx,
  appKey: string | number,
  stage: Stage,
  appName: string,
): Promise<{ containerRemoved: boolean; dataDirRemoved: boolean }> {
  const name = containerName(stage, appKey, appName);
  const dataDir = appDataDir(ctx.appsDir, stage, appKey, appName);
  const containerRemoved = await remove(ctx, name, { force: true });
  const dataDirRemoved = await removeAppDir(ctx.appsDir, dataDir, `uninstall ${name}`);
  ctx.logger.info({ container: name, containerRemoved, dataDirRemoved }, 'app uninstalled');
  return { containerRemoved, dataDirRemoved };
}

const STATES = new Set<ContainerState>(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']);

export function toOurContainer(c: Dockerode.ContainerInfo): OurContainer | undefined {
  const id = parseAppLabels(c.Labels);
  if (!id) return undefined;
  const state: ContainerState = STATES.has(c.State as ContainerState) ? (c.State as ContainerState) : 'dead';
  const out: OurContainer = {
    id: c.Id,
    name: (c.Names[0] ?? '').replace(/^\//, ''),
    ...id,
    image: c.Image,
    state,
    status: c.Status,
    createdAt: c.Created * 1000,
  };
  const exit = /^Exited \((-?\d+)\)/.exec(c.Status);
  if (exit?.[1] !== undefined) out.exitCode = Number(exit[1]);
  return out;
}

export async function listOurContainers(ctx: Pick<EngineDeps, 'docker' | 'logger'>): Promise<OurContainer[]> {
  let list: Dockerode.ContainerInfo[];
  try {
    list = await ctx.docker.listContainers({ all: true, filters: { label: [MANAGED_FILTER] } });
  } catch (err) {
    throw toEngineError(err, 'list containers');
  }
  const out: OurContainer[] = [];
  for (const c of list) {
    const ours = toOurContainer(c);
    if (ours) out.push(ours);
    else ctx.logger.warn({ id: c.Id, names: c.Names, labels: c.Labels }, 'container has our managed label but damaged identity labels; ignored');
  }
  return out;
}
