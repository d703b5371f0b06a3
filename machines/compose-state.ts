// The state of a compose app, judged from the containers of its project (the
// ones labelled `com.docker.compose.project=<project>`), as the Reagent's
// compose observer judges it: a project is one app to the studio.
//
// Order: a service that exited non-zero (or is restarting or dead) makes the
// app FAILED even while its siblings still run, so a crashed service is seen
// instead of being hidden behind a healthy one; otherwise RUNNING when any
// service runs; PRESENT when containers exist but none runs; and nothing at
// all (no container) is `null`: the project is gone (removed outside us).
// Pure: no I/O, the adapter lists the containers.

export type ComposeContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ComposeContainer {
  state: ComposeContainerState | string;
  /** Known for exited containers. */
  exitCode?: number;
}

export type ComposeState = 'RUNNING' | 'FAILED' | 'PRESENT';

export function failedService(c: ComposeContainer): boolean {
  if (c.state === 'restarting' || c.state === 'dead') return true;
  return c.state === 'exited' && c.exitCode !== undefined && c.exitCode !== 0;
}

export function composeState(containers: readonly ComposeContainer[]): ComposeState | null {
  if (containers.length === 0) return null;
  if (containers.some(failedService)) return 'FAILED';
  if (containers.some((c) => c.state === 'running')) return 'RUNNING';
  return 'PRESENT';
}

/** The first non-zero exit code among the failed services (for the app's failure reason). */
export function failedExitCode(containers: readonly ComposeContainer[]): number | undefined {
  for (const c of containers) if (failedService(c) && c.exitCode !== undefined) return c.exitCode;
  return undefined;
}
