// Hostile configuration (issue 11): thousands of generated `.flock` files and
// hoop environments, each with a planted secret (the device secret or the
// gateway token) that is also pasted into other fields, in the wrong types,
// inside broken JSON. Every one goes through `runCli` in-process, and a sample
// through the built CLI as a real process. For all of them: no stack trace,
// no hang, and no piece of the secret (any 6 characters of it) on stdout,
// stderr or in the log file. Before, a secret in a wrong-typed field was
// quoted up to 40 characters, and a token pasted into LOG_LEVEL whole.
//
// Generation is seeded (REAGENT_FUZZ_SEED overrides it), so a failure names a
// case that can be rerun.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type CliIo } from '../../cli/run.js';
import { MAIN, requireBuild, tempDir } from '../helpers/cli.js';

const SEED = Number(process.env.REAGENT_FUZZ_SEED ?? 0x5ecda7a);
const FLOCK_CASES = 2000;
const ENV_CASES = 500;
const PROCESS_FLOCK_SAMPLE = 60;
const PROCESS_ENV_SAMPLE = 30;
/** Bound of one run: a config problem is found in milliseconds, a daemon starts and stops in well under a second. */
const CASE_TIMEOUT_MS = 30_000;

const root = tempDir('reagent-hostile-');
after(() => rmSync(root, { recursive: true, force: true }));

// ---------------------------------------------------------------- generation

type Rng = () => number;

function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (r: Rng, p: number) => r() < p;

const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A secret like the real ones (base62/base64 characters), with a '+' or '~'
 * in every 5 characters: every 6-character piece of it then holds a character
 * ordinary output (JSON logs, ISO times, UUIDs) does not, so a piece found in
 * the output is a leak, not a coincidence. None of its characters is escaped
 * by JSON or by URL parsing, so a leak cannot hide behind an escape either.
 */
function makeSecret(r: Rng): string {
  const n = 20 + Math.floor(r() * 24);
  let s = '';
  for (let i = 0; i < n; i++) s += i % 5 === 2 ? pick(r, ['+', '~']) : pick(r, [...B62]);
  return s;
}

/** How the secret is pasted into a field. */
function wrapped(r: Rng, secret: string): unknown {
  switch (Math.floor(r() * 9)) {
    case 0:
      return secret;
    case 1:
      return `${secret}\n`;
    case 2:
      return ` ${secret} `;
    case 3:
      return `wss://${secret}/ws`;
    case 4:
      return `http://user:${secret}@host:1/`;
    case 5:
      return [secret];
    case 6:
      return { value: secret };
    case 7:
      return `prefix-${secret}-suffix`;
    default:
      return `${secret}${secret}`;
  }
}

const FLOCK_FIELDS = [
  'device_endpoint_url',
  'secret',
  'swarm_key',
  'device_key',
  'serial_number',
  'name',
  'swarm_name',
  'swarm_owner_name',
  'environment',
  'docker_registry_url',
  'docker_main_repository',
  'appliance_domain',
  'update_url',
  'board',
  'authentication',
  'insecure-registries',
  'password',
  'config_passphrase',
  'wlanssid',
] as const;

function validFlock(r: Rng, secret: string): Record<string, unknown> {
  return {
    device_endpoint_url: pick(r, ['wss://cbw.ironflock.com/ws-re-dev', 'ws://127.0.0.1:1/ws', 'wss://devices.example.com:8080/ws']),
    secret,
    swarm_key: Math.floor(r() * 1000),
    device_key: Math.floor(r() * 100000),
    serial_number: `sn-${Math.floor(r() * 1e9).toString(16)}`,
    name: 'fuzz-device',
    ...(chance(r, 0.5) ? { environment: pick(r, ['production', 'test', 'local']) } : {}),
    ...(chance(r, 0.5) ? { docker_registry_url: 'registry.reswarm.io/', docker_main_repository: 'apps/' } : {}),
    ...(chance(r, 0.3) ? { authentication: { key: '-----BEGIN PRIVATE KEY-----x', certificate: '-----BEGIN CERTIFICATE-----y' } } : {}),
    ...(chance(r, 0.3) ? { board: { model: 'pi4' } } : {}),
    ...(chance(r, 0.3) ? { 'insecure-registries': ['10.0.0.1:5000'] } : {}),
  };
}

