// The planted-secret scan of the end-to-end bug report tests: every planted
// value is looked for, as is and base64-encoded, in every place a secret
// could leak to: the journal file itself (with its WAL), the log, the bug
// report, the inspector's page data and its Stately stream.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import WebSocket from 'ws';

/** `kind -> value`; each value long and unique enough that a hit is a leak. */
export type Planted = Record<string, string>;

/** Where each planted value was found, as `kind in place` lines (empty: none leaked). */
export function leaks(planted: Planted, places: Record<string, string | Buffer>): string[] {
  const found: string[] = [];
  for (const [place, content] of Object.entries(places)) {
    const text = typeof content === 'string' ? content : content.toString('latin1');
    for (const [kind, value] of Object.entries(planted)) {
      const forms = [value, Buffer.from(value).toString('base64'), encodeURIComponent(value)];
      if (forms.some((f) => text.includes(f))) found.push(`${kind} in ${place}`);
    }
  }
  return found;
}

/** The journal's files as they are on disk (database, WAL, rollback journal), and the secret table is NOT among them. */
export function journalFiles(agentDir: string, db = 'reagent.db'): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const name of readdirSync(agentDir)) {
    if (name === db || name.startsWith(`${db}-`)) out[`journal file ${name}`] = readFileSync(join(agentDir, name));
  }
  if (!out[`journal file ${db}`]) throw new Error(`no journal at ${join(agentDir, db)}`);
  return out;
}

/** Every log file under agentDir (reagent.log and its rotations). */
export function logFiles(agentDir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const name of readdirSync(agentDir)) if (name.startsWith('reagent.log')) out[`log ${name}`] = readFileSync(join(agentDir, name));
  return out;
}

/** A bug report's text, gzip or plain. */
export function reportText(file: string): string {
  const raw = readFileSync(file);
  return (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
}

/** What the Stately stream of an inspector sends in `ms` after connecting (its greeting replays every actor). */
export function statelyStream(inspectorUrl: string, ms = 1500): Promise<string> {
  const u = new URL(inspectorUrl);
  const ws = new WebSocket(`ws://${u.host}/stately?token=${u.searchParams.get('token')}`);
  const frames: string[] = [];
  ws.on('message', (d) => frames.push(String(d)));
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () =>
      setTimeout(() => {
        ws.close();
        resolve(frames.join('\n'));
      }, ms),
    );
  });
}

export function exists(path: string): boolean {
  return existsSync(path);
}
