import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS, FLAGS, type CommandSpec } from '../../cli/flags.js';
import { renderHelp } from '../../cli/help.js';
import { HOOP_ENV_DOC } from '../../config/hoop-env.js';

const linuxHelp = renderHelp(FLAGS, { platform: 'linux', home: '/home/pi' });

function block(help: string, name: string): string {
  const lines = help.split('\n');
  const start = lines.indexOf(lines.find((l) => l.startsWith(`  -${name} `)) ?? '');
  assert.ok(start >= 0, `no block for -${name}`);
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('    \t')) break;
    body.push(line);
  }
  return body.join('\n');
}

test('starts like Go and lists every flag of the table, with its type, sorted by name', () => {
  assert.ok(linuxHelp.startsWith('Usage of reagent:\n'));
  const headers = linuxHelp.split('\n').filter((l) => /^ {2}-\S+ (string|bool|uint)$/.test(l));
  const names = headers.map((l) => l.trim().split(' ')[0]?.slice(1) ?? '');
  assert.deepEqual(new Set(names), new Set(FLAGS.map((f) => f.name)));
  assert.equal(names.length, FLAGS.length);
  assert.deepEqual(names, [...names].sort());
  for (const spec of FLAGS) assert.ok(headers.includes(`  -${spec.name} ${spec.type}`), spec.name);
});

test('each flag has a tab-indented meaning with its effective default', () => {
  for (const spec of FLAGS) assert.match(block(linuxHelp, spec.name), /\(default [^)]+\)/, spec.name);
  assert.match(block(linuxHelp, 'connTimeout'), /^ {4}\t.*\(default 1250\)$/m);
  assert.match(block(linuxHelp, 'compressedBuildExtension'), /\(default "tgz"\)/);
  assert.match(block(linuxHelp, 'update'), /\(default true\)/);
  assert.match(block(linuxHelp, 'inspect'), /"127\.0\.0\.1:9230" when given without a value/);
});

test('path defaults depend on the platform and follow the agent dir', () => {
  assert.match(block(linuxHelp, 'agentDir'), /\(default "\/opt\/reagent"\)/);
  assert.match(block(linuxHelp, 'appsDir'), /\(default "\/opt\/reagent\/apps"\)/);
  assert.match(block(linuxHelp, 'logFile'), /\(default "\/opt\/reagent\/reagent\.log"\)/);
  const mac = renderHelp(FLAGS, { platform: 'darwin', home: '/Users/me' });
  assert.match(block(mac, 'agentDir'), /\(default "\/Users\/me\/reagent"\)/);
  assert.match(block(mac, 'appsDir'), /\(default "\/Users\/me\/reagent\/apps"\)/);
});

test('says where we deliberately differ from the Reagent', () => {
  assert.match(block(linuxHelp, 'respTimeout'), /README says 5000.*7000/);
  assert.match(block(linuxHelp, 'debug'), /Reagent defaults to true/);
  assert.match(block(linuxHelp, 'debug'), /SD card/);
  assert.match(block(linuxHelp, 'debug'), /LOG_LEVEL=DEBUG/);
  assert.match(block(linuxHelp, 'appsDir'), /follows -agentDir/);
  assert.match(block(linuxHelp, 'dbFileName'), /inside -agentDir/);
  assert.match(block(linuxHelp, 'config'), /re-saves this file.*we only read it/);
  assert.match(block(linuxHelp, 'ppTimeout'), /5000/);
});

test('lists the commands and the gateway environment with defaults', () => {
  const [, commands = ''] = linuxHelp.split('\nCommands');
  for (const c of COMMANDS as readonly CommandSpec[]) {
    const line = new RegExp(`^ {2}${[c.name, ...c.args].join(' ')} +\\S`, 'm');
    if (c.hidden) assert.doesNotMatch(commands, line, `${c.name} is hidden`);
    else assert.match(commands, line, c.name);
  }
  const [, environment = ''] = linuxHelp.split('\nEnvironment (gateway link):\n');
  for (const name of ['HOOP_GRPCURL', 'HOOP_TOKEN', 'HOOP_KEY', 'TLS_SERVER_NAME', 'AUTO_REGISTER', 'LOG_ENCODING', 'LOG_LEVEL', 'LOG_GRPC']) {
    assert.match(environment, new RegExp(`^ {2}${name} +.*\\(default [^)]+\\)$`, 'm'), name);
  }
  assert.match(environment, /LOG_ENCODING .*\(default json\)/);
  assert.match(environment, /LOG_LEVEL .*\(default INFO\)/);
  assert.equal(environment.trim().split('\n').length, HOOP_ENV_DOC.length);
});
