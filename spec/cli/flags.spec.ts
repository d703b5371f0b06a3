import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { posix } from 'node:path';
import { FLAGS, parseFlags, camelCase, type FlagSpec, type HostInfo, type ParseResult } from '../../cli/flags.js';

const linux: HostInfo = { platform: 'linux', home: '/home/pi' };
const mac: HostInfo = { platform: 'darwin', home: '/Users/me' };

function ok(result: ParseResult): Extract<ParseResult, { ok: true }> {
  if (!result.ok) assert.fail(`expected success, got: ${result.error}`);
  return result;
}

function err(result: ParseResult): string {
  if (result.ok) assert.fail(`expected an error, got ${JSON.stringify(result.flags)}`);
  return result.error;
}

test('defaults follow the real Reagent code, except -debug', () => {
  const { flags, command, positionals } = ok(parseFlags([], {}, linux));
  assert.equal(command, null);
  assert.deepEqual(positionals, []);
  assert.equal(flags.agentDir, '/opt/reagent');
  assert.equal(flags.appsDir, '/opt/reagent/apps');
  assert.equal(flags.dbFileName, '/opt/reagent/reagent.db');
  assert.equal(flags.logFile, '/opt/reagent/reagent.log');
  assert.equal(flags.compressedBuildExtension, 'tgz');
  assert.equal(flags.connTimeout, 1250);
  assert.equal(flags.ppTimeout, 5000);
  assert.equal(flags.respTimeout, 7000);
  assert.equal(flags.profilingPort, 80);
  assert.equal(flags.remoteUpdateURL, 'https://storage.googleapis.com');
  assert.equal(flags.env, 'production');
  assert.equal(flags.update, true);
  assert.equal(flags.nmw, true);
  assert.equal(flags.debug, false);
  assert.equal(flags.debugGrpc, false);
  assert.equal(flags.inspect, null);
  assert.equal(flags.config, '');
});

test('away from Linux the agent dir is under the home directory', () => {
  const { flags } = ok(parseFlags([], {}, mac));
  assert.equal(flags.agentDir, '/Users/me/reagent');
  assert.equal(flags.appsDir, '/Users/me/reagent/apps');
  const win = ok(parseFlags([], {}, { platform: 'win32', home: 'C:\\Users\\me' })).flags;
  assert.equal(win.agentDir, 'C:\\Users\\me\\reagent');
  assert.equal(win.dbFileName, 'C:\\Users\\me\\reagent\\reagent.db');
});

test('appsDir, logFile and a relative dbFileName follow a custom -agentDir (the Reagent bug)', () => {
  const { flags } = ok(parseFlags(['-agentDir', '/data/agent', '-dbFileName', 'state.db'], {}, linux));
  assert.equal(flags.appsDir, '/data/agent/apps');
  assert.equal(flags.logFile, '/data/agent/reagent.log');
  assert.equal(flags.dbFileName, '/data/agent/state.db');
});

test('an absolute dbFileName and an explicit appsDir are kept as given', () => {
  const { flags } = ok(parseFlags(['-agentDir=/data/agent', '-dbFileName=/var/lib/r.db', '-appsDir', '/srv/apps'], {}, linux));
  assert.equal(flags.dbFileName, '/var/lib/r.db');
  assert.equal(flags.appsDir, '/srv/apps');
});

test('Go spellings: -config x, -config=x, -update=false, bare -offline, and --double-dash', () => {
  const { flags } = ok(parseFlags(['-config', 'a.flock', '-update=false', '-offline', '--prettyLogging', '--connTimeout=0'], {}, linux));
  assert.equal(flags.config, 'a.flock');
  assert.equal(flags.update, false);
  assert.equal(flags.offline, true);
  assert.equal(flags.prettyLogging, true);
  assert.equal(flags.connTimeout, 0);
});

test('bools accept strconv.ParseBool spellings and reject others', () => {
  assert.equal(ok(parseFlags(['-nmw=0'], {}, linux)).flags.nmw, false);
  assert.equal(ok(parseFlags(['-nmw=F'], {}, linux)).flags.nmw, false);
  assert.equal(ok(parseFlags(['-debug=1'], {}, linux)).flags.debug, true);
  assert.match(err(parseFlags(['-nmw=no'], {}, linux)), /^invalid value "no" for flag -nmw: expected true or false$/);
});

test('a bool never swallows the next word (Go semantics): -update false leaves "false" as a stray argument', () => {
  assert.match(err(parseFlags(['-update', 'false'], {}, linux)), /unknown command "false"/);
});

test('the last occurrence of a flag wins, as in Go', () => {
  assert.equal(ok(parseFlags(['-env', 'test', '-env', 'local'], {}, linux)).flags.env, 'local');
});

