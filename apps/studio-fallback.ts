// Without a studio link (-offline, or no .flock) there is no cloud to tell
// about app states: the `studio.*` commands the app statecharts emit are
// acknowledged here at debug level and dropped, instead of being logged as
// commands nobody handles. The studio link, when it runs, owns the prefix and
// its durable outbox; this link is then not started at all.

import { sameExecutor, type CommandsWithPrefix, type CommandTypes } from '../actors/contracts.js';
import type { Link, LinkContext } from '../actors/link.js';
import type { MachineCatalog } from '../machines/catalog.js';

type StudioCommand = CommandsWithPrefix<MachineCatalog, 'studio'>;

/** Every `studio.*` command the machines emit (the session's steps, the apps' reports). */
export const STUDIO_COMMANDS: CommandTypes<StudioCommand> = {
  'studio.report': true,
  'studio.guard': true,
  'studio.testament': true,
  'studio.status': true,
  'studio.register': true,
  'studio.describe': true,
  'studio.sync': true,
  'studio.ready': true,
  'studio.heartbeat': true,
  'studio.drop': true,
  'studio.duplicate': true,
};

export class StudioFallbackLink implements Link {
  readonly name = 'studio-fallback';
  private off: (() => void) | undefined;

  async start(ctx: LinkContext): Promise<void> {
    const logger = ctx.logger;
    this.off = ctx.system.handle(
      'studio',
      sameExecutor<StudioCommand>(STUDIO_COMMANDS, (command, actor) => {
        logger.debug({ actor, command: command.type, state: 'state' in command ? command.state : undefined }, 'no studio link: nothing to report to');
      }),
    );
  }

  async stop(): Promise<void> {
    this.off?.();
    this.off = undefined;
  }
}
