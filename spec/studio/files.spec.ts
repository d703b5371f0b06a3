import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../actors/clock.js';
import { DEVICE_LOG_LIMITS, DeviceLogQueries, queryDeviceLogs } from '../../adapters/wamp/device-logs.js';
import { FileTransfers, type TransferProgress } from '../../adapters/wamp/file-transfer.js';
import { DeviceApiError } from '../../adapters/wamp/errors.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'reagent-files-'));
}

const line = (level: string, t: string, msg: string) => JSON.stringify({ level, time: t, msg });

test('query_device_logs reads the rotated files oldest first and filters by level, window and tail', async () => {
  const dir = tmp();
  try {
    const log = join(dir, 'reagent.log');
    writeFileSync(`${log}.2`, [line('info', '2024-05-01T10:00:00.000Z', 'oldest'), 'not json at all'].join('\n') + '\n');
    writeFileSync(`${log}.1`, [line('warn', '2024-05-01T11:00:00.000Z', 'w1'), line('debug', '2024-05-01T11:30:00.000Z', 'd1')].join('\n') + '\n');
    writeFileSync(log, [line('error', '2024-05-01T12:00:00.000Z', 'e1'), line('info', '2024-05-01T12:30:00.000Z', 'newest')].join('\n') + '\n');
    const now = Date.parse('2024-05-01T13:00:00Z');

    const all = await queryDeviceLogs(log, { tail: 300 }, now);
    assert.equal(all.files_scanned, 3);
    assert.deepEqual(all.lines.map((l) => (l.startsWith('{') ? JSON.parse(l).msg : l)), ['oldest', 'not json at all', 'w1', 'd1', 'e1', 'newest']);
    assert.equal(all.oldest_available, '2024-05-01T10:00:00.000Z');
    assert.equal(all.truncated, false);

    const warn = await queryDeviceLogs(log, { tail: 300, level: 'warn' }, now);
    assert.deepEqual(warn.lines.map((l) => JSON.parse(l).msg), ['w1', 'e1']);

    const window = await queryDeviceLogs(log, { tail: 300, since: Date.parse('2024-05-01T11:15:00Z') / 1000, until: Date.parse('2024-05-01T12:15:00Z') / 1000 }, now);
    assert.deepEqual(window.lines.map((l) => JSON.parse(l).msg), ['d1', 'e1']);

    const tail = await queryDeviceLogs(log, { tail: 2 }, now);
    assert.deepEqual(tail.lines.map((l) => JSON.parse(l).msg), ['e1', 'newest']);
    assert.equal(tail.truncated, true);
    assert.equal(tail.returned, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('query_device_logs over many lines keeps only the tail in memory and answers the newest', async () => {
  const dir = tmp();
  try {
    const log = join(dir, 'reagent.log');
    const lines: string[] = [];
    for (let i = 0; i < 50_000; i++) lines.push(line('info', new Date(1_700_000_000_000 + i * 1000).toISOString(), `m${i}`));
    writeFileSync(log, lines.join('\n') + '\n');
    const r = await queryDeviceLogs(log, { tail: 5000 }, Date.now());
    assert.equal(r.returned, 5000);
    assert.equal(JSON.parse(r.lines[0]!).msg, 'm45000');
    assert.equal(JSON.parse(r.lines.at(-1)!).msg, 'm49999');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('query_device_logs reads backwards across chunk boundaries: multi-byte characters, CRLF, blank lines and a last line without a newline come out whole', async () => {
  const dir = tmp();
  try {
    const log = join(dir, 'reagent.log');
    // 3 files of ~1.3 MiB each, so lines straddle the 1 MiB chunks and the files.
    const all: string[] = [];
    let n = 0;
    for (const file of [`${log}.2`, `${log}.1`, log]) {
      let text = '';
      let bytes = 0;
      while (bytes < 1.3 * 1024 * 1024) {
        const msg = `m${n} ${'é€😀x'.repeat(n % 97)}`;
        const l = line(n % 3 === 0 ? 'warn' : 'info', new Date(1_700_000_000_000 + n * 1000).toISOString(), msg);
        all.push(l);
        const piece = l + (n % 5 === 0 ? '\r\n' : '\n') + (n % 7 === 0 ? '\n' : '');
        text += piece;
        bytes += Buffer.byteLength(piece);
        n++;
      }
      writeFileSync(file, file === log ? text.replace(/\r?\n+$/, '') : text);
    }
    const now = Date.now();
    const r = await queryDeviceLogs(log, { tail: DEVICE_LOG_LIMITS.maxLines }, now);
    assert.deepEqual(r.lines, all.slice(-DEVICE_LOG_LIMITS.maxLines));
    assert.equal(r.truncated, true);
    assert.equal(r.oldest_available, new Date(1_700_000_000_000).toISOString());
    const warn = await queryDeviceLogs(log, { tail: 10, level: 'warn' }, now);
    assert.deepEqual(warn.lines, all.filter((l) => JSON.parse(l).level === 'warn').slice(-10));
    const everything = await queryDeviceLogs(log, { tail: DEVICE_LOG_LIMITS.maxLines, since: (1_700_000_000_000 + (n - 100) * 1000) / 1000 }, now);
    assert.deepEqual(everything.lines, all.slice(-100));
    assert.equal(everything.truncated, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('query_device_logs: at most two read the log at once; a third is answered at once with canceled, and a query after them reads again', async () => {
  const dir = tmp();
  try {
    const log = join(dir, 'reagent.log');
    writeFileSync(log, [line('info', '2024-05-01T10:00:00.000Z', 'a'), line('warn', '2024-05-01T11:00:00.000Z', 'b')].join('\n') + '\n');
    const queries = new DeviceLogQueries(log);
    assert.equal(DEVICE_LOG_LIMITS.maxQueries, 2);
    const now = Date.parse('2024-05-01T13:00:00Z');
    // Neither of the first two has read a byte when the third asks: the bound, not timing, decides.
    const first = queries.query({ tail: 300 }, now);
    const second = queries.query({ tail: 300, level: 'warn' }, now);
    await assert.rejects(queries.query({ tail: 300 }, now), (err: unknown) => {
      assert.ok(err instanceof DeviceApiError);
      assert.equal(err.uri, 'wamp.error.canceled');
      assert.deepEqual(err.kwargs, { limit: 2 });
      assert.match(err.message, /2 queries are already reading the device log/);
      return true;
    });
    assert.equal((await first).returned, 2);
    assert.equal((await second).returned, 1);
    assert.equal((await queries.query({ tail: 1 }, now)).returned, 1);
    // A read that fails gives its place back too: the second failure is the read's again, not the bound.
    const broken = new DeviceLogQueries(mkdirSync(join(dir, 'a-directory'), { recursive: true })!, 1);
    await assert.rejects(broken.query({ tail: 1 }, now), /EISDIR/);
    await assert.rejects(broken.query({ tail: 1 }, now), /EISDIR/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function transfers(appsDir: string) {
  const progress: TransferProgress[] = [];
  const failed: string[] = [];
  const clock = new ManualClock(0);
  const t = new FileTransfers({ appsDir, clock, onProgress: (p) => progress.push(p), onFailed: (c) => failed.push(c), idleTimeoutMs: 60_000 });
  return { t, progress, failed, clock };
}

test('write_data: BEGIN, hex chunks and END produce <appsDir>/uploads/<containerName>/<fileName>; progress is reported per chunk', async () => {
  const dir = tmp();
  try {
    const appsDir = join(dir, 'apps');
    const { t, progress } = transfers(appsDir);
    const data = Buffer.from('hello, build archive');
    const base = { fileName: 'app.tgz', containerName: 'dev_12_app', total: data.length, id: 't1' };
    await t.write({ ...base, chunk: 'BEGIN' });
    await t.write({ ...base, chunk: data.subarray(0, 5).toString('hex') });
    const upload = join(appsDir, 'uploads', 'dev_12_app');
    assert.ok(!existsSync(join(upload, 'app.tgz')), 'nothing at the final path before END');
    await t.write({ ...base, chunk: data.subarray(5).toString('hex') });
    await t.write({ ...base, chunk: 'END' });
    assert.deepEqual(readFileSync(join(upload, 'app.tgz')), data);
    assert.deepEqual(readdirSync(upload), ['app.tgz'], 'no part file left');
    assert.equal(existsSync(join(appsDir, 'build')), false, 'nothing in the by-name place');
    assert.deepEqual(progress.map((p) => p.message.progress), [`${((5 / data.length) * 100).toFixed(3)}%`, '100.000%']);
    assert.deepEqual(progress[0]?.message, { id: 't1', status: 'Transfer Progress:', progress: progress[0]?.message.progress });
    assert.equal(t.activeCount, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('write_data: data without BEGIN, bad hex, or an abandoned upload never leave a partial archive', async () => {
  const dir = tmp();
  try {
    const appsDir = join(dir, 'apps');
    const { t, failed, clock } = transfers(appsDir);
    const base = { fileName: 'app.tgz', containerName: 'dev_12_app', total: 4, id: 't1' };
    await assert.rejects(t.write({ ...base, chunk: 'abcd' }), (e: unknown) => e instanceof DeviceApiError && /send "BEGIN" first/.test(e.message));
    await t.write({ ...base, chunk: 'BEGIN' });
    await assert.rejects(t.write({ ...base, chunk: 'xyz' }), /hex/);
    assert.deepEqual(failed, ['dev_12_app']);
    assert.equal(t.activeCount, 0);
    assert.deepEqual(readdirSync(join(appsDir, 'uploads', 'dev_12_app')), []);

    await t.write({ ...base, id: 't2', chunk: 'BEGIN' });
    await t.write({ ...base, id: 't2', chunk: 'abcd' });
    clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(t.activeCount, 0, 'abandoned after the idle timeout');
    assert.deepEqual(readdirSync(join(appsDir, 'uploads', 'dev_12_app')), []);
    assert.deepEqual(failed, ['dev_12_app', 'dev_12_app']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- write_data bounds (peer input: every dimension is capped) ----

const openFds = () => readdirSync('/proc/self/fd').length;

function bounded(appsDir: string, opts: Partial<ConstructorParameters<typeof FileTransfers>[0]> = {}) {
  const failed: string[] = [];
  const clock = new ManualClock(0);
  const t = new FileTransfers({ appsDir, clock, onProgress: () => {}, onFailed: (_c, reason) => failed.push(reason), idleTimeoutMs: 60_000, ...opts });
  return { t, failed, clock };
}

test('write_data: uploads in flight are capped; 3000 BEGINs hold at most that many file descriptors', async () => {
  const dir = tmp();
  try {
    const appsDir = join(dir, 'apps');
    const { t, clock } = bounded(appsDir, { maxConcurrent: 4 });
    const before = openFds();
    const begins = await Promise.allSettled(
      Array.from({ length: 3000 }, (_, i) => t.write({ chunk: 'BEGIN', fileName: 'app.tgz', containerName: `dev_${i % 7}_app`, total: 10, id: `t${i}` })),
    );
    const refused = begins.filter((b) => b.status === 'rejected') as PromiseRejectedResult[];
    assert.equal(begins.length - refused.length, 4);
    assert.equal(t.activeCount, 4);
    assert.match(String(refused[0]!.reason.message), /write_data: 4 uploads are already in progress \(the limit\); finish one first \(an upload without a chunk for 60 s is dropped\)/);
    assert.ok(openFds() - before <= 4, `${openFds() - before} descriptors held`);
    // Stale uploads expire on the injected clock, releasing their slots and descriptors.
    clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(t.activeCount, 0);
    assert.ok(openFds() - before <= 0, 'descriptors released');
    await t.write({ chunk: 'BEGIN', fileName: 'app.tgz', containerName: 'dev_1_app', total: 10, id: 'again' });
    assert.equal(t.activeCount, 1);
    await t.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('write_data: bytes per archive and across uploads are capped', async () => {
  const dir = tmp();
  try {
    const appsDir = join(dir, 'apps');
    const { t, failed } = bounded(appsDir, { maxBytes: 100, maxTotalBytes: 150 });
    const base = { fileName: 'app.tgz', containerName: 'dev_1_app', total: 0 };
    await assert.rejects(t.write({ ...base, id: 'huge', total: 101, chunk: 'BEGIN' }), /field "args\[3\] \(total\)": expected at most 100 bytes/);
    await t.write({ ...base, id: 'a', chunk: 'BEGIN' });
    await t.write({ ...base, id: 'b', chunk: 'BEGIN' });
    await t.write({ ...base, id: 'a', chunk: 'ab'.repeat(90) });
    await assert.rejects(t.write({ ...base, id: 'a', chunk: 'ab'.repeat(11) }), /would exceed 100 bytes/);
    await t.write({ ...base, id: 'b', chunk: 'ab'.repeat(90) });
    await assert.rejects(t.write({ ...base, id: 'b', chunk: 'ab'.repeat(90) }), /would exceed 100 bytes/);
    await t.write({ ...base, id: 'c', chunk: 'BEGIN' });
    await t.write({ ...base, id: 'c', chunk: 'ab'.repeat(100) });
    await t.write({ ...base, id: 'd', chunk: 'BEGIN' });
    await assert.rejects(t.write({ ...base, id: 'd', chunk: 'ab'.repeat(60) }), /uploads in progress would hold more than 150 B together/);
    assert.equal(failed.length, 3, 'each refused chunk ended its upload');
    assert.deepEqual(readdirSync(join(appsDir, 'uploads', 'dev_1_app')).sort(), ['.app.tgz.c.part']);
    await t.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('write_data: free disk is checked at BEGIN and while appending (REAGENT_DISK_MIN_MIB)', async () => {
  const dir = tmp();
  try {
    const appsDir = join(dir, 'apps');
    let free = 1000;
    const { t, failed } = bounded(appsDir, { diskMinBytes: 500, diskCheckEveryBytes: 64, freeBytes: async () => free });
    const base = { fileName: 'app.tgz', containerName: 'dev_1_app', total: 0, id: 'u' };
    await assert.rejects(t.write({ ...base, total: 600, chunk: 'BEGIN' }), /disk: only 1000 B free on the filesystem of .*uploads\/dev_1_app; an upload of 600 B must leave at least 500 B free \(REAGENT_DISK_MIN_MIB\)/);
    await t.write({ ...base, total: 100, chunk: 'BEGIN' });
    await t.write({ ...base, chunk: 'ab'.repeat(40) }); // 40 bytes: under the re-check interval
    free = 520;
    await assert.rejects(t.write({ ...base, chunk: 'ab'.repeat(30) }), /disk: only 520 B free .*; the next 30 B of app.tgz must leave at least 500 B free/);
    assert.equal(t.activeCount, 0);
    assert.equal(failed.length, 1);
    assert.deepEqual(readdirSync(join(appsDir, 'uploads', 'dev_1_app')), [], 'the part file is gone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('write_data: a caller that does not wait for answers is cut off after 16 queued chunks', async () => {
  const dir = tmp();
  try {
    const appsDir = join(dir, 'apps');
    const { t, failed } = bounded(appsDir);
    const base = { fileName: 'app.tgz', containerName: 'dev_1_app', total: 0, id: 'q' };
    await t.write({ ...base, chunk: 'BEGIN' });
    const flood = await Promise.allSettled(Array.from({ length: 40 }, () => t.write({ ...base, chunk: 'abcd' })));
    const refused = flood.filter((f) => f.status === 'rejected') as PromiseRejectedResult[];
    assert.ok(refused.some((r) => /more than 16 chunks of upload q waiting to be written/.test(String(r.reason.message))));
    assert.equal(t.activeCount, 0);
    assert.ok(failed.length >= 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
