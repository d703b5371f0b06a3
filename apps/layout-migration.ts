// Moves app files from the by-name layout (the Reagent's, and ours before:
// `<appsDir>/<dev|prod>/<name>` for /data, `<appsDir>/build/<name>.<ext>` for
// DEV sources) to the keyed one (`<appsDir>/data/<stage>_<key>_<name>`,
// `<appsDir>/uploads/<stage>_<key>_<name>/<name>.<ext>`, see naming.ts).
//
// Runs at every start, before the apps are reconciled: idempotent (what has
// moved is not there to move again), crash-safe (each move is one rename(2),
// never a copy, so a power cut leaves every directory whole in one place or
// the other, and the next start goes on), logged. It never guesses: a
// by-name directory is moved only when exactly one standing app request has
// that stage and name (two apps of one name shared it, and which one the data
// belongs to cannot be known), never onto something already at the keyed
// place, and never through a symlink; what it leaves is logged with the reason.
//
// A container still running on the by-name path keeps working: its bind
// mount holds the directory itself, which the rename moves. The next time
// the agent creates it, it gets the keyed path.
import { lstat, mkdir, rename, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { containerName, LEGACY_PATHS, appDataDir, buildArchivePath, resolveInside, type Stage } from '../adapters/docker/naming.js';
import { syncDir } from '../adapters/store/new-file.js';

export interface LayoutApp {
  stage: Stage;
  appKey: string;
  appName: string;
}

export interface LayoutMove {
  what: 'data' | 'build archive';
  from: string;
  to: string;
}

export interface LayoutPlan {
  moves: LayoutMove[];
  /** By-name places more than one standing app could own: left where they are. */
  ambiguous: Array<{ what: LayoutMove['what']; from: string; claimants: string[] }>;
}

/** What would move where, from the standing requests alone (no filesystem access). */
export function planLayoutMigration(appsDir: string, apps: readonly LayoutApp[], buildExtension: string): LayoutPlan {
  const plan: LayoutPlan = { moves: [], ambiguous: [] };
  const byPlace = new Map<string, { what: LayoutMove['what']; apps: LayoutApp[]; to: (a: LayoutApp) => string }>();
  const claim = (what: LayoutMove['what'], from: string, app: LayoutApp, to: (a: LayoutApp) => string) => {
    const entry = byPlace.get(from) ?? { what, apps: [], to };
    entry.apps.push(app);
    byPlace.set(from, entry);
  };
  for (const app of apps) {
    claim('data', LEGACY_PATHS.dataDir(appsDir, app.stage, app.appName), app, (a) => appDataDir(appsDir, a.stage, a.appKey, a.appName));
    // Only DEV apps had uploaded sources, and the old name carried no stage.
    if (app.stage === 'DEV') {
      claim('build archive', LEGACY_PATHS.buildArchive(appsDir, app.appName, buildExtension), app, (a) => buildArchivePath(appsDir, a.stage, a.appKey, a.appName, buildExtension));
    }
  }
  for (const [from, entry] of byPlace) {
    const owners = new Map(entry.apps.map((a) => [`${a.stage}:${a.appKey}`, a]));
    if (owners.size === 1) plan.moves.push({ what: entry.what, from, to: entry.to(entry.apps[0]!) });
    else plan.ambiguous.push({ what: entry.what, from, claimants: [...owners.values()].map((a) => containerName(a.stage, a.appKey, a.appName)) });
  }
  return plan;
}

export interface MigrationResult {
  moved: LayoutMove[];
  /** Found at the by-name place but not moved, with the reason (also logged as a warning). */
  left: Array<{ from: string; reason: string }>;
}

/** Applies the plan to the filesystem; every outcome is logged. Never throws for one entry: the start goes on. */
export async function migrateAppLayout(appsDir: string, apps: readonly LayoutApp[], buildExtension: string, logger: Logger): Promise<MigrationResult> {
  const plan = planLayoutMigration(appsDir, apps, buildExtension);
  const result: MigrationResult = { moved: [], left: [] };
  const leave = (from: string, reason: string) => {
    result.left.push({ from, reason });
    logger.warn({ path: from, reason }, 'app files of the by-name layout left in place');
  };
  for (const a of plan.ambiguous) {
    if ((await kind(a.from)) !== 'absent') leave(a.from, `${a.what} shared by apps of one name (${a.claimants.join(', ')}); move it by hand to the one it belongs to`);
  }
  for (const m of plan.moves) {
    try {
      const found = await kind(m.from);
      if (found === 'absent') continue;
      const expected = m.what === 'data' ? 'dir' : 'file';
      if (found !== expected) {
        leave(m.from, `expected a ${expected === 'dir' ? 'directory' : 'regular file'}, found a ${found}`);
        continue;
      }
      if ((await kind(m.to)) !== 'absent') {
        leave(m.from, `${m.to} already exists; the two are not merged`);
        continue;
      }
      await mkdir(path.dirname(m.to), { recursive: true });
      await rename(m.from, m.to);
      syncDir(path.dirname(m.to));
      syncDir(path.dirname(m.from));
      result.moved.push(m);
      logger.info({ from: m.from, to: m.to }, `app ${m.what} moved to the layout keyed by stage and app key`);
    } catch (err) {
      leave(m.from, (err as Error).message);
    }
  }
  // The by-name parents, once empty, go too (rmdir fails on anything left in them).
  if (result.moved.length > 0) {
    for (const dir of ['dev', 'prod', 'build']) await rmdir(resolveInside(appsDir, dir)).catch(() => undefined);
  }
  return result;
}

async function kind(p: string): Promise<'absent' | 'dir' | 'file' | 'symlink' | 'special file'> {
  try {
    const st = await lstat(p);
    return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'special file';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
}
