// Machine name -> what it accepts, emits and is spawned with: the contract the
// compiler checks between adapters and machines (see actors/contracts.ts).
// Types only; the runtime's table of machines is the registry.
import type { AppCommand, AppInbound, AppInput } from './app.js';
import type { ConnectionCommand, ConnectionInbound, ConnectionInput, LinkPrefix } from './connection.js';
import type { CredentialsCommand, CredentialsInbound, CredentialsInput } from './credentials.js';
import type { GatewaySessionCommand, GatewaySessionInbound, GatewaySessionInput } from './gateway-session.js';
import type { StudioSessionCommand, StudioSessionInbound, StudioSessionInput } from './studio-session.js';
import type { StudioTerminalCommand, StudioTerminalInbound, StudioTerminalInput } from './studio-terminal.js';
import type { UpdateCommand, UpdateInbound, UpdateInput } from './update.js';

/** A type alias, not an interface: it must fit `Catalog`'s index signature. */
export type MachineCatalog = {
  connection: { events: ConnectionInbound; commands: ConnectionCommand<LinkPrefix>; input: ConnectionInput & { link: LinkPrefix } };
  app: { events: AppInbound; commands: AppCommand; input: AppInput };
  'studio-session': { events: StudioSessionInbound; commands: StudioSessionCommand; input: StudioSessionInput };
  credentials: { events: CredentialsInbound; commands: CredentialsCommand; input: CredentialsInput };
  'gateway-session': { events: GatewaySessionInbound; commands: GatewaySessionCommand; input: GatewaySessionInput };
  update: { events: UpdateInbound; commands: UpdateCommand; input: UpdateInput };
  'studio-terminal': { events: StudioTerminalInbound; commands: StudioTerminalCommand; input: StudioTerminalInput };
};

export type MachineName = keyof MachineCatalog & string;