test('unknown flags are named Go-style with a hint to -help', () => {
  const message = err(parseFlags(['-foo'], {}, linux));
  assert.match(message, /^flag provided but not defined: -foo/);
  assert.match(message, /-help/);
  assert.match(err(parseFlags(['--foo=1'], {}, linux)), /^flag provided but not defined: -foo/);
  // yargs would have split this into -c -o -n ...; we do not.
  assert.match(err(parseFlags(['-conf', 'x'], {}, linux)), /not defined: -conf/);
  assert.match(err(parseFlags(['---config'], {}, linux)), /bad flag syntax/);
});

test('uint flags reject negatives and non-integers, naming the flag and the unit', () => {
  assert.equal(err(parseFlags(['-connTimeout', 'abc'], {}, linux)), 'invalid value "abc" for flag -connTimeout: expected a non-negative integer (milliseconds)');
  assert.match(err(parseFlags(['-connTimeout', '-5'], {}, linux)), /invalid value "-5" for flag -connTimeout/);
  assert.match(err(parseFlags(['-respTimeout=1.5'], {}, linux)), /invalid value "1.5" for flag -respTimeout/);
  assert.match(err(parseFlags(['-profilingPort=65536'], {}, linux)), /-profilingPort: expected a non-negative integer \(port number/);
});

test('a flag that needs a value at the end of the line is an error', () => {
  assert.equal(err(parseFlags(['-config'], {}, linux)), 'flag needs an argument: -config');
});

test('-env is validated', () => {
  assert.equal(err(parseFlags(['-env=staging'], {}, linux)), 'invalid value "staging" for flag -env: expected one of production, test, local');
});

test('-inspect takes an optional HOST:PORT and defaults to loopback', () => {
  assert.equal(ok(parseFlags(['-inspect'], {}, linux)).flags.inspect, '127.0.0.1:9230');
  assert.equal(ok(parseFlags(['--inspect=0.0.0.0:9000'], {}, linux)).flags.inspect, '0.0.0.0:9000');
  assert.equal(ok(parseFlags(['-inspect=9231'], {}, linux)).flags.inspect, '127.0.0.1:9231');
  assert.match(err(parseFlags(['-inspect=nope'], {}, linux)), /for flag -inspect: expected HOST:PORT/);
  // A bare -inspect does not eat the command after it.
  assert.equal(ok(parseFlags(['-inspect', 'bugreport'], {}, linux)).command, 'bugreport');
});

test('-h and -help are the same flag', () => {
  assert.equal(ok(parseFlags(['-h'], {}, linux)).flags.help, true);
  assert.equal(ok(parseFlags(['--help'], {}, linux)).flags.help, true);
});

test('LOG_LEVEL=DEBUG|TRACE and LOG_GRPC=1|2 switch debug on unless the flag says otherwise', () => {
  assert.equal(ok(parseFlags([], { LOG_LEVEL: 'DEBUG' }, linux)).flags.debug, true);
  assert.equal(ok(parseFlags([], { LOG_LEVEL: 'trace' }, linux)).flags.debug, true);
  assert.equal(ok(parseFlags([], { LOG_LEVEL: 'INFO' }, linux)).flags.debug, false);
  assert.equal(ok(parseFlags(['-debug=false'], { LOG_LEVEL: 'DEBUG' }, linux)).flags.debug, false);
  assert.equal(ok(parseFlags([], { LOG_GRPC: '2' }, linux)).flags.debugGrpc, true);
  assert.equal(ok(parseFlags([], { LOG_GRPC: '0' }, linux)).flags.debugGrpc, false);
  assert.equal(ok(parseFlags(['-debug-grpc'], {}, linux)).flags.debugGrpc, true);
});

test('subcommands are recognised, with their arguments', () => {
  // Global flags go before the command; what follows `replay` is replay's own to parse.
  const replay = ok(parseFlags(['-debug', 'replay', 'run.jsonl', '--until', '5', '-json'], {}, linux));
  assert.equal(replay.command, 'replay');
  assert.deepEqual(replay.positionals, ['run.jsonl', '--until', '5', '-json']);
  assert.equal(replay.flags.debug, true);
  assert.equal(ok(parseFlags(['start', 'agent'], {}, linux)).command, 'start agent');
  for (const name of ['bugreport', 'gateway', 'admin', 'connect', 'exec'] as const) {
    assert.equal(ok(parseFlags([name], {}, linux)).command, name);
  }
  // exec parses its own options: the `--` that ends them reaches it.
  const exec = ok(parseFlags(['exec', 'pg', '--gateway', '127.0.0.1:8010', '--', 'psql', '-c', 'select 1'], {}, linux));
  assert.equal(exec.command, 'exec');
  assert.deepEqual(exec.positionals, ['pg', '--gateway', '127.0.0.1:8010', '--', 'psql', '-c', 'select 1']);
});

test('stray or malformed positionals are errors', () => {
  assert.match(err(parseFlags(['frobnicate'], {}, linux)), /^unknown command "frobnicate"; commands: replay, start agent/);
  assert.match(err(parseFlags(['start'], {}, linux)), /unknown command "start"/);
  assert.match(err(parseFlags(['start', 'gateway'], {}, linux)), /unknown command "start gateway"/);
  assert.match(err(parseFlags(['start', 'agent', 'x'], {}, linux)), /^start agent: unexpected argument "x"/);
});

// ---- properties ----

const table: readonly FlagSpec[] = FLAGS;
const valueFlags = table.filter((spec) => spec.type !== 'bool');
const boolFlags = table.filter((spec) => spec.type === 'bool');

function validValue(spec: FlagSpec): fc.Arbitrary<string> {
  if (spec.type === 'uint') return fc.integer({ min: 0, max: spec.max ?? Number.MAX_SAFE_INTEGER }).map(String);
  if (spec.choices) return fc.constantFrom(...spec.choices);
  if (spec.bareValue !== undefined) {
    return fc.tuple(fc.constantFrom('127.0.0.1', '0.0.0.0', 'localhost', '[::1]'), fc.integer({ min: 0, max: 65535 })).map(([h, p]) => `${h}:${p}`);
  }
  if (spec.hostList) {
    const host = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6());
    return fc.array(host, { maxLength: 4 }).map((hosts) => hosts.join(','));
  }
  // Any text, including text that starts with a dash or holds '=': Go takes the next word as the value.
  return fc.string({ maxLength: 30 });
}