/** Ways to break the JSON text itself, some of them inside the secret. */
function breakText(r: Rng, text: string, secret: string): string | Buffer {
  const at = text.indexOf(secret);
  switch (Math.floor(r() * 9)) {
    case 0: // cut short, maybe mid-secret
      return text.slice(0, Math.floor(r() * text.length));
    case 1:
      return at >= 0 ? text.slice(0, at + Math.floor(secret.length / 2)) : text.slice(0, -1);
    case 2: // the secret unquoted
      return text.replace(JSON.stringify(secret), secret);
    case 3: // a raw control character inside the secret's string
      return at >= 0 ? `${text.slice(0, at + 3)}\u0001${text.slice(at + 3)}` : `${text}\u0000`;
    case 4: // a trailing comma
      return text.replace(/}$/, ',}');
    case 5: // single quotes
      return text.replaceAll('"', "'");
    case 6: // not UTF-8
      return Buffer.concat([Buffer.from(text.slice(0, text.length >> 1)), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(text.slice(text.length >> 1))]);
    case 7: // a BOM and a comment
      return `\ufeff// device\n${text}`;
    default: // deep nesting around it
      return `${'['.repeat(5000)}${JSON.stringify(secret)}${']'.repeat(4999)}`;
  }
}

interface FlockCase {
  index: number;
  secret: string;
  content: string | Buffer;
}

function flockCase(index: number): FlockCase {
  const r = mulberry32(SEED ^ (index * 2654435761));
  const secret = makeSecret(r);
  const config = validFlock(r, secret);
  // Paste the secret into 0-3 other places, in any type.
  const pastes = Math.floor(r() * 4);
  for (let i = 0; i < pastes; i++) {
    const field = pick(r, FLOCK_FIELDS);
    if (field === 'secret') continue;
    config[field] = wrapped(r, secret);
  }
  // Sometimes the secret field itself is the broken one (the secret then sits elsewhere too).
  if (chance(r, 0.15)) {
    config['password'] = secret;
    config['secret'] = pick(r, [[secret], { secret }, '', 42, null, true]);
  }
  if (chance(r, 0.1)) config[secret] = 'a key named like the secret';
  const text = JSON.stringify(config, null, chance(r, 0.5) ? 2 : undefined);
  return { index, secret, content: chance(r, 0.3) ? breakText(r, text, secret) : text };
}

/** Variables any string passes (the link then uses it), and variables with a grammar (a pasted token fails it). */
const FREE_VARS = ['TLS_SERVER_NAME', 'HOOP_TLSSERVERNAME', 'AUTO_REGISTER', 'TOKEN', 'API_URL', 'HOOP_TLSCA'] as const;
const CHECKED_VARS = ['HOOP_GRPCURL', 'HOOP_TLS_SKIP_VERIFY', 'LOG_LEVEL', 'LOG_ENCODING', 'LOG_GRPC', 'HOOP_KEY'] as const;

interface EnvCase {
  index: number;
  secret: string;
  env: Record<string, string>;
  offline: boolean;
}

