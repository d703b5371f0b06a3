// Image housekeeping: existence checks, removal and pruning for the disk guard.

import type { EngineDeps } from './types.js';
import { parseImageRef } from './naming.js';
import { statusCodeOf, toEngineError } from './errors.js';

type Ctx = Pick<EngineDeps, 'docker' | 'logger'>;

export async function imageExists(ctx: Ctx, ref: string): Promise<boolean> {
  parseImageRef(ref);
  try {
    await ctx.docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if (statusCodeOf(err) === 404) return false;
    throw toEngineError(err, `inspect image ${ref}`);
  }
}

/** Removes the tag (and the image when it was the last one); false if there was none. */
export async function removeImage(ctx: Ctx, ref: string, opts: { force?: boolean } = {}): Promise<boolean> {
  parseImageRef(ref);
  try {
    await ctx.docker.getImage(ref).remove({ force: opts.force ?? false });
    return true;
  } catch (err) {
    if (statusCodeOf(err) === 404) return false;
    throw toEngineError(err, `remove image ${ref}`);
  }
}

export interface PruneResult {
  deleted: string[];
  spaceReclaimed: number;
}

/**
 * Dangling images only by default; `all` also removes tagged images no container
 * uses (what the disk guard does in an emergency). `label` narrows either to images
 * carrying that label (`key` or `key=value`).
 */
export async function pruneImages(ctx: Ctx, opts: { all?: boolean; label?: string } = {}): Promise<PruneResult> {
  const filters: Record<string, string[]> = { dangling: [opts.all ? 'false' : 'true'] };
  if (opts.label) filters['label'] = [opts.label];
  try {
    const res = await ctx.docker.pruneImages({ filters });
    const deleted = (res.ImagesDeleted ?? []).map((d) => d.Deleted ?? d.Untagged ?? '').filter((x) => x !== '');
    ctx.logger.info({ deleted: deleted.length, spaceReclaimed: res.SpaceReclaimed }, 'pruned images');
    return { deleted, spaceReclaimed: res.SpaceReclaimed ?? 0 };
  } catch (err) {
    throw toEngineError(err, 'prune images');
  }
}
