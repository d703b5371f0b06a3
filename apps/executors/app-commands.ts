// The `docker.*` commands of the app statechart, as the executors use them.
// They are not parsed again here: the machine builds them from values checked
// where they entered the process (the studio link, the CLI, the projection and
// journal read back at boot), and replayed journals never execute commands.
// What still guards a Docker call or a path is the engine port: every name and
// tag is checked by adapters/docker/naming.ts where it is used, so a bug can
// produce a refused operation (OP_FAILED), never a container named "../x".

import type { DockerOp } from '../../machines/app-planner.js';
import type { AppCommand } from '../../machines/app.js';
import type { AppIdentity } from '../../adapters/docker/naming.js';

/** The commands of the `docker` prefix, as the app machine declares them. */
export type DockerCommand = Extract<AppCommand, { type: `docker.${string}` }>;

export type AppDockerCommand =
  | { kind: 'op'; app: AppIdentity; op: DockerOp; opId: number; version: string | null }
  | { kind: 'cancel'; app: AppIdentity; op: DockerOp; opId: number }
  | { kind: 'prune-old-image'; app: AppIdentity; version: string; keep: string | null };

/** The executors' view of a command: which app, and which kind of work. */
export function dockerCommandOf(c: DockerCommand): AppDockerCommand {
  const app: AppIdentity = { appKey: c.appKey, stage: c.stage, appName: c.appName };
  switch (c.type) {
    case 'docker.cancel':
      return { kind: 'cancel', app, op: c.op, opId: c.opId };
    case 'docker.prune-old-image':
      return { kind: 'prune-old-image', app, version: c.version, keep: c.keep };
    default:
      return { kind: 'op', app, op: OP_OF[c.type], opId: c.opId, version: c.version };
  }
}

/** A new DockerOp without its line here does not compile. */
const OP_OF: { readonly [K in DockerOp as `docker.${K}`]: K } = {
  'docker.pull': 'pull',
  'docker.build': 'build',
  'docker.publish': 'publish',
  'docker.run': 'run',
  'docker.stop': 'stop',
  'docker.remove': 'remove',
  'docker.uninstall': 'uninstall',
};
