// Every command answers -h / --help (and `reagent help COMMAND`) with its own
// usage instead of a parser error; `-version` / `reagent version` name the
// version, commit, build date and Node version. Run through the built CLI.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS, type CommandSpec } from '../../cli/flags.js';
import { COMMAND_USAGE, asksForHelp } from '../../cli/usage.js';
import { MAIN, cleanEnv, requireBuild, tempDir } from '../helpers/cli.js';

const ROOT = new URL('../..', import.meta.url).pathname;

function reagent(args: string[]) {
  requireBuild();
  const r = spawnSync(process.execPath, [MAIN, ...args], { env: cleanEnv(tempDir()), encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('help for every command', () => {
  const commands = (COMMANDS as readonly CommandSpec[]).map((c) => c.name);

  it('has a usage text for each command of the table, starting "usage: reagent"', () => {
    assert.deepEqual(Object.keys(COMMAND_USAGE).sort(), [...commands].sort());
    for (const name of commands) assert.match(COMMAND_USAGE[name as keyof typeof COMMAND_USAGE], /^usage: reagent /, name);
  });

  for (const name of ['replay', 'bugreport', 'gateway', 'admin', 'connect', 'exec', 'start agent', 'service', 'agent', 'version', 'help']) {
    it(`${name}: -h, --help and "help ${name}" print its usage and exit 0`, () => {
      const usage = `${COMMAND_USAGE[name as keyof typeof COMMAND_USAGE]}\n`;
      for (const args of [[...name.split(' '), '-h'], [...name.split(' '), '--help'], ['help', ...name.split(' ')]]) {
        const r = reagent(args);
        assert.deepEqual([r.code, r.stderr], [0, ''], args.join(' '));
        assert.equal(r.stdout, usage, args.join(' '));
      }
    });
  }

  it('a help flag after the arguments or among global flags counts too; after "--" it is the remote command\'s', () => {
    assert.equal(reagent(['replay', 'some.db', '--help']).stdout, `${COMMAND_USAGE.replay}\n`);
    assert.equal(reagent(['-agentDir', '/x', 'bugreport', '-h']).stdout, `${COMMAND_USAGE.bugreport}\n`);
    assert.equal(reagent(['-h', 'start', 'agent']).stdout, `${COMMAND_USAGE['start agent']}\n`);
    assert.equal(asksForHelp(['runner', '--', 'ls', '--help']), false);
    assert.equal(asksForHelp(['runner', '-h', '--', 'ls']), true);
  });

  it('"help" alone is the global help; an unknown command is named', () => {
    assert.equal(reagent(['help']).stdout, reagent(['-help']).stdout);
    assert.match(reagent(['help']).stdout, /^Usage of reagent:/);
    const r = reagent(['help', 'frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no command "frobnicate"/);
  });
});

describe('-version', () => {
  it('prints version, commit (from git in a checkout), build date and Node version; "version" the same', () => {
    const r = reagent(['-version']);
    assert.equal(r.code, 0, r.stderr);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 4, r.stdout);
    assert.equal(lines[0], pkg.version);
    // The commit is the one the build was made from (npm test builds first, so HEAD there).
    assert.match(lines[1]!, /^commit +([0-9a-f]{12}(-dirty)?|unknown)$/);
    // A build prints the stamp `npm run build` wrote with it (no git process per -version).
    const stamp = JSON.parse(readFileSync(join(ROOT, 'dist/build-stamp.json'), 'utf8')) as { commit: string; date: string };
    assert.equal(/^built +(\S+)$/.exec(lines[2]!)?.[1], stamp.date);
    assert.equal(lines[1], `commit   ${stamp.commit}`);
    assert.equal(lines[3], `node     ${process.version} (${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}, node)`);
    assert.equal(reagent(['version']).stdout, r.stdout);
    assert.equal(reagent(['version', 'extra']).code, 2);
  });
});