/** `closed`: a loopback port nothing listens on, so every dial fails at once and stays on this machine. */
function envCase(index: number, closed: number): EnvCase {
  const r = mulberry32((SEED + 0x9e3779b9) ^ (index * 2246822519));
  const secret = makeSecret(r);
  const env: Record<string, string> = {
    // Every address the gateway link could reach for points at the closed port.
    API_URL: `http://127.0.0.1:${closed}`,
    REAGENT_LOCAL_GATEWAY: `127.0.0.1:${closed}`,
  };
  switch (Math.floor(r() * 4)) {
    case 0:
      env['HOOP_TOKEN'] = secret;
      env['HOOP_GRPCURL'] = pick(r, [`127.0.0.1:${closed}`, `grpc://127.0.0.1:${closed}`, `grpcs://localhost:${closed}`]);
      break;
    case 1:
      env['HOOP_KEY'] = `${pick(r, ['grpc', 'grpcs', 'http', 'wss'])}://agent:${secret}@127.0.0.1:${closed}?mode=${pick(r, ['standard', 'embedded', 'multi-connection'])}`;
      break;
    case 2:
      env['HOOP_DSN'] = pick(r, [`grpc://agent:${secret}@127.0.0.1:${closed}`, `${secret}://a:b@h:1`, `grpc://agent:${secret}@127.0.0.1:${closed}/legacy`, `grpc://agent:${secret}@127.0.0.1:${closed}?mode=${secret}`]);
      break;
    default:
      env['HOOP_TOKEN'] = secret;
  }
  // The token pasted into other variables, whole or wrapped; a variable with a
  // grammar is hit in a third of the cases (the start is refused), the rest run.
  const pastes = Math.floor(r() * 3);
  for (let i = 0; i < pastes; i++) {
    const name = chance(r, 0.3) ? pick(r, CHECKED_VARS) : pick(r, FREE_VARS);
    const w = wrapped(r, secret);
    env[name] = typeof w === 'string' ? w : secret;
  }
  if (env['HOOP_TLSCA'] !== undefined) {
    env['HOOP_TLSCA'] = pick(r, [`file://${join(root, secret)}`, `base64://${secret}`, `-----BEGIN CERTIFICATE-----\n${secret}\n-----END CERTIFICATE-----`, secret]);
  }
  if (env['API_URL'] !== undefined && !env['API_URL'].startsWith('http://127.0.0.1:')) {
    // Whatever API_URL says, nothing off this machine is asked: a pasted value gets a loopback prefix.
    env['API_URL'] = `http://127.0.0.1:${closed}/${encodeURIComponent(env['API_URL'])}`;
  }
  return { index, secret, env, offline: chance(r, 0.4) };
}

// ---------------------------------------------------------------- checks

interface Outcome {
  exit: number | null;
  stdout: string;
  stderr: string;
  log: string;
  hung: boolean;
}

