// Image pulls with per-layer progress.
//
// dockerd answers 200 and then reports most failures (unknown tag, a registry that
// goes away mid-pull, and with some engines bad credentials) as items inside the
// progress stream, so the stream is read to the end and any error item fails the pull.

import type { EngineDeps, RegistryCredentials } from './types.js';
import { formatImageRef, parseImageRef } from './naming.js';
import { EngineError, toEngineError } from './errors.js';
import { abortable, jsonItems, perItem, streamItemError, type JsonItem } from './json-stream.js';

type Ctx = Pick<EngineDeps, 'docker' | 'logger'>;

export interface PullProgress {
  /** Layer id (short digest); "" for messages about the whole image. */
  layer: string;
  /** Docker's status text: "Pulling fs layer", "Downloading", "Extracting", "Pull complete", "Digest: …". */
  status: string;
  current?: number;
  total?: number;
}

export interface PullResult {
  image: string;
  digest?: string;
}

export function toPullProgress(item: JsonItem): PullProgress | undefined {
  const status = item['status'];
  if (typeof status !== 'string') return undefined;
  // "Pulling from <repo>" carries the tag in `id`; it is about the image, not a layer.
  const layer = typeof item['id'] === 'string' && !status.startsWith('Pulling from') ? item['id'] : '';
  const p: PullProgress = { layer, status };
  const detail = item['progressDetail'];
  if (typeof detail === 'object' && detail !== null) {
    const { current, total } = detail as { current?: unknown; total?: unknown };
    if (typeof current === 'number') p.current = current;
    if (typeof total === 'number' && total > 0) p.total = total;
  }
  return p;
}

function failure(image: string, message: string): EngineError {
  const unauthorized = /unauthorized|authentication required|no basic auth credentials|denied/i.test(message);
  return new EngineError(unauthorized ? 'unauthorized' : 'stream-error', `pull ${image}: ${message}`);
}

export async function pull(
  ctx: Ctx,
  image: string,
  credentials: RegistryCredentials | undefined,
  onProgress: (p: PullProgress) => void,
  signal?: AbortSignal,
): Promise<PullResult> {
  const ref = parseImageRef(image, 'image');
  // Without a tag the API pulls every tag of the repository; the CLI's default is meant.
  const full = formatImageRef({ ...ref, tag: ref.tag ?? 'latest' });
  const what = `pull ${full}`;
  return abortable(what, signal, async () => {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await ctx.docker.pull(full, {
        ...(credentials ? { authconfig: { ...credentials } } : {}),
        ...(signal ? { abortSignal: signal } : {}),
      });
    } catch (err) {
      const e = toEngineError(err, what);
      throw e.code === 'engine' ? failure(full, e.message.replace(`${what}: `, '')) : e;
    }
    let digest: string | undefined;
    const progress = perItem(ctx.logger, what, (item: JsonItem) => {
      const p = toPullProgress(item);
      if (!p) return;
      const d = /^Digest: (sha256:[0-9a-f]{64})/.exec(p.status);
      if (d) digest = d[1];
      onProgress(p);
    });
    for await (const item of jsonItems(stream, signal)) {
      const error = streamItemError(item);
      if (error !== undefined) throw failure(full, error);
      progress(item);
    }
    ctx.logger.info({ image: full, digest }, 'image pulled');
    return digest ? { image: full, digest } : { image: full };
  });
}
