// The byte-level parsers of the Docker adapter, without an engine: log demuxing and
// line splitting at arbitrary chunk boundaries, tar listing, event normalization.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { DockerDemuxer, LineSplitter, type LogLine, type LogStream } from '../../adapters/docker/log-lines.js';
import { jsonItems, streamItemError } from '../../adapters/docker/json-stream.js';
import { listArchiveEntries } from '../../adapters/docker/tgz-entries.js';
import { chooseDockerfile } from '../../adapters/docker/build.js';
import { normalizeEvent } from '../../adapters/docker/engine-events.js';
import { toPullProgress } from '../../adapters/docker/pull.js';
import { LABELS } from '../../adapters/docker/naming.js';

function frame(stream: LogStream, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream === 'stdout' ? 1 : 2;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** Cuts `buf` at the given (sorted, deduplicated) offsets. */
function cut(buf: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

const textLine = fc.string({ unit: fc.constantFrom('a', 'ü', '€', '😀', ' ', '\r', 'x'), maxLength: 30 });

describe('log lines', () => {
  it('demux + split gives the same lines per stream whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ stream: fc.constantFrom<LogStream>('stdout', 'stderr'), lines: fc.array(textLine, { minLength: 1, maxLength: 4 }) }), {
          maxLength: 8,
        }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (frames, offsets) => {
          const expected: Record<LogStream, string[]> = { stdout: [], stderr: [] };
          const wire = Buffer.concat(
            frames.map((f) => {
              for (const l of f.lines) expected[f.stream].push(l.endsWith('\r') ? l.slice(0, -1) : l);
              return frame(f.stream, Buffer.from(f.lines.map((l) => `${l}\n`).join('')));
            }),
          );
          const demux = new DockerDemuxer();
          const split = { stdout: new LineSplitter(), stderr: new LineSplitter() };
          const got: Record<LogStream, string[]> = { stdout: [], stderr: [] };
          for (const chunk of cut(wire, offsets)) {
            for (const piece of demux.push(chunk)) got[piece.stream].push(...split[piece.stream].push(piece.payload));
          }
          got.stdout.push(...split.stdout.flush());
          got.stderr.push(...split.stderr.flush());
          assert.deepEqual(got, expected);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('an unterminated last line is flushed; CRLF is stripped', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push(Buffer.from('a\r\nb')), ['a']);
    assert.deepEqual(s.flush(), ['b']);
    assert.deepEqual(s.flush(), []);
  });

  it('overlong lines are cut at the cap without splitting a UTF-8 character', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀'), minLength: 1, maxLength: 200 }), fc.integer({ min: 4, max: 40 }), (text, max) => {
        const s = new LineSplitter(max);
        const pieces = [...s.push(Buffer.from(`${text}\n`))];
        for (const p of pieces) {
          assert.ok(Buffer.byteLength(p) <= max);
          assert.ok(!p.includes('\ufffd'), 'split a character');
        }
        assert.equal(pieces.join(''), text);
      }),
      { numRuns: 500 },
    );
  });

  it('a stream that is not multiplexed passes through as stdout', () => {
    const d = new DockerDemuxer();
    const pieces = d.push(Buffer.from('hello world\n'));
    assert.equal(Buffer.concat(pieces.map((p) => p.payload)).toString(), 'hello world\n');
    assert.ok(pieces.every((p) => p.stream === 'stdout'));
  });

  it('LogLine carries the stream it came from', () => {
    const line: LogLine = { stream: 'stderr', text: 'x' };
    assert.equal(line.stream, 'stderr');
  });
});

describe('json progress streams', () => {
  it('parses items split across chunks and finds error items', async () => {
    const wire = '{"status":"Downloading","id":"abc","progressDetail":{"current":5,"total":10}}\r\n{"errorDetail":{"message":"boom"},"error":"boom"}\n';
    const chunks = cut(Buffer.from(wire), [3, 40, 41, 90]);
    const items = [];
    for await (const item of jsonItems(Readable.from(chunks))) items.push(item);
    assert.equal(items.length, 2);
    assert.deepEqual(toPullProgress(items[0] ?? {}), { layer: 'abc', status: 'Downloading', current: 5, total: 10 });
    assert.equal(streamItemError(items[1] ?? {}), 'boom');
    assert.equal(streamItemError(items[0] ?? {}), undefined);
  });
});