/** A stack frame as Node prints it, or as a JSON log line carries one (`"stack":"…\n    at …"`). */
const STACK = /^\s+at (?:.+ \()?(?:file:|node:|\/|<anonymous>)[^\n]*\d+:\d+\)?$|\\n\s+at [^"]*:\d+:\d+|"stack":/m;

/** Every 6-character piece of the secret that shows up in the text. */
function pieces(secret: string, text: string): string[] {
  const wanted = new Set<string>();
  for (let i = 0; i + 6 <= secret.length; i++) wanted.add(secret.slice(i, i + 6));
  const found = new Set<string>();
  for (let i = 0; i + 6 <= text.length; i++) {
    const w = text.slice(i, i + 6);
    if (wanted.has(w)) found.add(w);
  }
  return [...found];
}

function problems(label: string, secret: string, o: Outcome): string[] {
  const out: string[] = [];
  if (o.hung) out.push(`${label}: no result within ${CASE_TIMEOUT_MS} ms`);
  for (const [where, text] of [['stdout', o.stdout], ['stderr', o.stderr], ['log', o.log]] as const) {
    if (STACK.test(text)) out.push(`${label}: stack trace on ${where}: ${text.slice(0, 400)}`);
    const leaked = pieces(secret, text);
    // The report names the pieces' positions in the secret, not the pieces.
    if (leaked.length) out.push(`${label}: ${leaked.length} piece(s) of the secret on ${where} (at ${leaked.map((p) => secret.indexOf(p)).join(', ')})`);
  }
  return out;
}

// ---------------------------------------------------------------- runners

/**
 * A daemon that starts is stopped once it is ready, or, when it runs the
 * gateway link, once that link has started and had a moment to dial (and
 * fail): on the output, not on a clock, so a slow machine sees the same.
 */
function stopWhen(stdout: () => string): Promise<string> {
  return new Promise((resolve) => {
    const started = Date.now();
    let dialling: number | undefined;
    const poll = setInterval(() => {
      const out = stdout();
      const ready = /"msg":"ready"/.test(out);
      const gateway = /"links":\[[^\]]*"gateway"[^\n]*"msg":"ready"/.test(out);
      if (dialling === undefined && /starting agent/.test(out)) dialling = Date.now();
      const done = (ready && !gateway) || (dialling !== undefined && Date.now() - dialling > 250) || Date.now() - started > 10_000;
      if (done) {
        clearInterval(poll);
        resolve('test');
      }
    }, 10);
  });
}

async function inProcess(args: string[], env: Record<string, string>, dir: string): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    out: (t) => void (stdout += `${t}\n`),
    err: (t) => void (stderr += `${t}\n`),
    env: { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}`, ...env },
    platform: 'linux',
    home: dir,
    untilStopped: () => stopWhen(() => stdout),
  };
  const logFile = join(dir, 'reagent.log');
  const run = (async () => {
    try {
      const r = await runCli([...args, '-agentDir', join(dir, 'agent'), '-logFile', logFile], io);
      return 'exit' in r ? r.exit : await r.done;
    } catch (err) {
      // An exception out of runCli is a crash of the CLI: record it with its stack.
      stderr += `THROWN: ${(err as Error).stack ?? String(err)}\n`;
      return null;
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([run, new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), CASE_TIMEOUT_MS)))]);
  clearTimeout(timer);
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  return { exit: exit === 'hung' ? null : exit, stdout, stderr, log, hung: exit === 'hung' };
}

/** The built CLI: stopped with SIGTERM once it says "ready" (or left to exit by itself). */
function asProcess(args: string[], env: Record<string, string>, dir: string, runMs = 0): Promise<Outcome> {
  requireBuild();
  const logFile = join(dir, 'reagent.log');
  const child = spawn(process.execPath, [MAIN, ...args, '-agentDir', join(dir, 'agent'), '-logFile', logFile], {
    env: { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let stopping: NodeJS.Timeout | undefined;
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (/"msg":"ready"/.test(stdout) && !stopping) stopping = setTimeout(() => child.kill('SIGTERM'), runMs);
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), CASE_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(stopping);
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      resolve({ exit: code, stdout, stderr, log, hung: signal === 'SIGKILL' });
    });
  });
}

function caseDir(kind: string, index: number): string {
  const dir = join(root, `${kind}-${index}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Runs `count` cases, a few at a time: each waits mostly on files and timers, and every case has its own directories. */
async function pool(count: number, run: (i: number) => Promise<void>, width = 4): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < count; i = next++) await run(i);
    }),
  );
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ---------------------------------------------------------------- tests

const unhandled: unknown[] = [];
process.on('unhandledRejection', (e) => unhandled.push(e));

