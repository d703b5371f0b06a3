// Engine liveness. dockerode's /_ping accepts an AbortSignal at runtime, but its
// typings do not declare the option, hence the narrow local signature.

import type Dockerode from 'dockerode';
import { EngineError, toEngineError } from './errors.js';

interface PingWithSignal {
  ping(opts: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/** Resolves when the engine answers within `timeoutMs`; throws EngineError('unreachable'|…) otherwise. */
export async function pingEngine(docker: Dockerode, timeoutMs = 5000): Promise<void> {
  try {
    await (docker as unknown as PingWithSignal).ping({ abortSignal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = toEngineError(err, 'ping');
    // Our own timeout firing means "no answer", not a caller's abort.
    throw e.code === 'aborted' ? new EngineError('unreachable', `ping: no answer within ${timeoutMs} ms`, { cause: err }) : e;
  }
}
