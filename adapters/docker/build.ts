// DEV images: built on the device from the uploaded archive.
//
// The archive goes to Docker unchanged (the engine accepts gzip contexts); it is only
// read here to choose the Dockerfile, since `Dockerfile.<arch>` takes precedence
// when the app ships one for this device's architecture.

import { createReadStream } from 'node:fs';
import type { EngineDeps } from './types.js';
import { parseImageRef } from './naming.js';
import { EngineError, toEngineError } from './errors.js';
import { abortable, jsonItems, perItem, streamItemError, type JsonItem } from './json-stream.js';
import { listArchiveEntries } from './tgz-entries.js';

type Ctx = Pick<EngineDeps, 'docker' | 'logger' | 'arch'>;

export interface BuildProgress {
  /** One line of build output ("Step 2/4 : RUN …", command output, pull status of the base). */
  line: string;
}

export interface BuildResult {
  tag: string;
  /** "Dockerfile.<arch>" or "Dockerfile". */
  dockerfile: string;
  imageId?: string;
}

/** Which Dockerfile the archive's root provides for `arch`, or undefined. */
export function chooseDockerfile(entryNames: readonly string[], arch: string): string | undefined {
  const files = new Set(entryNames);
  const specific = `Dockerfile.${arch}`;
  if (files.has(specific)) return specific;
  if (files.has('Dockerfile')) return 'Dockerfile';
  return undefined;
}

export interface BuildOptions {
  labels?: Record<string, string>;
  buildArgs?: Record<string, string>;
  /** Do not reuse cached layers. */
  noCache?: boolean;
}

export async function buildFromTgz(
  ctx: Ctx,
  tgzPath: string,
  tag: string,
  onProgress: (p: BuildProgress) => void,
  signal?: AbortSignal,
  opts: BuildOptions = {},
): Promise<BuildResult> {
  parseImageRef(tag, 'build tag');
  const what = `build ${tag}`;
  return abortable(what, signal, async () => {
    let names: string[];
    try {
      // Only root-level Dockerfiles matter: keeping every entry would let an archive of millions of names fill the heap.
      const dockerfiles = await listArchiveEntries(tgzPath, { keep: (e) => (e.type === 'file' || e.type === 'symlink') && e.name.startsWith('Dockerfile') && !e.name.includes('/') });
      names = dockerfiles.map((e) => e.name);
    } catch (err) {
      throw new EngineError('invalid-archive', `${what}: cannot read ${tgzPath}: ${(err as Error).message}`, { cause: err });
    }
    const dockerfile = chooseDockerfile(names, ctx.arch);
    if (!dockerfile) {
      throw new EngineError('invalid-archive', `${what}: the archive has neither Dockerfile.${ctx.arch} nor Dockerfile at its root`);
    }
    onProgress({ line: `using ${dockerfile}` });
    let stream: NodeJS.ReadableStream;
    try {
      stream = await ctx.docker.buildImage(createReadStream(tgzPath), {
        t: tag,
        dockerfile,
        rm: true,
        forcerm: true,
        ...(opts.labels ? { labels: opts.labels } : {}),
        ...(opts.buildArgs ? { buildargs: opts.buildArgs } : {}),
        ...(opts.noCache ? { nocache: true } : {}),
        ...(signal ? { abortSignal: signal } : {}),
      });
    } catch (err) {
      const e = toEngineError(err, what);
      throw e.code === 'engine' ? new EngineError('stream-error', e.message, { cause: err }) : e;
    }
    let imageId: string | undefined;
    let partial = '';
    const emit = (text: string, flush: boolean): void => {
      const lines = (partial + text).split(/\r?\n/);
      partial = flush ? '' : (lines.pop() ?? '');
      for (const line of lines) if (line !== '') onProgress({ line });
    };
    const progress = perItem(ctx.logger, what, (item: JsonItem) => {
      const s = item['stream'];
      if (typeof s === 'string') emit(s, false);
      const status = item['status'];
      if (typeof status === 'string') onProgress({ line: typeof item['id'] === 'string' ? `${item['id']}: ${status}` : status });
      const aux = item['aux'];
      if (typeof aux === 'object' && aux !== null && typeof (aux as { ID?: unknown }).ID === 'string') {
        imageId = (aux as { ID: string }).ID;
      }
    });
    const flush = perItem(ctx.logger, what, () => emit('', true));
    for await (const item of jsonItems(stream, signal)) {
      const error = streamItemError(item);
      if (error !== undefined) {
        flush(undefined);
        throw new EngineError('stream-error', `${what}: ${error}`);
      }
      progress(item);
    }
    if (partial !== '') flush(undefined);
    ctx.logger.info({ tag, dockerfile, imageId }, 'image built');
    return imageId ? { tag, dockerfile, imageId } : { tag, dockerfile };
  });
}
