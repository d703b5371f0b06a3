// Deleting an app's directory (its /data, its uploaded sources) inside the
// apps dir. The path was built by naming.ts from validated segments; what is
// checked here is the filesystem under it: the parent is re-resolved with
// symlinks followed and must still be inside the apps dir, so a link planted
// at `<appsDir>/data` cannot redirect the delete, and a link in the app's own
// place is removed as a link, never followed.
import { lstat, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from './errors.js';

/** True when something was deleted, false when there was nothing. */
export async function removeAppDir(appsDir: string, dir: string, what: string): Promise<boolean> {
  try {
    await lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const realBase = await realpath(appsDir);
  const realParent = await realpath(path.dirname(dir));
  if (!(realParent === realBase || realParent.startsWith(realBase + path.sep))) {
    throw new EngineError('not-ours', `${what}: ${dir} resolves outside the apps dir (${realParent}); not deleted`);
  }
  // rm on a symlink removes the link only, never its target.
  await rm(path.join(realParent, path.basename(dir)), { recursive: true, force: true });
  return true;
}
