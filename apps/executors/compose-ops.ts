// The Docker operations of a compose app, run through the host's compose CLI
// (cli.ts) instead of single-container calls. The app statechart is the same
// as for a single container; only what `docker.pull`, `docker.run`, … do
// differs:
//   pull      images the services name that are missing are pulled through the
//             engine with the registry credentials the app has (DOWNLOADING)
//   run       `up -d --remove-orphans` (STARTING → RUNNING)
//   stop      `down` (PRESENT: no containers, images kept)
//   remove    `down --remove-orphans` (images stay: compose images are often
//             shared with other apps, e.g. a database image)
//   uninstall `down -v --remove-orphans`, then the compose dir and /data go
// The compose files are (re)written before each operation from the app's
// spec, so a daemon restart or a deleted dir never leaves an app we cannot
// take down. The CLI's output goes to the app's log history.

import type { DockerEngine } from '../../adapters/docker/engine.js';
import type { AppLogSink } from './command-handler.js';
import type { AppRuntimeSpec } from './app-image.js';
import type { EngineLogger, RegistryCredentials } from '../../adapters/docker/types.js';
import { appDataDir, parseImageRef, type AppIdentity } from '../../adapters/docker/naming.js';
import { removeAppDir } from '../../adapters/docker/app-dirs.js';
import { PullTally } from './op-progress.js';
import { detectComposeCli, runCompose, type ComposeCli } from '../../adapters/compose/cli.js';
import { composeDir, composeImages, composeProjectName, writeComposeFiles, type ComposeSpec } from '../../adapters/compose/project.js';
import { portEnv } from '../ports.js';
import { writeEnvFiles } from '../env-files.js';

export type ComposeOp = 'pull' | 'build' | 'publish' | 'run' | 'stop' | 'remove' | 'uninstall';

export interface ComposeOpsDeps {
  engine: DockerEngine;
  /** The daemon's environment: DOCKER_HOST (and PATH, HOME) for the CLI. */
  env: NodeJS.ProcessEnv;
  logs: AppLogSink;
  credentialsFor(app: AppIdentity, registryHost: string | undefined): Promise<RegistryCredentials | undefined>;
  redact(text: string): string;
  logger: EngineLogger;
  stopTimeoutSec: number;
  /** Bound of one CLI run (an `up` may pull too). */
  timeoutMs: number;
  /** Tests: a fixed CLI instead of detection. */
  cli?: ComposeCli;
}

/** A compose failure decided before the CLI ran, or the CLI's own failure with its output's tail. */
export class ComposeOpError extends Error {}

const OUTPUT_TAIL = 1500;

export class ComposeOps {
  private cli: Promise<ComposeCli> | undefined;

  constructor(private readonly deps: ComposeOpsDeps) {
    if (deps.cli) this.cli = Promise.resolve(deps.cli);
  }

  /** The CLI in use, detected once; a failed detection is tried again next time. */
  detect(): Promise<ComposeCli> {
    if (!this.cli) {
      const p = detectComposeCli(this.deps.env);
      this.cli = p;
      p.then(
        (cli) => this.deps.logger.info({ cli: cli.command.join(' '), version: cli.version }, 'compose CLI found'),
        () => {
          if (this.cli === p) this.cli = undefined;
        },
      );
    }
    return this.cli;
  }

  async execute(op: ComposeOp, app: AppIdentity, container: string, spec: AppRuntimeSpec, signal: AbortSignal): Promise<void> {
    const compose = spec.compose;
    if (!compose) throw new ComposeOpError('not a compose app');
    // An engine that is away fails here as the engine's error (the app then waits for it), before any CLI is spawned.
    if (op !== 'build' && op !== 'publish') await this.deps.engine.ping(5000);
    switch (op) {
      case 'build':
      case 'publish':
        throw new ComposeOpError(`${op} of a compose app is not supported on the device: its services name their images`);
      case 'pull':
        return this.pull(app, container, compose, spec, signal);
      case 'run':
        this.deps.logs.agent(container, 'Now running compose app…');
        await this.cliRun(app, container, compose, spec, ['up', '-d', '--remove-orphans'], signal);
        return;
      case 'stop':
        await this.cliRun(app, container, compose, spec, ['down', '-t', String(this.deps.stopTimeoutSec)], signal);
        return;
      case 'remove':
        await this.cliRun(app, container, compose, spec, ['down', '-t', String(this.deps.stopTimeoutSec), '--remove-orphans'], signal);
        this.deps.logs.agent(container, 'Compose app removed');
        return;
      case 'uninstall': {
        await this.cliRun(app, container, compose, spec, ['down', '-t', String(this.deps.stopTimeoutSec), '-v', '--remove-orphans'], signal);
        const appsDir = this.deps.engine.appsDir;
        await removeAppDir(appsDir, composeDir(appsDir, app), `uninstall ${container}`);
        const data = await removeAppDir(appsDir, appDataDir(appsDir, app.stage, app.appKey, app.appName), `uninstall ${container}`);
        this.deps.logs.agent(container, `Compose app uninstalled (data ${data ? 'deleted' : 'absent'})`);
        return;
      }
    }
  }

