#!/usr/bin/env node
// Runs every spec file with node's test runner (Node 20 does not expand globs
// in --test) and ends with one plain summary line: "N passed, N failed, N skipped".
import { spawn } from 'node:child_process';
import { readdirSync, statSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);

function findSpecs(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findSpecs(p));
    else if (name.endsWith('.spec.ts')) out.push(p);
  }
  return out;
}

let files = findSpecs(join(root, 'spec')).map((f) => relative(root, f)).sort();
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));
mkdirSync(join(root, 'artifacts'), { recursive: true });
const tapFile = join(root, 'artifacts', 'test-results.tap');
const concurrency = process.env.TEST_CONCURRENCY ?? '2';

const child = spawn(process.execPath, [
  '--import', 'tsx',
  '--test', `--test-concurrency=${concurrency}`,
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
  ...files,
], { cwd: root, stdio: 'inherit' });

child.on('exit', (code, signal) => {
  let pass = 0, fail = 0, skipped = 0;
  try {
    const tap = readFileSync(tapFile, 'utf8');
    pass = Number(/^# pass (\d+)/m.exec(tap)?.[1] ?? 0);
    fail = Number(/^# fail (\d+)/m.exec(tap)?.[1] ?? 0);
    skipped = Number(/^# skipped (\d+)/m.exec(tap)?.[1] ?? 0);
  } catch { fail = Math.max(fail, 1); }
  if (code !== 0 && fail === 0) fail = 1;
  console.log(`\ntests: ${pass} passed, ${fail} failed, ${skipped} skipped`);
  process.exit(code ?? (signal ? 1 : 0));
});
