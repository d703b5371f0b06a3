// `write_data`: a DEV build archive uploaded in hex chunks between "BEGIN" and
// "END". The Reagent writes `<appsDir>/build/<fileName>`, by name alone, so two
// apps of one name overwrote each other's sources; here it goes to the app's
// own upload dir, keyed by the container name the call carries (stage and app
// key): `<appsDir>/uploads/<containerName>/<fileName>`. Unlike the Reagent, which appends
// straight into the final file, chunks go to a hidden `.part` file that is
// renamed on END: the builder never sees half an archive, and a failed upload
// leaves the previous archive in place. Each transfer is keyed by container
// name and transfer id; chunks of one transfer are written in arrival order.
import { open, rename, rm, mkdir, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock, TimerHandle } from '../../actors/clock.js';
import { APP_DIRS, NamingError, parseAppContainerName, resolveInside, validateFileName } from '../docker/naming.js';
import { DeviceApiError, WAMP_ERRORS } from './errors.js';
import { fail, toUint } from './validate.js';

export interface TransferChunk {
  chunk: string;
  fileName: string;
  containerName: string;
  total: number;
  id: string;
}

export interface TransferProgress {
  containerName: string;
  /** What the Reagent publishes on the app's log topic. */
  message: { id: string; status: 'Transfer Progress:'; progress: string };
}

export interface FileTransfersOptions {
  appsDir: string;
  clock: Clock;
  onProgress(p: TransferProgress): void;
  /** The transfer was abandoned or failed; the apps link resets the app. */
  onFailed(containerName: string, reason: string): void;
  /** A transfer without a chunk for this long is abandoned. */
  idleTimeoutMs?: number;
  /** Largest archive accepted. */
  maxBytes?: number;
}

const MAX_HEX_CHUNK = 32 * 1024 * 1024;

/** Reads write_data's positional arguments; errors name the argument. */
export function parseTransferChunk(args: unknown[]): TransferChunk {
  const [chunk, fileName, containerName, total, id] = args;
  if (typeof chunk !== 'string' || chunk === '' || chunk.length > MAX_HEX_CHUNK) {
    throw fail('args[0] (chunk)', '"BEGIN", "END" or hex-encoded data', chunk);
  }
  const named = (field: string, fn: () => string): string => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof NamingError) throw fail(field, err.expected, err.value);
      throw err;
    }
  };
  const file = named('args[1] (fileName)', () => validateFileName(fileName, 'fileName'));
  // Lowercase, as containers are named: the upload dir is the one the build looks in.
  const container = named('args[2] (containerName)', () => parseAppContainerName(containerName).container);
  const n = toUint(total);
  if (n === undefined) throw fail('args[3] (total)', 'a non-negative integer', total);
  let transferId: string;
  if (typeof id === 'string' && id !== '' && id.length <= 128) transferId = id;
  else if (typeof id === 'number' && Number.isSafeInteger(id)) transferId = String(id);
  else throw fail('args[4] (id)', 'a transfer id (string or integer)', id);
  return { chunk, fileName: file, containerName: container, total: n, id: transferId };
}

interface Transfer {
  key: string;
  fileName: string;
  containerName: string;
  partPath: string;
  finalPath: string;
  handle: FileHandle;
  written: number;
  total: number;
  /** Chunks of one transfer are applied one after the other. */
  chain: Promise<void>;
  idle: TimerHandle | null;
}

export class FileTransfers {
  private readonly active = new Map<string, Transfer>();
  private readonly idleTimeoutMs: number;
  private readonly maxBytes: number;

  constructor(private readonly opts: FileTransfersOptions) {
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 10 * 60_000;
    this.maxBytes = opts.maxBytes ?? 8 * 1024 ** 3;
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Applies one write_data call. Resolves when the chunk is on disk. */
  async write(c: TransferChunk): Promise<void> {
    const key = `${c.containerName}/${c.id}`;
    if (c.chunk === 'BEGIN') {
      await this.abort(key, 'restarted by a new BEGIN', false);
      await this.begin(key, c);
      return;
    }
    const t = this.active.get(key);
    if (!t) {
      throw new DeviceApiError(WAMP_ERRORS.invalidArgument, `write_data: no transfer ${c.id} for ${c.containerName} in progress: send "BEGIN" first`, {
        field: 'args[0] (chunk)',
        expected: '"BEGIN" before data',
      });
    }
    const step = t.chain.then(() => (c.chunk === 'END' ? this.end(t) : this.append(t, c.chunk)));
    t.chain = step.catch(() => {});
    try {
      await step;
    } catch (err) {
      await this.abort(key, (err as Error).message, true);
      throw err;
    }
  }

  /** Drops every transfer (the link stops). */
  async close(): Promise<void> {
    for (const key of [...this.active.keys()]) await this.abort(key, 'agent stopping', false);
  }

  private async begin(key: string, c: TransferChunk): Promise<void> {
    const finalPath = resolveInside(this.opts.appsDir, APP_DIRS.uploads, c.containerName, c.fileName);
    const partPath = resolveInside(this.opts.appsDir, APP_DIRS.uploads, c.containerName, `.${c.fileName}.${safeId(c.id)}.part`);
    await mkdir(dirname(finalPath), { recursive: true });
    const handle = await open(partPath, 'w', 0o600);
    const t: Transfer = {
      key,
      fileName: c.fileName,
      containerName: c.containerName,
      partPath,
      finalPath,
      handle,
      written: 0,
      total: c.total,
      chain: Promise.resolve(),
      idle: null,
    };
    this.active.set(key, t);
    this.touch(t);
  }

  private async append(t: Transfer, hex: string): Promise<void> {
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) {
      throw fail('args[0] (chunk)', '"BEGIN", "END" or hex-encoded data (an even number of hex digits)', hex);
    }
    const data = Buffer.from(hex, 'hex');
    if (t.written + data.length > this.maxBytes) {
      throw new DeviceApiError(WAMP_ERRORS.invalidArgument, `write_data: ${t.fileName} would exceed ${this.maxBytes} bytes`, { field: 'args[0] (chunk)', expected: 'a smaller file' });
    }
    await t.handle.write(data);
    t.written += data.length;
    this.touch(t);
    const pct = t.total > 0 ? Math.min(100, (t.written / t.total) * 100) : 0;
    this.opts.onProgress({ containerName: t.containerName, message: { id: t.key.slice(t.containerName.length + 1), status: 'Transfer Progress:', progress: `${pct.toFixed(3)}%` } });
  }

  private async end(t: Transfer): Promise<void> {
    await t.handle.sync();
    await t.handle.close();
    await rename(t.partPath, t.finalPath);
    this.forget(t);
  }

  private async abort(key: string, reason: string, report: boolean): Promise<void> {
    const t = this.active.get(key);
    if (!t) return;
    this.forget(t);
    await t.handle.close().catch(() => {});
    await rm(t.partPath, { force: true }).catch(() => {});
    if (report) this.opts.onFailed(t.containerName, reason);
  }

  private forget(t: Transfer): void {
    if (t.idle) this.opts.clock.clearTimer(t.idle);
    t.idle = null;
    this.active.delete(t.key);
  }

  private touch(t: Transfer): void {
    if (t.idle) this.opts.clock.clearTimer(t.idle);
    t.idle = this.opts.clock.setTimer(() => {
      t.idle = null;
      void this.abort(t.key, `no chunk for ${Math.round(this.idleTimeoutMs / 1000)} s: upload abandoned`, true);
    }, this.idleTimeoutMs);
  }
}

function safeId(id: string): string {
  return id.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'x';
}
