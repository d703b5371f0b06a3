// The compile-time contracts between adapters and machines: which events an
// actor accepts, which commands a prefix carries, and that every command has
// exactly one executor. Types only, plus the one constructor of an address;
// nothing here runs per event. Validation of untyped input (the wire, the CLI,
// a journal read back for replay) happens at those boundaries, not here.
import type { Command } from './types.js';

/** What the runtime knows about one machine: what it accepts, emits, and is spawned with. */
export interface MachineContract {
  events: { type: string };
  commands: { type: string };
  input: unknown;
}

/** Machine name -> contract. `machines/catalog.ts` has the agent's; tests may bring their own. */
export type Catalog = { [machine: string]: MachineContract };

/**
 * A catalog that checks nothing: every name, any event, any command. For specs
 * that drive the runtime itself with machines of their own.
 */
export type LooseCatalog = {
  [machine: string]: { events: { type: string; [key: string]: unknown }; commands: Command; input: unknown };
};

declare const machineBrand: unique symbol;

/**
 * The id of an actor running machine `M`. Branded so that an id built by hand
 * (a plain string) does not type-check as an address: ids come from `actorId`
 * or a parser such as `AppId.parse`, which know which machine is behind them.
 */
export type ActorId<M extends string> = string & { readonly [machineBrand]: M };

/** Names `id` as an actor running `machine`. The one place an address is minted. */
export function actorId<M extends string>(machine: M, id: string): ActorId<M> {
  void machine;
  return id as ActorId<M>;
}

/** An address in catalog `C`: branded in a real catalog, any string in a loose one. */
export type Address<C extends Catalog, M extends keyof C & string> = string extends keyof C ? string : ActorId<M>;

/** The events machine `M` accepts, as adapters send them (no runtime stamp). */
export type EventOf<C extends Catalog, M extends keyof C> = C[M]['events'];

/** Every field of an event but its type: what `system.send` takes as payload. Keeps index signatures. */
export type PayloadOf<E extends { type: string }, T extends string> = string extends E['type']
  ? { [key: string]: unknown }
  : E extends { type: T }
    ? { [K in keyof E as K extends 'type' ? never : K]: E[K] }
    : never;

/** The payload argument: optional when every field is, required otherwise. */
export type PayloadArg<E extends { type: string }, T extends string> =
  {} extends PayloadOf<E, T> ? [payload?: PayloadOf<E, T>] : [payload: PayloadOf<E, T>];

/** Every command any machine of `C` may emit. */
export type CommandOf<C extends Catalog> = C[keyof C]['commands'];

/** The prefix of a command type: the part before the first dot, by which adapters register. */
export type PrefixOf<T extends string> = T extends `${infer P}.${string}` ? P : T;

/** The command prefixes of catalog `C`. */
export type CommandPrefix<C extends Catalog> = PrefixOf<CommandOf<C>['type']>;

/** The commands of `C` that carry prefix `P`. */
export type CommandsWithPrefix<C extends Catalog, P extends string> = Extract<CommandOf<C>, { type: `${P}.${string}` }>;

/** The machines of `C` that emit commands with prefix `P`: who a command's `actor` can be. */
export type EmitterOf<C extends Catalog, P extends string> = {
  [M in keyof C & string]: [Extract<C[M]['commands'], { type: `${P}.${string}` }>] extends [never] ? never : M;
}[keyof C & string];

/**
 * One executor per command type, in the style of balena-supervisor's
 * `Executors<T>`: a table missing a command, or naming one the machines never
 * emit, does not compile.
 */
export type Executors<C extends { type: string }, A extends string = string> = {
  [K in C['type']]: (command: CommandNamed<C, K>, actor: A) => void | Promise<void>;
};

/** The member of `C` with type `K`, narrowed also inside a member whose type is a union (`docker.${DockerOp}`). */
export type CommandNamed<C extends { type: string }, K extends string> = C extends { type: infer T }
  ? K extends T
    ? C & { type: K }
    : never
  : never;

/** The executor table an adapter registers for prefix `P` of catalog `C`. */
export type ExecutorsFor<C extends Catalog, P extends string> = Executors<
  CommandsWithPrefix<C, P>,
  string extends keyof C ? string : ActorId<EmitterOf<C, P>>
>;

/**
 * The same executor table, each executor run only while `allow()` holds (a
 * link that stopped ignores what its machines still ask). Keeps the table's
 * type, so the compiler still sees one executor per command.
 */
export function guardExecutors<E extends { [type: string]: (command: never, actor: never) => unknown }>(table: E, allow: () => boolean): E {
  const guarded: { [type: string]: (command: never, actor: never) => unknown } = {};
  for (const [type, run] of Object.entries(table)) guarded[type] = (command, actor) => (allow() ? run(command, actor) : undefined);
  return guarded as E;
}

/** Every command type of `C`, each named once: an object literal, so one missing or extra does not compile. */
export type CommandTypes<C extends { type: string }> = { [K in C['type']]: true };

/**
 * A table handing every command type of `C` to one function: for adapters that
 * treat a prefix as one stream (record, acknowledge, route on). `types` is an
 * object literal naming each type once, so a command missing from it, or one
 * the union lacks, is still a compile error.
 */
export function sameExecutor<C extends { type: string }, A extends string = string>(
  types: CommandTypes<C>,
  run: (command: C, actor: A) => void | Promise<void>,
): Executors<C, A> {
  const table = {} as Executors<C, A>;
  // `run` takes any command of `C`, so it fits every entry.
  for (const type of Object.keys(types) as Array<C['type']>) table[type] = run;
  return table;
}
