// `reagent bugreport -o FILE` as root, where another user can write: the report
// is created as a new 0600 file and never written through a file or symlink
// someone else planted. Before, it opened FILE with 'w': a symlink in /tmp made
// by uid 65534 sent the (root-readable only) report into whatever it pointed at,
// and a file pre-created by that user received the report and stayed theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem } from '../../actors/system.js';
import type { LooseCatalog } from '../../actors/contracts.js';
import { ManualClock } from '../../actors/clock.js';
import { builtinMachines } from '../../machines/registry.js';
import { Journal } from '../../adapters/store/journal.js';
import { readExport } from '../../adapters/store/export.js';
import { FileExistsError, writeNewFile } from '../../adapters/store/new-file.js';
import { parseBugreportArgs } from '../../cli/bugreport-command.js';
import type { Json } from '../../actors/types.js';
import { cleanEnv, runReagent, tempDir } from '../helpers/cli.js';
import { studioPolicy } from '../helpers/connection-policy.js';
import { NOBODY, runAsNobody, skipUnlessUnprivileged } from '../helpers/unprivileged.js';

const skip = skipUnlessUnprivileged();

function agentWithJournal(dir: string): string {
  const agentDir = join(dir, 'agent');
  mkdirSync(agentDir, { recursive: true });
  const journal = Journal.open({ path: join(agentDir, 'reagent.db'), logger: { info() {}, warn() {}, error() {} } });
  const registry = builtinMachines();
  journal.appendRun('run-1', 0, 'test', registry.versions());
  const system = new ActorSystem<LooseCatalog>({ journal, clock: new ManualClock(1_700_000_000_000), registry, random: () => 0.5, run: 'run-1' });
  system.spawn('studio', 'connection', { link: 'net', policy: studioPolicy as unknown as Json });
  system.send('studio', 'net', 'START');
  system.close();
  journal.close();
  return agentDir;
}

/** A name in the shared, sticky temp dir (where uid 65534 can create files). */
function sharedName(): string {
  return join(tmpdir(), `reagent-bugreport-${randomBytes(6).toString('hex')}.ndjson`);
}

async function nobody(script: string): Promise<void> {
  const r = await runAsNobody('sh', ['-c', script]);
  assert.equal(r.code, 0, `as uid ${NOBODY}: ${script}\n${r.stderr}`);
}

test('bugreport options: --force takes no value', () => {
  assert.deepEqual(parseBugreportArgs(['-o', 'r.ndjson', '--force']), { ok: true, args: { out: 'r.ndjson', force: true } });
  assert.match((parseBugreportArgs(['--force=yes']) as { error: string }).error, /--force takes no value/);
});

test('uid 65534 pre-creates the target in /tmp: bugreport refuses and writes nothing into it; a new name gets a 0600 root file', { skip }, async () => {
  const dir = tempDir('reagent-bugreport-out-');
  const planted = sharedName();
  const fresh = sharedName();
  try {
    const agentDir = agentWithJournal(dir);
    await nobody(`umask 000; : > '${planted}' && ln '${planted}' '${planted}.keep'`);
    const refused = runReagent(['-agentDir', agentDir, 'bugreport', '-o', planted], cleanEnv(dir));
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /already exists; give --force to replace it \(nothing was written\)/);
    assert.equal(readFileSync(planted, 'utf8'), '', 'their file received nothing');
    assert.equal(statSync(planted).uid, NOBODY);

    // Control: the same command with a name nobody holds writes the report.
    const ok = runReagent(['-agentDir', agentDir, 'bugreport', '-o', fresh], cleanEnv(dir));
    assert.equal(ok.code, 0, ok.stderr);
    const st = statSync(fresh);
    assert.equal(st.uid, 0);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(readExport(fresh).header.runs.length, 1);

    // --force replaces the name; the planted inode (kept alive by their hard link) still holds nothing.
    const forced = runReagent(['-agentDir', agentDir, 'bugreport', '-o', planted, '--force'], cleanEnv(dir));
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(statSync(planted).uid, 0);
    assert.equal(statSync(planted).mode & 0o777, 0o600);
    assert.equal(readFileSync(`${planted}.keep`, 'utf8'), '', 'never written into their file');
  } finally {
    for (const f of [planted, `${planted}.keep`, fresh]) rmSync(f, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('uid 65534 plants a symlink at the target: bugreport refuses, and --force replaces the link, never its target', { skip }, async () => {
  const dir = tempDir('reagent-bugreport-link-');
  const link = sharedName();
  try {
    const agentDir = agentWithJournal(dir);
    const victim = join(dir, 'precious.conf');
    writeFileSync(victim, 'precious\n', { mode: 0o644 });
    await nobody(`ln -s '${victim}' '${link}'`);
    const refused = runReagent(['-agentDir', agentDir, 'bugreport', '-o', link], cleanEnv(dir));
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /already exists/);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');

    const forced = runReagent(['-agentDir', agentDir, 'bugreport', '-o', link, '--force'], cleanEnv(dir));
    assert.equal(forced.code, 0, forced.stderr);
    assert.ok(lstatSync(link).isFile(), 'the link itself was replaced by the report');
    assert.equal(lstatSync(link).mode & 0o777, 0o600);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n', 'what it pointed at is untouched');
    // A dangling link (to a file root would create) is refused the same way.
    rmSync(link);
    await nobody(`ln -s '${join(dir, 'not-yet')}' '${link}'`);
    assert.equal(runReagent(['-agentDir', agentDir, 'bugreport', '-o', link], cleanEnv(dir)).code, 1);
    assert.equal(existsSync(join(dir, 'not-yet')), false);
  } finally {
    rmSync(link, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a name taken while the report is written is not clobbered; no temporary file is left behind', () => {
  const dir = tempDir('reagent-newfile-');
  try {
    const target = join(dir, 'report.ndjson');
    assert.throws(
      () =>
        writeNewFile(target, (fd) => {
          writeFileSync(fd, 'report');
          writeFileSync(target, 'theirs'); // a racer creates the name mid-write
        }),
      (err: unknown) => err instanceof FileExistsError,
    );
    assert.equal(readFileSync(target, 'utf8'), 'theirs');
    assert.deepEqual(readdirSync(dir), ['report.ndjson']);
    // The mode is exact whatever the umask.
    const old = process.umask(0);
    try {
      writeNewFile(join(dir, 'b'), (fd) => writeFileSync(fd, 'x'));
    } finally {
      process.umask(old);
    }
    assert.equal(statSync(join(dir, 'b')).mode & 0o777, 0o600);
    // A failing writer leaves nothing.
    assert.throws(() => writeNewFile(join(dir, 'c'), () => { throw new Error('boom'); }), /boom/);
    assert.deepEqual(readdirSync(dir).sort(), ['b', 'report.ndjson']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
