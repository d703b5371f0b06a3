// The single executables made by `npm run package` (dist-bin/), run the way a
// device runs them: copied alone into an empty directory, with a PATH that
// holds a few tools and no Node. Specs refuse executables that were not made
// from the sources under test (`npm test` runs the packaging first).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitCommit } from '../../cli/version.cjs';
import { packageKey, readBuildRecord, type BuildRecord } from '../../scripts/package/source-hash.js';
import { readTargets } from '../../scripts/package/targets.js';

export const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
export const DIST_BIN = join(ROOT, 'dist-bin');

/** The build record of dist-bin, after checking it was made from these sources. */
export function freshBuild(): BuildRecord {
  const record = readBuildRecord(DIST_BIN);
  const key = packageKey(ROOT, gitCommit(ROOT), false, readTargets(join(ROOT, 'targets')));
  if (!record || record.sourceHash !== key) {
    throw new Error(`${DIST_BIN} ${record ? 'was made from other sources' : 'is empty'}: run "npm run package" (npm test does)`);
  }
  return record;
}

/** dist-bin/reagent-<os>-<arch>, checked fresh. */
export function executable(fileName: string): string {
  const record = freshBuild();
  if (!record.executables.some((e) => e.file === fileName)) throw new Error(`${fileName} is not among the packaged targets`);
  return join(DIST_BIN, fileName);
}

export function tempDir(prefix = 'reagent-exe-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Copies the executable alone into a new empty directory; returns its new path. */
export function installAlone(file: string, name = 'reagent'): { dir: string; exe: string } {
  const dir = tempDir();
  const exe = join(dir, name);
  copyFileSync(file, exe);
  return { dir, exe };
}

/**
 * A directory of symlinks to the named tools, to be the whole PATH: no Node
 * anywhere on it (checked by the caller with `nodeOnPath`).
 */
export function toolPath(tools: readonly string[]): string {
  const dir = join(tempDir('reagent-path-'), 'bin');
  mkdirSync(dir);
  for (const tool of tools) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (found.status !== 0) throw new Error(`${tool} is not installed`);
    symlinkSync(found.stdout.trim(), join(dir, tool));
  }
  return dir;
}

/** What `command -v node` finds on this PATH (null: none). */
export function nodeOnPath(path: string): string | null {
  const r = spawnSync('/bin/sh', ['-c', 'command -v node nodejs'], { env: { PATH: path }, encoding: 'utf8' });
  return r.stdout.trim() || null;
}

export interface Proc {
  child: ChildProcess;
  output(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exit: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export function startProc(command: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Proc {
  const [file, ...args] = command;
  const child = spawn(file!, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exited = false;
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', (d: Buffer) => ((out += d.toString()), wake()));
  child.stderr!.on('data', (d: Buffer) => ((out += d.toString()), wake()));
  const exit = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)));
    // A command that cannot be started never exits.
    child.on('error', (err) => {
      out += `\nspawn failed: ${err.message}\n`;
      resolve(null);
    });
  });
  void exit.then(() => ((exited = true), wake()));
  return {
    child,
    output: () => out,
    exit,
    waitFor(re, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${out}`)), timeoutMs);
        const check = () => {
          const m = re.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else if (exited) {
            clearTimeout(timer);
            reject(new Error(`exited before ${re}; output:\n${out}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop(graceMs = 10_000) {
      if (!exited) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exit;
        clearTimeout(killer);
      }
      return exit;
    },
  };
}

/** Runs to completion; stdin is closed unless given. */
export function runProc(command: readonly string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; input?: string; timeoutMs?: number } = {}) {
  const [file, ...args] = command;
  const r = spawnSync(file!, args, { env, cwd: opts.cwd, input: opts.input ?? '', encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/** CI must run what a developer machine may lack; elsewhere a loud skip. */
export function missingPeer(t: { skip(message: string): void }, what: string): void {
  if (process.env.CI === 'true') throw new Error(`${what} (required when CI=true; scripts/install.sh --test installs it)`);
  console.log(`\n!!! SKIPPING: ${what}. scripts/install.sh --test installs it. !!!\n`);
  t.skip(what);
}
