import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, RotatingFile } from '../../adapters/log/rotating-file.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'reagent-rot-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('defaults match the Reagent lumberjack setup: 100 MiB, 2 backups', () => {
  assert.equal(DEFAULT_MAX_BYTES, 100 * 1024 * 1024);
  assert.equal(DEFAULT_BACKUPS, 2);
  withDir((dir) => {
    const file = new RotatingFile({ path: join(dir, 'a.log') });
    assert.equal(file.maxBytes, DEFAULT_MAX_BYTES);
    assert.equal(file.backups, DEFAULT_BACKUPS);
    file.close();
  });
});

test('creates the directory and appends to an existing file, counting its size', () => {
  withDir((dir) => {
    const path = join(dir, 'nested', 'deeper', 'r.log');
    const first = new RotatingFile({ path, maxBytes: 20 });
    first.write('0123456789\n');
    first.close();
    const second = new RotatingFile({ path, maxBytes: 20 });
    second.write('abcdefghij\n'); // 11 + 11 > 20: the old content rotates out first
    second.close();
    assert.equal(readFileSync(path, 'utf8'), 'abcdefghij\n');
    assert.equal(readFileSync(`${path}.1`, 'utf8'), '0123456789\n');
  });
});

test('rotates path -> path.1 -> path.2 and drops the oldest', () => {
  withDir((dir) => {
    const path = join(dir, 'r.log');
    const file = new RotatingFile({ path, maxBytes: 4, backups: 2 });
    for (const line of ['a\n', 'b\n', 'c\n', 'd\n', 'e\n', 'f\n', 'g\n']) file.write(line);
    file.close();
    assert.equal(readFileSync(path, 'utf8'), 'g\n');
    assert.equal(readFileSync(`${path}.1`, 'utf8'), 'e\nf\n');
    assert.equal(readFileSync(`${path}.2`, 'utf8'), 'c\nd\n');
    assert.equal(existsSync(`${path}.3`), false);
  });
});

test('with no backups the full file is simply started afresh', () => {
  withDir((dir) => {
    const path = join(dir, 'r.log');
    const file = new RotatingFile({ path, maxBytes: 4, backups: 0 });
    for (const line of ['a\n', 'b\n', 'c\n']) file.write(line);
    file.close();
    assert.deepEqual(readdirSync(dir), ['r.log']);
    assert.equal(readFileSync(path, 'utf8'), 'c\n');
  });
});

test('a line longer than maxBytes is written whole into a fresh file', () => {
  withDir((dir) => {
    const path = join(dir, 'r.log');
    const file = new RotatingFile({ path, maxBytes: 8 });
    file.write('ab\n');
    file.write('0123456789abcdef\n');
    file.write('cd\n');
    file.close();
    assert.equal(readFileSync(`${path}.2`, 'utf8'), 'ab\n');
    assert.equal(readFileSync(`${path}.1`, 'utf8'), '0123456789abcdef\n');
    assert.equal(readFileSync(path, 'utf8'), 'cd\n');
  });
});

test('sizes are counted in bytes, not characters', () => {
  withDir((dir) => {
    const path = join(dir, 'r.log');
    const file = new RotatingFile({ path, maxBytes: 10 });
    file.write('ééé\n'); // 7 bytes
    file.write('éé\n'); // 5 bytes: would make 12
    file.close();
    assert.equal(statSync(path).size, 5);
  });
});

test('write failures are reported once, do not throw, and recover when the path becomes writable', () => {
  withDir((dir) => {
    const path = join(dir, 'r.log');
    mkdirSync(path); // a directory where the file should be: every open fails
    const errors: Error[] = [];
    const file = new RotatingFile({ path, onError: (e) => errors.push(e) });
    assert.doesNotThrow(() => file.write('lost 1\n'));
    assert.doesNotThrow(() => file.write('lost 2\n'));
    assert.equal(errors.length, 1);
    rmSync(path, { recursive: true });
    file.write('kept\n');
    file.close();
    assert.equal(readFileSync(path, 'utf8'), 'kept\n');
  });
});

test('nonsensical sizes are refused', () => {
  assert.throws(() => new RotatingFile({ path: join(tmpdir(), 'never.log'), maxBytes: 0 }), RangeError);
  assert.throws(() => new RotatingFile({ path: join(tmpdir(), 'never.log'), backups: -1 }), RangeError);
});

test('property: far past maxBytes there are never more than backups+1 files, each within maxBytes or a single line, newest lines kept in order', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 8, max: 200 }),
      fc.integer({ min: 0, max: 3 }),
      fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'é', '€', 'z'), maxLength: 60 }), { minLength: 1, maxLength: 120 }),
      (maxBytes, backups, texts) => {
        withDir((dir) => {
          const path = join(dir, 'r.log');
          const lines = texts.map((t) => `${t}\n`);
          const file = new RotatingFile({ path, maxBytes, backups });
          for (const line of lines) file.write(line);
          file.close();
          const names = readdirSync(dir);
          assert.ok(names.length <= backups + 1, names.join(','));
          const ordered = [...Array(backups).keys()].map((i) => `${path}.${backups - i}`).filter(existsSync).concat(path);
          for (const name of ordered) {
            const content = readFileSync(name, 'utf8');
            const size = Buffer.byteLength(content);
            assert.ok(size <= maxBytes || content.split('\n').length === 2, `${name}: ${size} bytes`);
          }
          // What is kept is the tail of what was written, with no line cut.
          const kept = ordered.map((name) => readFileSync(name, 'utf8')).join('');
          assert.ok(lines.join('').endsWith(kept));
          assert.ok(kept === '' || kept.endsWith('\n'));
          assert.ok(kept.endsWith(lines.at(-1) ?? ''));
        });
      },
    ),
    { numRuns: 150 },
  );
});