  /**
   * The services' last output (`logs --no-color --tail N`), oldest first, each
   * line prefixed by compose with its service; at most `maxBytes` of it.
   */
  async logs(app: AppIdentity, container: string, spec: AppRuntimeSpec, opts: { tail: number; timestamps: boolean; maxBytes: number }): Promise<string[]> {
    const compose = spec.compose;
    if (!compose) throw new ComposeOpError('not a compose app');
    const cli = await this.detect();
    const files = await this.write(app, container, compose, spec);
    const args = ['-p', composeProjectName(app), '-f', files.file, '--env-file', files.envFile, 'logs', '--no-color', '--tail', String(opts.tail), ...(opts.timestamps ? ['-t'] : [])];
    const r = await runCompose(cli.command, args, { env: this.deps.env, cwd: files.dir, timeoutMs: 30_000, maxOutputBytes: opts.maxBytes });
    if (r.code !== 0) throw new ComposeOpError(`compose logs exited ${r.code ?? r.signal}: ${this.deps.redact(r.output.trim()).slice(-OUTPUT_TAIL)}`);
    const lines = r.output.split(/\r?\n/).filter((l) => l.trim() !== '' && !/^Attaching to /.test(l));
    return lines.map((l) => this.deps.redact(l));
  }

  private async pull(app: AppIdentity, container: string, compose: ComposeSpec, spec: AppRuntimeSpec, signal: AbortSignal): Promise<void> {
    await this.write(app, container, compose, spec);
    for (const image of composeImages(compose)) {
      if (await this.deps.engine.imageExists(image)) continue;
      let host: string | undefined;
      try {
        host = parseImageRef(image, 'compose image').domain;
      } catch {
        // A reference our parser does not take (a digest, say): `up` pulls it.
        this.deps.logs.agent(container, `Image ${image} is left to compose to pull`);
        continue;
      }
      const credentials = await this.deps.credentialsFor(app, host);
      this.deps.logs.agent(container, `Pulling image ${image}…`);
      const tally = new PullTally();
      await this.deps.engine.pull(
        image,
        credentials,
        (p) => {
          const line = tally.add(p);
          if (line !== undefined) this.deps.logs.progress(container, [this.deps.redact(line)]);
        },
        signal,
      );
    }
  }

  private async write(app: AppIdentity, container: string, compose: ComposeSpec, spec: AppRuntimeSpec) {
    // The port variables (§7.2) can be used in the compose file as ${DEVICE_PORT_FOR_<port>}.
    const ports = portEnv(spec.ports);
    if (Object.keys(ports).length) await writeEnvFiles(this.deps.engine.appsDir, app, ports);
    const files = await writeComposeFiles(this.deps.engine.appsDir, app, compose, { ...spec.env, ...ports });
    if (files.skipped.length) this.deps.logs.agent(container, `left out of .env-compose (line breaks): ${files.skipped.join(', ')}`);
    return files;
  }

  private async cliRun(app: AppIdentity, container: string, compose: ComposeSpec, spec: AppRuntimeSpec, args: string[], signal: AbortSignal): Promise<void> {
    const cli = await this.detect();
    const files = await this.write(app, container, compose, spec);
    const project = composeProjectName(app);
    const full = ['-p', project, '-f', files.file, '--env-file', files.envFile, ...args];
    this.deps.logger.info({ container, project, cli: cli.command.join(' '), args }, 'running compose');
    const r = await runCompose(cli.command, full, {
      env: this.deps.env,
      cwd: files.dir,
      timeoutMs: this.deps.timeoutMs,
      signal,
      onLine: (line) => this.deps.logs.progress(container, [this.deps.redact(line)]),
    });
    if (signal.aborted) throw new ComposeOpError('canceled');
    if (r.code !== 0) {
      const tail = this.deps.redact(r.output.trim()).slice(-OUTPUT_TAIL);
      const why = r.timedOut ? `timed out after ${this.deps.timeoutMs} ms` : `exited ${r.code ?? r.signal}`;
      throw new ComposeOpError(`compose ${args[0]} ${why}${tail ? `: ${tail}` : ''}`);
    }
  }
}
