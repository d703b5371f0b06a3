// `reagent service` and `reagent agent`: the unit `install --dry-run` prints
// is checked by systemd itself (`systemd-analyze verify`, Debian's systemd),
// the install plan by what it writes and refuses. systemd is not PID 1 on
// this machine or in CI, so daemon-reload/enable/restart are checked as the
// ordered calls the command makes (a recording host), and the no-systemd
// path runs for real.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { MAIN, requireBuild } from '../helpers/cli.js';
import { missingPeer, tempDir } from '../helpers/executables.js';
import { parseInstallArgs, planInstall, runServiceCommand, type ServiceIo } from '../../cli/service-command.js';
import { quoteArg, renderEnvironmentFile } from '../../adapters/systemd/unit.js';
import type { SystemdHost } from '../../adapters/systemd/host.js';

const dirs: string[] = [];
const temp = () => {
  const d = tempDir('reagent-svc-');
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const noAnalyze = analyze.error ? 'systemd-analyze is not installed (Debian systemd)' : null;

/** systemd's own verdict on a unit: [exit code, messages]. */
function verify(unit: string): [number | null, string] {
  const dir = temp();
  const file = join(dir, 'reagent.service');
  writeFileSync(file, unit);
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return [r.status, `${r.stdout}${r.stderr}`.trim()];
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  requireBuild();
  const r = spawnSync(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH, HOME: temp(), ...env }, encoding: 'utf8', cwd: temp() });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('service install --dry-run', () => {
  it('prints a unit systemd-analyze verify accepts without a word, for every sandbox level', (t) => {
    if (noAnalyze) return missingPeer(t, noAnalyze);
    const flock = join(temp(), 'device.flock');
    writeFileSync(flock, '{}');
    for (const extra of [[], ['--sandbox', 'full'], ['--sandbox=off', '--watchdog', '0'], ['-appsDir', '/srv/apps', '-noStart', '-proxy', 'http://proxy.lan:3128', '--', '-debug', '-logFile', '/var/log/reagent/reagent.log']]) {
      const r = cli(['service', 'install', '--dry-run', '-config', flock, '-agentDir', '/opt/reagent', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      const [code, messages] = verify(r.stdout);
      assert.equal(messages, '', `systemd-analyze verify (${extra.join(' ')}):\n${messages}\n${r.stdout}`);
      assert.equal(code, 0);
    }
  });

  it('runs this executable with the flags given, restarts always, after Docker and the network, with readiness and a watchdog', () => {
    const flock = join(temp(), 'device.flock');
    const r = cli(['service', 'install', '--dry-run', '-config', flock, '-agentDir', '/opt/reagent', '-appsDir', '/srv/apps', '--', '-debug', '-logFile', '/var/log/reagent/reagent.log']);
    assert.equal(r.code, 0, r.stderr);
    const line = (key: string) => r.stdout.split('\n').filter((l) => l.startsWith(`${key}=`));
    assert.deepEqual(line('ExecStart'), [`ExecStart=${process.execPath} ${MAIN} -config ${flock} -agentDir /opt/reagent -appsDir /srv/apps -debug -logFile /var/log/reagent/reagent.log`]);
    assert.deepEqual(line('Restart'), ['Restart=always']);
    assert.deepEqual(line('StartLimitIntervalSec'), ['StartLimitIntervalSec=0']);
    assert.deepEqual(line('After'), ['After=network-online.target docker.service']);
    assert.deepEqual(line('Wants'), ['Wants=network-online.target docker.service']);
    assert.deepEqual([...line('Type'), ...line('NotifyAccess'), ...line('WatchdogSec')], ['Type=notify', 'NotifyAccess=all', 'WatchdogSec=60']);
    assert.deepEqual(line('ProtectSystem'), ['ProtectSystem=strict']);
    assert.deepEqual(line('ReadWritePaths'), ['ReadWritePaths=/opt/reagent /srv/apps /var/log/reagent -/root/.hoop']);
    assert.deepEqual(line('NoNewPrivileges'), [], 'root sessions may need sudo and file capabilities');
    assert.deepEqual(line('MemoryDenyWriteExecute'), [], "V8's JIT needs writable code pages");
    assert.match(r.stderr, /would write \/etc\/systemd\/system\/reagent\.service \(0644\)/);
    const off = cli(['service', 'install', '--dry-run', '-config', flock, '--sandbox', 'off', '--watchdog', '0']);
    assert.doesNotMatch(off.stdout, /^(ProtectSystem|ReadWritePaths|PrivateTmp|WatchdogSec)=/m);
  });

  it('keeps gateway credentials and the proxy out of the unit, for the 0600 environment file', () => {
    const secret = 'grpcs://runner:xagt-0123456789abcdef@gw.example:8443?mode=standard';
    const r = cli(['service', 'install', '--dry-run', '-proxy', 'http://user:pw@proxy.lan:3128'], { HOOP_KEY: secret });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('xagt-') && !r.stderr.includes('xagt-'), 'the token leaked');
    assert.ok(!r.stdout.includes('pw@') && !r.stderr.includes('pw@'), 'the proxy password leaked');
    assert.match(r.stdout, /^EnvironmentFile=-\/etc\/reagent\/reagent\.env$/m);
    assert.match(r.stderr, /would write \/etc\/reagent\/reagent\.env \(0600\) with HOOP_KEY, HTTPS_PROXY, https_proxy, HTTP_PROXY, http_proxy, NO_PROXY, no_proxy/);
  });

  it('"agent start" (hoop\'s spelling) installs the gateway link alone', () => {
    const r = cli(['agent', 'start', '--dry-run'], { HOOP_KEY: 'grpcs://a:xagt-1@gw:8010' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ExecStart=.* -agentDir \/opt\/reagent start agent$/m);
  });

  it('refuses what would not run: nothing to connect to, bad daemon flags, a command, relative paths, a bad proxy', () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /nothing to connect to: give -config/],
      [['--', '-connTimeout', 'soon'], /daemon flags: invalid value "soon" for flag -connTimeout/],
      [['--', '-offline', 'replay', 'x.db'], /daemon flags: .*replay/],
      [['--', '-offline', '-logFile', 'rel.log'], /-logFile must be an absolute path/],
      [['-proxy', 'socks5://u:secretpw@p:1080', '--', '-offline'], /-proxy: expected an http:\/\/ or https:\/\/ URL, got "socks5:\/\/\[REDACTED\]@p:1080"/],
      [['--sandbox', 'paranoid', '--', '-offline'], /--sandbox: expected one of strict, full, off/],
      [['--watchdog', '-1', '--', '-offline'], /--watchdog: expected seconds/],
      [['-confg', 'x'], /flag provided but not defined: -confg/],
    ];
    for (const [args, message] of cases) {
      const r = cli(['service', 'install', '--dry-run', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.ok(!r.stderr.includes('secretpw'));
    }
    assert.equal(cli(['service', 'install', '--dry-run', '--', '-offline']).code, 0);
    assert.equal(cli(['service', 'frobnicate']).code, 2);
  });
});

describe('service on a machine without systemd', () => {
  it('says so in one line and writes nothing', (t) => {
    if (existsSync('/run/systemd/system')) return t.skip('systemd runs here: this is the other machine');
    for (const args of [['service', 'install', '--', '-offline'], ['service', 'status'], ['service', 'uninstall'], ['agent', 'stop']]) {
      const r = cli(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /this machine does not run systemd \(no \/run\/systemd\/system\)/);
    }
  });
});

describe('service install and uninstall, on a recording systemd', () => {
  function host(root = true): SystemdHost & { calls: string[] } {
    const calls: string[] = [];
    return { calls, booted: () => true, isRoot: () => root, run: (cmd, args) => (calls.push([cmd, ...args].join(' ')), { code: 0, output: '' }) };
  }
  function io(h: SystemdHost, env: NodeJS.ProcessEnv = {}, self = ['/usr/bin/true']) {
    const base = temp();
    const out: string[] = [];
    const err: string[] = [];
    const value: ServiceIo = {
      out: (s) => out.push(s),
      err: (s) => err.push(s),
      env,
      cwd: base,
      self,
      version: '9.9.9',
      systemd: h,
      paths: { unitDir: join(base, 'etc/systemd/system'), envFile: join(base, 'etc/reagent/reagent.env'), home: join(base, 'root') },
    };
    return { io: value, base, out, err };
  }

  // The test's files live in the temp dir, which the strict sandbox would hide: --sandbox full.
  it('writes the unit 0644 and the credentials 0600, then reloads, enables and (re)starts', () => {
    const h = host();
    const { io: ctx, base, err } = io(h, { HOOP_KEY: 'grpcs://a:xagt-2@gw:8010', HOOP_TLS_SKIP_VERIFY: 'true', UNRELATED: 'x' });
    const agentDir = join(base, 'opt/reagent');
    assert.equal(runServiceCommand('service', ['install', '-agentDir', agentDir, '--sandbox', 'full', '-proxy', 'https://proxy:3128'], ctx), 0, err.join('\n'));
    const unit = join(base, 'etc/systemd/system/reagent.service');
    const env = join(base, 'etc/reagent/reagent.env');
    assert.equal(statSync(unit).mode & 0o777, 0o644);
    assert.equal(statSync(env).mode & 0o777, 0o600);
    // A single executable is copied into the agent dir and runs from `current`, which the self-update swaps;
    // the last good version judges a new one before each start.
    assert.match(readFileSync(unit, 'utf8'), new RegExp(`^ExecStart=${agentDir}/current/reagent -agentDir ${agentDir}$`, 'm'));
    assert.match(readFileSync(unit, 'utf8'), new RegExp(`^ExecStartPre=-${agentDir}/known-good/reagent -agentDir ${agentDir} update-guard$`, 'm'));
    assert.equal(readlinkSync(join(agentDir, 'current')), 'versions/9.9.9');
    assert.equal(readlinkSync(join(agentDir, 'known-good')), 'versions/9.9.9');
    assert.deepEqual(readFileSync(join(agentDir, 'versions/9.9.9/reagent')), readFileSync('/usr/bin/true'));
    assert.equal(statSync(join(agentDir, 'versions/9.9.9/reagent')).mode & 0o777, 0o755);
    const vars = readFileSync(env, 'utf8');
    assert.match(vars, /^HOOP_KEY="grpcs:\/\/a:xagt-2@gw:8010"$/m);
    assert.match(vars, /^HOOP_TLS_SKIP_VERIFY="true"$/m);
    assert.match(vars, /^https_proxy="https:\/\/proxy:3128"$/m);
    assert.doesNotMatch(vars, /UNRELATED/);
    assert.ok(statSync(agentDir).isDirectory());
    assert.deepEqual(h.calls, ['systemctl daemon-reload', 'systemctl enable reagent.service', 'systemctl restart reagent.service']);

    // Again without credentials and with -noStart: the old credentials go, nothing starts.
    const again = host();
    assert.equal(runServiceCommand('service', ['install', '-agentDir', agentDir, '--sandbox', 'full', '-noStart', '--', '-offline'], { ...ctx, env: {}, systemd: again }), 0);
    assert.ok(!existsSync(env));
    assert.deepEqual(again.calls, ['systemctl daemon-reload', 'systemctl enable reagent.service']);

    const gone = host();
    assert.equal(runServiceCommand('agent', ['remove'], { ...ctx, systemd: gone }), 0);
    assert.ok(!existsSync(unit));
    assert.deepEqual(gone.calls, ['systemctl disable --now reagent.service', 'systemctl daemon-reload']);
    assert.ok(statSync(agentDir).isDirectory(), 'uninstall keeps the agent dir');
  });

  it('refuses to run, as root, an executable another user can replace; and refuses without root', (t) => {
    const { io: ctx, base, err } = io(host());
    const exe = join(base, 'reagent');
    writeFileSync(exe, '#!/bin/sh\n');
    chmodSync(exe, 0o755);
    if (process.getuid?.() !== 0) return t.skip('needs root to give the file to another user');
    chownSync(exe, 65534, 65534);
    assert.equal(runServiceCommand('service', ['install', '--sandbox', 'full', '--', '-offline'], { ...ctx, self: [exe] }), 1);
    assert.match(err.join('\n'), new RegExp(`refusing: ${exe} is owned by uid 65534, not root`));
    // The positive control: the same file owned by root, not group-writable, is accepted.
    chownSync(exe, 0, 0);
    err.length = 0;
    assert.equal(runServiceCommand('service', ['install', '-agentDir', join(base, 'agent'), '--sandbox', 'full', '--', '-offline'], { ...ctx, self: [exe] }), 0, err.join('\n'));
    chmodSync(exe, 0o775);
    assert.equal(runServiceCommand('service', ['install', '-agentDir', join(base, 'agent'), '--sandbox', 'full', '--', '-offline'], { ...ctx, self: [exe] }), 1);
    assert.match(err.join('\n'), /is writable by its group/);

    const user = io(host(false));
    assert.equal(runServiceCommand('service', ['install', '--', '-offline'], user.io), 1);
    assert.match(user.err.join('\n'), /must run as root/);
    assert.ok(!existsSync(join(user.base, 'etc')));
  });

  it('refuses agent files under /tmp for the strict sandbox, whose /tmp is private', () => {
    const plan = planInstall(parseInstallArgs(['-agentDir', '/tmp/reagent-agent', '--', '-offline'], { cwd: '/' }, false), { env: {}, self: ['/usr/bin/true'], version: 'x' });
    assert.match(plan.unsafe.join('\n'), /\/tmp\/reagent-agent is under a \/tmp the service cannot see/);
    const full = planInstall(parseInstallArgs(['-agentDir', '/tmp/reagent-agent', '--sandbox', 'full', '--', '-offline'], { cwd: '/' }, false), { env: {}, self: ['/usr/bin/true'], version: 'x' });
    assert.deepEqual(full.unsafe, []);
  });
});

describe('systemd quoting', () => {
  it('an executable path with spaces and % survives: systemd-analyze finds and checks the file', (t) => {
    if (noAnalyze) return missingPeer(t, noAnalyze);
    const dir = join(temp(), 'with space 100%');
    mkdirSync(dir);
    symlinkSync('/usr/bin/true', join(dir, 'reagent agent'));
    const unit = `[Service]\nType=simple\nExecStart=${quoteArg(join(dir, 'reagent agent'), true)} ${quoteArg('a "b" $HOME 5%', true)}\n`;
    assert.deepEqual(verify(unit), [0, '']);
    // The control: unquoted, systemd splits the path and cannot find the executable.
    const [code, messages] = verify(`[Service]\nType=simple\nExecStart=${join(dir, 'reagent agent')}\n`);
    assert.notEqual(code, 0);
    assert.match(messages, /not executable|No such file/);
  });

  it('property: a quoted word unquotes, by systemd.syntax(7) rules, to itself', () => {
    const unquote = (word: string, command: boolean): string => {
      const inner = word.startsWith('"') ? word.slice(1, -1).replace(/\\(.)/g, '$1') : word;
      const specifiers = inner.replace(/%%/g, '%');
      return command ? specifiers.replace(/\$\$/g, '$') : specifiers;
    };
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: fc.constantFrom(...'ab /\\"\'%$;:=-_.é') }), fc.boolean(), (s, command) => {
        const q = quoteArg(s, command);
        assert.equal(unquote(q, command), s);
        if (!q.startsWith('"')) assert.match(q, /^[^\s"'\\;]+$/);
      }),
      { numRuns: 500 },
    );
    assert.throws(() => quoteArg('a\nb'), /control character/);
  });

  it('environment files quote values and refuse line breaks', () => {
    const text = renderEnvironmentFile(new Map([['A', 'x"y\\z $HOME `id`']]), '1');
    assert.match(text, /^A="x\\"y\\\\z \\\$HOME \\`id\\`"$/m);
    assert.throws(() => renderEnvironmentFile(new Map([['A', 'x\ny']]), '1'), /line break/);
    assert.throws(() => renderEnvironmentFile(new Map([['A-B', 'x']]), '1'), /expected letters/);
  });
});
