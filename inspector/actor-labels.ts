// Names people recognise for actors whose id says little. A gateway
// session's id is `gateway-session:<uuid>`; what a person looks for is the
// connection and who opened it, which the session actor has from the
// gob-decoded `agent.connection_params` (its spawn input, and its context).
// Labels are shown next to the id, never instead of it, and pass the
// redactor like anything else leaving the process.
import type { GatewaySessionInput } from '../machines/gateway-session.js';

type Labeller = (fields: Record<string, unknown>) => string | null;

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, 80) : null);

const LABELLERS: Record<string, Labeller> = {
  'gateway-session': (f) => {
    const pick = (k: keyof GatewaySessionInput) => text(f[k]);
    const name = pick('connectionName');
    const user = pick('userEmail');
    if (!name && !user) return null;
    // One user often opens several sessions to one connection: the start of the session id tells them apart.
    const sid = pick('sid')?.slice(0, 8);
    return [name ?? '(unnamed connection)', user ?? '(unknown user)', sid].filter(Boolean).join(' · ');
  },
  // `terminal:<uuid>`: which shell (a container's, or the device's) and for whom.
  'studio-terminal': (f) => {
    const where = f['kind'] === 'device' ? 'device shell' : text(f['container']);
    const who = text(f['caller']);
    if (!where && !who) return null;
    return [where ?? '(container)', who ?? '(unknown caller)', text(f['sessionId'])?.slice(0, 8)].filter(Boolean).join(' · ');
  },
};

/** A label for an actor of `machine` from its spawn input or its context; null when its id says enough. */
export function actorLabel(machine: string | null, fields: unknown): string | null {
  const labeller = machine ? LABELLERS[machine] : undefined;
  if (!labeller || !fields || typeof fields !== 'object' || Array.isArray(fields)) return null;
  return labeller(fields as Record<string, unknown>);
}
