// Where the self-update keeps its files in the agent dir, and the file
// operations on them. Versions live side by side; two symlinks say which one
// runs and which one is known to work:
//   <agentDir>/versions/<v>/reagent    every installed version (0755)
//   <agentDir>/current -> versions/<v> what the service runs (<agentDir>/current/reagent)
//   <agentDir>/known-good -> versions/<v>  the last committed version; its binary runs the
//                                      pre-start guard (`reagent update-guard`)
//   <agentDir>/downloads/              downloads in progress (0700)
//   <agentDir>/update-state.json       the update's phase (state-file.ts)
// A link is replaced atomically: a new symlink beside it, renamed over it.
import { chmodSync, closeSync, constants as fsConstants, copyFileSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isSemver } from '../../machines/update-rules.js';

export const CURRENT = 'current';
export const KNOWN_GOOD = 'known-good';
export const BINARY = 'reagent';

export class UpdateLayout {
  constructor(readonly agentDir: string) {}

  get versionsDir(): string {
    return join(this.agentDir, 'versions');
  }

  get downloadsDir(): string {
    return join(this.agentDir, 'downloads');
  }

  get stateFile(): string {
    return join(this.agentDir, 'update-state.json');
  }

  /** What the service runs. */
  get currentBinary(): string {
    return join(this.agentDir, CURRENT, BINARY);
  }

  get knownGoodBinary(): string {
    return join(this.agentDir, KNOWN_GOOD, BINARY);
  }

  binaryOf(version: string): string {
    return join(this.versionDir(version), BINARY);
  }

  versionDir(version: string): string {
    if (!isSemver(version)) throw new Error(`not a version: ${JSON.stringify(version)}`);
    return join(this.versionsDir, version);
  }

  /** The version a link points to (`versions/<v>`), or null when there is no such link. */
  target(link: typeof CURRENT | typeof KNOWN_GOOD): string | null {
    try {
      const to = readlinkSync(join(this.agentDir, link));
      const v = basename(to);
      return basename(dirname(to)) === 'versions' && isSemver(v) ? v : null;
    } catch {
      return null;
    }
  }

  /** Points `link` at `versions/<version>` atomically (relative target: the agent dir may move). */
  point(link: typeof CURRENT | typeof KNOWN_GOOD, version: string): void {
    this.versionDir(version); // validates
    const path = join(this.agentDir, link);
    const tmp = `${path}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    symlinkSync(join('versions', version), tmp);
    renameSync(tmp, path);
    syncDir(this.agentDir);
  }

  has(version: string): boolean {
    try {
      return lstatSync(this.binaryOf(version)).isFile();
    } catch {
      return false;
    }
  }

  /**
   * Copies the running executable into `versions/<version>` when it is not
   * there yet (the first update of an agent installed elsewhere), so the
   * version before an update can always be restored.
   */
  adopt(executable: string, version: string): void {
    if (this.has(version)) return;
    this.ownDirs();
    const dir = this.versionDir(version);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const tmp = join(dir, `.${BINARY}.tmp-${process.pid}`);
    rmSync(tmp, { force: true });
    copyFileSync(executable, tmp, fsConstants.COPYFILE_EXCL);
    chmodSync(tmp, 0o755);
    fsyncFile(tmp);
    renameSync(tmp, this.binaryOf(version));
    syncDir(dir);
  }

  /** Moves a verified download into `versions/<version>/reagent` (same file system: a rename). */
  install(file: string, version: string): string {
    this.ownDirs();
    const dir = this.versionDir(version);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(file, 0o755);
    fsyncFile(file);
    renameSync(file, this.binaryOf(version));
    syncDir(dir);
    return this.binaryOf(version);
  }

  remove(version: string): void {
    rmSync(this.versionDir(version), { recursive: true, force: true });
  }

  /** Removes every version but those named (the running one and the one to go back to). */
  prune(keep: readonly string[]): string[] {
    let names: string[];
    try {
      names = readdirSync(this.versionsDir);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of names) {
      if (keep.includes(name) || !isSemver(name)) continue;
      rmSync(join(this.versionsDir, name), { recursive: true, force: true });
      removed.push(name);
    }
    return removed;
  }

  /** The downloads directory, 0700, emptied of what an interrupted download left. */
  freshDownloads(): string {
    this.ownDirs();
    rmSync(this.downloadsDir, { recursive: true, force: true });
    mkdirSync(this.downloadsDir, { mode: 0o700 });
    return this.downloadsDir;
  }

  /**
   * The agent dir and `versions/` are real directories owned by this user:
   * a root daemon must never install code through a directory (or a symlink
   * planted in it) that someone else controls.
   */
  ownDirs(uid: number = process.getuid?.() ?? 0): void {
    mkdirSync(this.versionsDir, { recursive: true, mode: 0o755 });
    for (const dir of [this.agentDir, this.versionsDir]) {
      const st = lstatSync(dir);
      if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`${dir} is not a plain directory; refusing to install code there`);
      if (st.uid !== uid) throw new Error(`${dir} belongs to uid ${st.uid}, not this agent's uid ${uid}; refusing to install code there`);
      if (st.mode & 0o022) throw new Error(`${dir} is writable by ${st.mode & 0o002 ? 'everyone' : 'its group'}; refusing to install code there`);
    }
  }
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a rename or a new link in `dir` durable (a power cut right after keeps it). */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some file systems refuse fsync on a directory; the rename is still atomic
  }
}
