// The app's variables as files in its /data/env (`<appsDir>/data/<container>/env/<NAME>.txt`,
// one file per variable, mode 0600), as the Reagent writes them: an app reads
// them without parsing its environment, and they outlive a container.
// Symlink-safe: the env dir must be a real directory inside the apps dir, and
// a file is never written through a link planted in its place.

import path from 'node:path';
import { appDataDir, type AppIdentity } from '../adapters/docker/naming.js';
import { ensureDirInside, writeFileNoFollow } from '../adapters/compose/project.js';

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function envDir(appsDir: string, app: AppIdentity): string {
  return path.join(appDataDir(appsDir, app.stage, app.appKey, app.appName), 'env');
}

/** Writes one `<NAME>.txt` (0600) per variable; other files in the dir are left alone. */
export async function writeEnvFiles(appsDir: string, app: AppIdentity, vars: Readonly<Record<string, string>>): Promise<string> {
  const dir = await ensureDirInside(appsDir, envDir(appsDir, app));
  for (const [name, value] of Object.entries(vars)) {
    if (!ENV_KEY.test(name)) continue;
    await writeFileNoFollow(path.join(dir, `${name}.txt`), value, 0o600);
  }
  return dir;
}