describe('tar listing and Dockerfile choice', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('lists ./-prefixed, nested and long (pax/GNU) names from tar and tgz', async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'rdp-tar-'));
    dirs.push(d);
    const src = path.join(d, 'src');
    const long = `${'deep/'.repeat(30)}file.txt`;
    await mkdir(path.join(src, path.dirname(long)), { recursive: true });
    await writeFile(path.join(src, long), 'x');
    await writeFile(path.join(src, 'Dockerfile'), 'FROM scratch\n');
    await writeFile(path.join(src, 'Dockerfile.amd64'), 'FROM scratch\n');
    await writeFile(path.join(src, 'big.bin'), Buffer.alloc(70_000, 7));
    for (const [flag, ext, fmt] of [
      ['-czf', 'tgz', 'gnu'],
      ['-cf', 'tar', 'posix'],
    ] as const) {
      const out = path.join(d, `a-${fmt}.${ext}`);
      execFileSync('tar', [flag, out, `--format=${fmt}`, '-C', src, '.']);
      const names = (await listArchiveEntries(out)).filter((e) => e.type === 'file').map((e) => e.name).sort();
      assert.deepEqual(names, ['Dockerfile', 'Dockerfile.amd64', 'big.bin', long].sort(), fmt);
    }
  });

  it('a truncated archive is an error, not a short list', async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'rdp-tar-'));
    dirs.push(d);
    await writeFile(path.join(d, 'f'), Buffer.alloc(5000, 1));
    const tar = execFileSync('tar', ['-cf', '-', '-C', d, 'f']);
    await writeFile(path.join(d, 'cut.tar'), tar.subarray(0, 2048));
    await assert.rejects(listArchiveEntries(path.join(d, 'cut.tar')), /truncated/);
  });

  it('prefers Dockerfile.<arch> at the root', () => {
    assert.equal(chooseDockerfile(['Dockerfile', 'Dockerfile.arm64'], 'arm64'), 'Dockerfile.arm64');
    assert.equal(chooseDockerfile(['Dockerfile', 'Dockerfile.arm64'], 'amd64'), 'Dockerfile');
    assert.equal(chooseDockerfile(['sub/Dockerfile'], 'amd64'), undefined);
  });
});

describe('engine event normalization', () => {
  const attrs = { name: 'dev_1_web', [LABELS.managed]: 'true', [LABELS.appKey]: '1', [LABELS.stage]: 'DEV', [LABELS.appName]: 'web' };
  const raw = (Action: string, extra: Record<string, string> = {}) => ({
    Type: 'container',
    Action,
    Actor: { ID: 'abc', Attributes: { ...attrs, ...extra } },
    time: 1700000000,
    timeNano: 1700000000123456789,
  });

  it('maps die with exit code, kill with signal, health status', () => {
    assert.deepEqual(normalizeEvent(raw('die', { exitCode: '137' })), {
      kind: 'die',
      container: 'dev_1_web',
      id: 'abc',
      appKey: '1',
      stage: 'DEV',
      appName: 'web',
      exitCode: 137,
      at: Math.floor(1700000000123456789 / 1e6),
    });
    assert.equal(normalizeEvent(raw('kill', { signal: '9' }))?.signal, '9');
    assert.equal(normalizeEvent(raw('health_status: unhealthy'))?.health, 'unhealthy');
    assert.equal(normalizeEvent(raw('oom'))?.kind, 'oom');
  });

  it('ignores other actions, other types and containers without our labels', () => {
    assert.equal(normalizeEvent(raw('exec_create: sh')), undefined);
    assert.equal(normalizeEvent({ ...raw('start'), Type: 'image' }), undefined);
    assert.equal(normalizeEvent({ ...raw('start'), Actor: { ID: 'x', Attributes: { name: 'foreign' } } }), undefined);
  });
});
