// Recordings as regression fixtures (Temporal-style): a test that ran real
// machines saves what the journal recorded under spec/fixtures/recordings/,
// and spec/replay/fixtures.spec.ts replays every file there on each change,
// failing on the first divergence.
//
// A fixture is written when it is missing, or rewritten when REAGENT_RERECORD=1
// (after a machine changed on purpose: bump its version in machines/registry.ts,
// then `REAGENT_RERECORD=1 npm test`, and commit the new files with the change).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JournalRecord, SpawnPayload } from '../../actors/types.js';
import { RUNTIME_EVENTS } from '../../actors/types.js';
import { EXPORT_FORMAT, EXPORT_FORMAT_VERSION, writeExport, type ExportSnapshot } from '../../adapters/store/export.js';
import { agentVersion } from '../../cli/version.cjs';

export const RECORDINGS_DIR = fileURLToPath(new URL('../fixtures/recordings/', import.meta.url));
export const RERECORD = process.env.REAGENT_RERECORD === '1';

export function fixturePath(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`fixture name ${JSON.stringify(name)}: use lowercase letters, digits and dashes`);
  return join(RECORDINGS_DIR, `${name}.ndjson`);
}

/**
 * Saves `records` as the fixture `name` (an NDJSON export) if it is missing or
 * REAGENT_RERECORD=1. Returns true when it wrote the file. The header is
 * deterministic (times come from the records), so re-recording an unchanged
 * run rewrites the same bytes.
 */
export function saveRecordingFixture(name: string, records: readonly JournalRecord[], about: string, snapshots: ExportSnapshot[] = []): boolean {
  const file = fixturePath(name);
  if (existsSync(file) && !RERECORD) return false;
  if (records.length === 0) throw new Error(`fixture ${name}: no records to save`);
  mkdirSync(RECORDINGS_DIR, { recursive: true });
  const machines: Record<string, number> = {};
  const runs = new Map<string, number>();
  for (const r of records) {
    if (!runs.has(r.run)) runs.set(r.run, r.at);
    if (r.type === RUNTIME_EVENTS.spawn) {
      const p = r.payload as SpawnPayload;
      machines[p.machine] = p.version;
    }
  }
  const version = agentVersion();
  writeExport(
    file,
    {
      format: EXPORT_FORMAT,
      formatVersion: EXPORT_FORMAT_VERSION,
      agentVersion: version,
      createdAt: new Date(records[0]!.at).toISOString(),
      machines,
      runs: [...runs].map(([run, startedAt]) => ({ run, startedAt, agentVersion: version, machines })),
      snapshots,
      extra: { fixture: { name, about } },
    },
    records,
  );
  return true;
}
