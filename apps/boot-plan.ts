// What the apps are, really, when the daemon starts: a pure function of the
// standing requests (projection), the containers carrying our labels, and
// whether each app's image and build archive are on the device. The app
// actors start in these states and are then handed their request again, so
// stuck transient states resolve, missing containers are recreated, and
// containers nobody asked for are removed, all before any network link.
//
// Like the Reagent's CorrectAppStates: an app with a running container is
// RUNNING; an image without a running container is PRESENT (or BUILT/PUBLISHED
// when that is what the app last reported, so a DEV build is not redone on
// every start); no image is REMOVED, or TRANSFERED for a DEV app whose sources
// are uploaded. Unlike it, an exited container is not FAILED: after a reboot
// every container has exited (restart policy "no"), and the request decides.

import type { AppState } from '../machines/app-states.js';
import { appActorId } from '../machines/app.js';
import { containerName, type Stage } from '../adapters/docker/naming.js';
import type { OurContainer } from '../adapters/docker/types.js';
import type { AppRequestRow } from './projection.js';

export interface AppFacts {
  imagePresent: boolean;
  /** DEV: the uploaded build archive exists. */
  archivePresent: boolean;
}

export interface BootApp {
  row: AppRequestRow;
  actorId: string;
  initial: AppState;
  /** The installed version (what the app reported last), else the requested one. */
  version: string | null;
  /** The app's container, when one exists. */
  container: OurContainer | undefined;
}

export interface BootPlan {
  apps: BootApp[];
  /** Containers of our naming scheme that no standing request accounts for. */
  orphans: OurContainer[];
}

export function installedVersion(row: AppRequestRow): string | null {
  return row.stateVersion ?? row.version;
}

/** `last`: the state the app reported last, if it ever did. */
export function actualState(app: { stage: Stage; last: AppState | null }, container: OurContainer | undefined, facts: AppFacts): AppState {
  if (container?.state === 'running') return 'RUNNING';
  // A container exists only where its image does.
  if (facts.imagePresent || container) {
    if (app.stage === 'DEV' && (app.last === 'BUILT' || app.last === 'PUBLISHED')) return app.last;
    return 'PRESENT';
  }
  if (app.stage === 'DEV' && facts.archivePresent) return 'TRANSFERED';
  return 'REMOVED';
}

export function planBoot(rows: readonly AppRequestRow[], containers: readonly OurContainer[], facts: (row: AppRequestRow) => AppFacts): BootPlan {
  const wanted = new Map<string, AppRequestRow>();
  for (const row of rows) wanted.set(appActorId(row.stage, row.appKey), row);
  const byName = new Map<string, OurContainer>();
  const orphans: OurContainer[] = [];
  for (const c of containers) {
    const row = wanted.get(appActorId(c.stage, c.appKey));
    if (!row) orphans.push(c);
    else byName.set(c.name, c);
  }
  const apps = rows.map((row) => {
    const container = byName.get(containerName(row.stage, row.appKey, row.appName));
    return {
      row,
      actorId: appActorId(row.stage, row.appKey),
      initial: actualState({ stage: row.stage, last: row.state }, container, facts(row)),
      version: installedVersion(row),
      container,
    };
  });
  return { apps, orphans };
}

/**
 * Docker could not be asked at start: the apps begin where they last reported
 * (a transient state is taken by the statechart as an interrupted operation),
 * and the engine's first container list corrects them.
 */
export function lastKnownState(row: AppRequestRow): AppState {
  return row.state ?? 'REMOVED';
}
