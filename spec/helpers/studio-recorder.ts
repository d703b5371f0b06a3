// Stands in for the studio link's executors in specs: every `studio.*`
// command goes to one function.
import { sameExecutor, type ExecutorsFor } from '../../actors/contracts.js';
import type { Command } from '../../actors/types.js';
import type { MachineCatalog } from '../../machines/catalog.js';
import { STUDIO_COMMANDS } from '../../apps/studio-fallback.js';

export function everyStudioCommand(run: (command: Command, actor: string) => void): ExecutorsFor<MachineCatalog, 'studio'> {
  return sameExecutor(STUDIO_COMMANDS, run);
}
