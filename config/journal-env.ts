// The daemon's journal knobs from the environment. A bad value stops the start
// with a message naming the variable, like every other variable.

/** Default bound of the memory held for events while the journal cannot commit: 8 MiB. */
export const DEFAULT_JOURNAL_BUFFER_KIB = 8192;

export type JournalEnv = { ok: true; bufferBytes: number } | { ok: false; error: string };

export function readJournalEnv(env: NodeJS.ProcessEnv): JournalEnv {
  const name = 'REAGENT_JOURNAL_BUFFER_KIB';
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return { ok: true, bufferBytes: DEFAULT_JOURNAL_BUFFER_KIB * 1024 };
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 16) {
    return { ok: false, error: `${name}: expected a whole number of KiB, at least 16, got ${JSON.stringify(raw)}` };
  }
  return { ok: true, bufferBytes: Number(raw) * 1024 };
}
