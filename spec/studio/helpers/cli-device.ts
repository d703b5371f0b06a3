// The built `reagent` CLI as a device: a .flock pointing at the test router, a
// private agent dir, a Docker host that is either a test engine or nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, startReagent, type Running } from '../../helpers/cli.js';
import { flockFor } from './harness.js';
import type { FlockConfig } from '../../../config/flock.js';

export interface CliDevice {
  dir: string;
  agentDir: string;
  flockPath: string;
  reagent: Running;
  /** Parsed JSON log lines printed so far. */
  lines(): Array<Record<string, unknown>>;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
  cleanup(): void;
}

export interface CliDeviceOptions {
  url: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  flock?: Partial<FlockConfig>;
  dir?: string;
}

export function startCliDevice(opts: CliDeviceOptions): CliDevice {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'reagent-e2e-'));
  const agentDir = join(dir, 'agent');
  const flockPath = join(dir, 'device.flock');
  writeFileSync(flockPath, JSON.stringify({ ...flockFor(opts.url), ...opts.flock }));
  const env = cleanEnv(dir, { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}`, ...opts.env });
  const reagent = startReagent(['-config', flockPath, '-agentDir', agentDir, ...(opts.args ?? [])], env);
  return {
    dir,
    agentDir,
    flockPath,
    reagent,
    lines: () =>
      reagent
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        }),
    async stop() {
      if (reagent.child.exitCode === null && reagent.child.signalCode === null) reagent.child.kill('SIGTERM');
      const timer = setTimeout(() => reagent.child.kill('SIGKILL'), 10_000);
      const code = await reagent.exit;
      clearTimeout(timer);
      return code;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