test(`${FLOCK_CASES} hostile .flock files through runCli: no stack trace, no hang, no piece of the secret anywhere`, { timeout: 20 * 60_000 }, async (t) => {
  const found: string[] = [];
  const exits = new Map<string, number>();
  await pool(FLOCK_CASES, async (i) => {
    const c = flockCase(i);
    const dir = caseDir('flock', i);
    const file = join(dir, 'device.flock');
    writeFileSync(file, c.content);
    const o = await inProcess(['-offline', '-config', file], {}, dir);
    found.push(...problems(`flock case ${i} (seed ${SEED})`, c.secret, o));
    const kind = /"msg":"ready"/.test(o.stdout) ? 'daemon ran' : `exit ${o.exit}`;
    exits.set(kind, (exits.get(kind) ?? 0) + 1);
    rmSync(dir, { recursive: true, force: true });
  });
  t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries(exits))}`);
  assert.deepEqual(found.slice(0, 20), [], `${found.length} problem(s)`);
  assert.deepEqual(unhandled, []);
  // Both kinds are exercised: refused files (exit 1) and daemons that started and stopped.
  assert.ok((exits.get('daemon ran') ?? 0) > 300 && (exits.get('exit 1') ?? 0) > 500, JSON.stringify(Object.fromEntries(exits)));
});

test(`${ENV_CASES} hostile hoop environments through runCli: no stack trace, no hang, no piece of the token anywhere`, { timeout: 20 * 60_000 }, async (t) => {
  const closed = await closedPort();
  const found: string[] = [];
  const exits = new Map<string, number>();
  await pool(ENV_CASES, async (i) => {
    const c = envCase(i, closed);
    const dir = caseDir('env', i);
    const o = await inProcess(c.offline ? ['-offline'] : [], c.env, dir);
    found.push(...problems(`env case ${i} (seed ${SEED})`, c.secret, o));
    const kind = /starting agent/.test(o.stdout + o.log) ? 'gateway link ran' : /"msg":"ready"/.test(o.stdout) ? 'daemon ran' : `exit ${o.exit}`;
    exits.set(kind, (exits.get(kind) ?? 0) + 1);
    rmSync(dir, { recursive: true, force: true });
  });
  t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries(exits))}`);
  assert.deepEqual(found.slice(0, 20), [], `${found.length} problem(s)`);
  assert.deepEqual(unhandled, []);
  // Refused starts, offline daemons and gateway links that dialled (and failed) are all exercised.
  assert.ok((exits.get('gateway link ran') ?? 0) > 60 && (exits.get('daemon ran') ?? 0) > 60 && (exits.get('exit 2') ?? 0) > 60, JSON.stringify(Object.fromEntries(exits)));
});

test(`a sample as real processes of the built CLI (${PROCESS_FLOCK_SAMPLE} .flock files, ${PROCESS_ENV_SAMPLE} environments)`, { timeout: 20 * 60_000 }, async (t) => {
  const closed = await closedPort();
  const jobs: Array<() => Promise<string[]>> = [];
  for (let k = 0; k < PROCESS_FLOCK_SAMPLE; k++) {
    const i = Math.floor((k * FLOCK_CASES) / PROCESS_FLOCK_SAMPLE);
    jobs.push(async () => {
      const c = flockCase(i);
      const dir = caseDir('proc-flock', i);
      const file = join(dir, 'device.flock');
      writeFileSync(file, c.content);
      const o = await asProcess(['-offline', '-config', file], {}, dir);
      rmSync(dir, { recursive: true, force: true });
      return problems(`flock case ${i} as a process (seed ${SEED})`, c.secret, o);
    });
  }
  for (let k = 0; k < PROCESS_ENV_SAMPLE; k++) {
    const i = Math.floor((k * ENV_CASES) / PROCESS_ENV_SAMPLE);
    jobs.push(async () => {
      const c = envCase(i, closed);
      const dir = caseDir('proc-env', i);
      const o = await asProcess(c.offline ? ['-offline'] : [], c.env, dir, c.offline ? 0 : 500);
      rmSync(dir, { recursive: true, force: true });
      return problems(`env case ${i} as a process (seed ${SEED})`, c.secret, o);
    });
  }
  const found: string[] = [];
  // Two at a time: the machine is shared.
  await pool(jobs.length, async (i) => void found.push(...(await jobs[i]!())), 2);
  t.diagnostic(`${jobs.length} processes`);
  assert.deepEqual(found.slice(0, 20), [], `${found.length} problem(s)`);
});
