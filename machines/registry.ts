// Every machine the runtime can spawn, by name and version. The version is
// journaled with each spawn, so a replay can tell a recording made by another
// machine definition from a real divergence.
import type { AnyStateMachine } from 'xstate';
import { CONNECTION_MACHINE_VERSION, connectionMachine } from './connection.js';
import { APP_MACHINE_VERSION, appMachine } from './app.js';
import { STUDIO_SESSION_VERSION, studioSessionMachine } from './studio-session.js';
import { CREDENTIALS_MACHINE_VERSION, credentialsMachine } from './credentials.js';
import { GATEWAY_SESSION_MACHINE_VERSION, gatewaySessionMachine } from './gateway-session.js';
import { UPDATE_MACHINE_VERSION, updateMachine } from './update.js';
import { STUDIO_TERMINAL_MACHINE_VERSION, studioTerminalMachine } from './studio-terminal.js';

export interface MachineDefinition {
  name: string;
  /** Bump when a change alters behaviour on purpose (re-record the fixtures then). */
  version: number;
  logic: AnyStateMachine;
  /**
   * The first version whose events and context carry no secret. A recording
   * of an older one had its secrets redacted by the export, so it cannot
   * replay; it is refused with that reason.
   */
  secretsLeftAt?: number;
}

/** Why a recording of `definition` at `version` is refused: the reason names the secrets change when it is the cause. */
export function versionRefusal(definition: MachineDefinition, version: unknown): string {
  const mismatch = `machine "${definition.name}" v${String(version)}, this agent has v${definition.version}`;
  if (definition.secretsLeftAt !== undefined && typeof version === 'number' && version < definition.secretsLeftAt) {
    return `recorded before secrets left the journal (${mismatch}): its secrets were redacted from the recording, so it cannot be replayed exactly`;
  }
  return mismatch;
}

export class MachineRegistry {
  private readonly byName = new Map<string, MachineDefinition>();

  constructor(definitions: MachineDefinition[] = []) {
    for (const d of definitions) this.register(d);
  }

  register(definition: MachineDefinition): this {
    if (this.byName.has(definition.name)) throw new Error(`machine "${definition.name}" is registered twice`);
    this.byName.set(definition.name, definition);
    return this;
  }

  get(name: string): MachineDefinition | undefined {
    return this.byName.get(name);
  }

  list(): MachineDefinition[] {
    return [...this.byName.values()];
  }

  /** `{name: version}` of every machine, as journaled in the runs table. */
  versions(): Record<string, number> {
    return Object.fromEntries(this.list().map((d) => [d.name, d.version]));
  }
}

/** The machines this agent ships. Passed in, never imported as a singleton by the runtime. */
export function builtinMachines(): MachineRegistry {
  return new MachineRegistry([
    { name: 'connection', version: CONNECTION_MACHINE_VERSION, logic: connectionMachine },
    { name: 'app', version: APP_MACHINE_VERSION, logic: appMachine },
    { name: 'studio-session', version: STUDIO_SESSION_VERSION, logic: studioSessionMachine },
    { name: 'credentials', version: CREDENTIALS_MACHINE_VERSION, logic: credentialsMachine, secretsLeftAt: 2 },
    { name: 'gateway-session', version: GATEWAY_SESSION_MACHINE_VERSION, logic: gatewaySessionMachine },
    { name: 'update', version: UPDATE_MACHINE_VERSION, logic: updateMachine },
    { name: 'studio-terminal', version: STUDIO_TERMINAL_MACHINE_VERSION, logic: studioTerminalMachine },
  ]);
}
