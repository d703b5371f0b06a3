// Release builds of DEV apps: tag the built image with the release name and
// push it. Like pulls, a push reports most failures inside its progress stream.

import type Dockerode from 'dockerode';
import { silentLogger, type EngineLogger, type RegistryCredentials } from './types.js';
import { parseImageRef } from './naming.js';
import { EngineError, toEngineError } from './errors.js';
import { abortable, jsonItems, perItem, streamItemError, type JsonItem } from './json-stream.js';

/** Gives `source` the additional name `target` (`docker tag`). */
export async function tagImage(docker: Dockerode, source: string, target: string): Promise<void> {
  const ref = parseImageRef(target, 'tag');
  const repo = `${ref.domain ? `${ref.domain}/` : ''}${ref.path}`;
  try {
    await docker.getImage(source).tag({ repo, tag: ref.tag ?? 'latest' });
  } catch (err) {
    throw toEngineError(err, `tag ${source} as ${target}`);
  }
}

export async function pushImage(
  docker: Dockerode,
  image: string,
  credentials: RegistryCredentials | undefined,
  onLine: (line: string) => void,
  signal?: AbortSignal,
  logger: EngineLogger = silentLogger,
): Promise<void> {
  parseImageRef(image, 'image');
  const what = `push ${image}`;
  await abortable(what, signal, async () => {
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await docker.getImage(image).push({
        ...(credentials ? { authconfig: { ...credentials } } : {}),
        ...(signal ? { abortSignal: signal } : {}),
      })) as NodeJS.ReadableStream;
    } catch (err) {
      throw toEngineError(err, what);
    }
    const progress = perItem(logger, what, (item: JsonItem) => {
      const status = item['status'];
      if (typeof status === 'string' && status !== 'Pushing' && status !== 'Waiting' && status !== 'Preparing') {
        onLine(typeof item['id'] === 'string' ? `${item['id']}: ${status}` : status);
      }
    });
    for await (const item of jsonItems(stream, signal)) {
      const error = streamItemError(item);
      if (error !== undefined) {
        const unauthorized = /unauthorized|authentication required|no basic auth credentials|denied/i.test(error);
        throw new EngineError(unauthorized ? 'unauthorized' : 'stream-error', `${what}: ${error}`);
      }
      progress(item);
    }
  });
}