test('property: every value flag parses the same from -f v, -f=v, --f v and --f=v', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...valueFlags).chain((spec) => fc.tuple(fc.constant(spec), validValue(spec))),
      ([spec, value]) => {
        // -inspect's value must be attached: a bare -inspect means the default.
        const spellings = spec.bareValue !== undefined
          ? [[`-${spec.name}=${value}`], [`--${spec.name}=${value}`]]
          : [[`-${spec.name}`, value], [`-${spec.name}=${value}`], [`--${spec.name}`, value], [`--${spec.name}=${value}`]];
        const results = spellings.map((argv) => ok(parseFlags(argv, {}, linux)));
        const key = camelCase(spec.name) as keyof (typeof results)[number]['flags'];
        for (const r of results) assert.deepEqual(r, results[0]);
        const parsed = results[0]?.flags[key];
        if (spec.type === 'uint') assert.equal(parsed, Number(value));
        else if (spec.name === 'dbFileName') assert.equal(parsed, posix.isAbsolute(value) ? value : posix.join('/opt/reagent', value));
        else if (spec.hostList) assert.equal(parsed, String(value).toLowerCase());
        else if (spec.bareValue === undefined) assert.equal(parsed, value);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: every bool flag parses the same from -f, -f=true, --f, --f=true, and -f=false from --f=false', () => {
  fc.assert(
    fc.property(fc.constantFrom(...boolFlags), fc.boolean(), (spec, value) => {
      const spellings = value
        ? [[`-${spec.name}`], [`--${spec.name}`], [`-${spec.name}=true`], [`--${spec.name}=true`], [`-${spec.name}=1`]]
        : [[`-${spec.name}=false`], [`--${spec.name}=false`], [`-${spec.name}=0`]];
      const results = spellings.map((argv) => ok(parseFlags(argv, {}, linux)));
      for (const r of results) assert.deepEqual(r, results[0]);
      assert.equal(results[0]?.flags[camelCase(spec.name) as 'debug'], value);
    }),
  );
});

test('property: any uint text that is not a non-negative integer is rejected, naming the flag', () => {
  const uintFlags = table.filter((spec) => spec.type === 'uint');
  const notUint = fc.oneof(
    fc.integer({ max: -1 }).map(String),
    fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)).map(String),
    fc.string().filter((s) => !/^\d+$/.test(s)),
    fc.constantFrom('', ' 1', '1 ', '+1', '0x10', '1e3', '9007199254740993'),
  );
  fc.assert(
    fc.property(fc.constantFrom(...uintFlags), notUint, fc.boolean(), (spec, text, attached) => {
      const argv = attached ? [`-${spec.name}=${text}`] : [`-${spec.name}`, text];
      const message = err(parseFlags(argv, {}, linux));
      assert.ok(message.startsWith(`invalid value ${JSON.stringify(text)} for flag -${spec.name}: expected a non-negative integer`), message);
    }),
    { numRuns: 300 },
  );
});
