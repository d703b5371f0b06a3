// A cheap fingerprint of an actor's context, journaled with every event so a
// replay notices a changed computation (say, a different backoff) even when the
// state value stays the same. FNV-1a over the JSON text: fast, stable, no crypto needed.
export function contextHash(context: unknown): number {
  const text = JSON.stringify(context) ?? '';
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
