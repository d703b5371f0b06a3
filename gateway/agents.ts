// The development gateway's agents: legacy `x-agt-…` tokens (web and auto
// registration) and DSN agents (`hoop admin create agent`). Like hoop, only
// sha256 hashes of secrets are kept. With a data dir the list survives a
// restart (agents.json, 0600, replaced atomically); without one it lives in
// memory.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDsn, type AgentMode, type DsnScheme } from '../config/hoop-env.js';

export type AgentKind = 'token' | 'dsn' | 'local';

export interface AgentRecord {
  id: string;
  name: string;
  kind: AgentKind;
  mode: AgentMode;
  /** sha256 hex of the x-agt token or of the DSN secret. */
  secretHash: string;
  org: string | null;
  createdAt: string;
}

export const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** hoop's legacy agent token: x-agt- and a UUID. */
export const LEGACY_TOKEN = /^x-agt-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class AgentStoreError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class AgentStore {
  private readonly agents = new Map<string, AgentRecord>();

  constructor(private readonly dataDir: string | null) {
    if (dataDir) this.load();
  }

  list(): AgentRecord[] {
    return [...this.agents.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  byName(name: string): AgentRecord | undefined {
    return this.agents.get(name);
  }

  byHash(hash: string): AgentRecord | undefined {
    for (const a of this.agents.values()) if (a.secretHash === hash) return a;
    return undefined;
  }

  /** POST /api/agents {name, token}: what hoop's legacy webapp did after the registration link. */
  registerToken(name: string, token: string, org: string | null = null): AgentRecord {
    checkName(name);
    if (!LEGACY_TOKEN.test(token)) throw new AgentStoreError(400, 'token: expected x-agt-<uuid>');
    if (this.agents.has(name)) throw new AgentStoreError(409, `agent "${name}" already exists`);
    const hash = sha256Hex(token);
    if (this.byHash(hash)) throw new AgentStoreError(409, 'this token is already registered');
    return this.save({ id: randomUUID(), name, kind: 'token', mode: 'standard', secretHash: hash, org, createdAt: new Date().toISOString() });
  }

  /** PUT /api/agents/NAME {token}: auto-registration replaces the token of an existing agent. */
  upsertToken(name: string, token: string, org: string | null): AgentRecord {
    checkName(name);
    if (!LEGACY_TOKEN.test(token)) throw new AgentStoreError(400, 'token: expected x-agt-<uuid>');
    const existing = this.agents.get(name);
    if (existing && existing.kind !== 'token') throw new AgentStoreError(409, `agent "${name}" exists and is not a token agent`);
    return this.save({ id: existing?.id ?? randomUUID(), name, kind: 'token', mode: 'standard', secretHash: sha256Hex(token), org, createdAt: existing?.createdAt ?? new Date().toISOString() });
  }

  /** POST /api/agents {name, mode}: a DSN agent; the DSN (with its secret) is returned once. */
  createDsn(name: string, mode: AgentMode, grpc: { scheme: DsnScheme; host: string; port: number }): { agent: AgentRecord; dsn: string } {
    checkName(name);
    if (this.agents.has(name)) throw new AgentStoreError(409, `agent "${name}" already exists`);
    const secret = `xagt-${randomBytes(32).toString('base64url')}`;
    const agent = this.save({ id: randomUUID(), name, kind: 'dsn', mode, secretHash: sha256Hex(secret), org: null, createdAt: new Date().toISOString() });
    return { agent, dsn: formatDsn({ scheme: grpc.scheme, name, secret, host: grpc.host, port: grpc.port, mode }) };
  }

  /** The agent a token-less agent on this machine becomes (local mode). */
  local(): AgentRecord {
    return this.agents.get('local') ?? this.save({ id: randomUUID(), name: 'local', kind: 'local', mode: 'standard', secretHash: '', org: null, createdAt: new Date().toISOString() });
  }

  private save(record: AgentRecord): AgentRecord {
    this.agents.set(record.name, record);
    this.persist();
    return record;
  }

  private file(): string {
    return join(this.dataDir!, 'agents.json');
  }

  private load(): void {
    mkdirSync(this.dataDir!, { recursive: true, mode: 0o700 });
    let text: string;
    try {
      text = readFileSync(this.file(), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const parsed = JSON.parse(text) as { agents?: AgentRecord[] };
    for (const a of parsed.agents ?? []) if (typeof a?.name === 'string' && typeof a.secretHash === 'string') this.agents.set(a.name, a);
  }

  private persist(): void {
    if (!this.dataDir) return;
    const tmp = `${this.file()}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ agents: this.list() }, null, 2), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file());
  }
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !AGENT_NAME.test(name)) {
    throw new AgentStoreError(400, 'name: expected 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
}
