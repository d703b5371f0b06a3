// Without a studio link (-offline, or no .flock) there is no cloud to tell
// about app states: the `studio.*` commands the app statecharts emit are
// acknowledged here at debug level and dropped, instead of being logged as
// commands nobody handles. The studio link, when it runs, owns the prefix and
// its durable outbox; this link is then not started at all.

import type { Link, LinkContext } from '../actors/link.js';

export class StudioFallbackLink implements Link {
  readonly name = 'studio-fallback';
  private off: (() => void) | undefined;

  async start(ctx: LinkContext): Promise<void> {
    const logger = ctx.logger;
    this.off = ctx.system.handle('studio', (command, actor) => {
      logger.debug({ actor, command: command.type, state: command['state'] }, 'no studio link: nothing to report to');
    });
  }

  async stop(): Promise<void> {
    this.off?.();
    this.off = undefined;
  }
}
