import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReplayArgs } from '../../cli/replay-command.js';

test('replay takes FILE and its own --until, --actor, --run and --json in either dash style', () => {
  const r = parseReplayArgs(['rec.ndjson', '--until', '42', '-actor=app:PROD:1', '--run', 'abc', '-json']);
  assert.deepEqual(r, { ok: true, args: { file: 'rec.ndjson', until: 42, actor: 'app:PROD:1', run: 'abc', json: true } });
});

test('replay names what is wrong with its arguments', () => {
  assert.deepEqual(parseReplayArgs([]), { ok: false, error: 'replay: FILE is required; usage: reagent replay FILE [--until SEQ] [--actor ID] [--run ID] [--json] [--inspect[=HOST:PORT]]' });
  assert.match((parseReplayArgs(['a', 'b']) as { error: string }).error, /unexpected argument "b"/);
  assert.match((parseReplayArgs(['a', '--until', 'x']) as { error: string }).error, /--until: expected a sequence number, got "x"/);
  assert.match((parseReplayArgs(['a', '--frob']) as { error: string }).error, /not defined: --frob/);
});
