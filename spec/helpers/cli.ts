// Runs the built `reagent` executable (dist/cli/main.cjs, made by `npm run build`)
// the way a user would, in a clean environment with its own HOME.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MAIN = new URL('../../dist/cli/main.cjs', import.meta.url).pathname;

export function requireBuild(): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first (npm test does)`);
}

export function tempDir(prefix = 'reagent-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A minimal environment: no HOOP_* or LOG_* from the developer's shell leaks in. */
export function cleanEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, ...extra };
}

export function runReagent(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 20_000) {
  requireBuild();
  const r = spawnSync(process.execPath, [MAIN, ...args], { env, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Running {
  child: ChildProcess;
  output(): string;
  /** Resolves once the output matches. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  exit: Promise<number | null>;
}

export function startReagent(args: string[], env: NodeJS.ProcessEnv): Running {
  requireBuild();
  const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exit,
    waitFor(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output so far:\n${out}`)), timeoutMs);
        const check = () => {
          const m = re.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[0]);
          } else waiters.push(check);
        };
        exit.then(() => {
          if (!re.test(out)) {
            clearTimeout(timer);
            reject(new Error(`exited before ${re}; output:\n${out}`));
          }
        });
        check();
      });
    },
  };
}
