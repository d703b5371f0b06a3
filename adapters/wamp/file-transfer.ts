// `write_data`: a DEV build archive uploaded in hex chunks between "BEGIN" and
// "END". The Reagent writes `<appsDir>/build/<fileName>`, by name alone, so two
// apps of one name overwrote each other's sources; here it goes to the app's
// own upload dir, keyed by the container name the call carries (stage and app
// key): `<appsDir>/uploads/<containerName>/<fileName>`. Unlike the Reagent, which appends
// straight into the final file, chunks go to a hidden `.part` file that is
// renamed on END: the builder never sees half an archive, and a failed upload
// leaves the previous archive in place. Each transfer is keyed by container
// name and transfer id; chunks of one transfer are written in arrival order.
//
// Every upload is a peer's input, so each dimension is bounded (UPLOAD_LIMITS):
// uploads in flight (3000 concurrent BEGINs once held 3020 file descriptors),
// bytes per archive and across all of them, chunks queued per upload, free
// disk (the disk guard's REAGENT_DISK_MIN_MIB, checked at BEGIN and while
// appending), and time: an upload without a chunk for `idleTimeoutMs` (on
// the injected clock) is dropped with its file descriptor and part file.
import { open, rename, rm, mkdir, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock, TimerHandle } from '../../actors/clock.js';
import { DEFAULT_DISK_THRESHOLDS } from '../../apps/executors/disk-guard.js';
import { formatBytes, freeBytes as statfsFreeBytes } from '../docker/disk.js';
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

export interface UploadLimits {
  /** Uploads in progress at once; a BEGIN beyond it is refused. */
  maxConcurrent: number;
  /** Largest archive accepted. */
  maxBytes: number;
  /** Bytes held by all uploads in progress together. */
  maxTotalBytes: number;
  /** Chunks of one upload waiting to be written; more means the caller does not wait for answers. */
  maxQueuedChunks: number;
  /** A transfer without a chunk for this long is abandoned. */
  idleTimeoutMs: number;
  /** Free space is read again after this many bytes were written. */
  diskCheckEveryBytes: number;
  /** Free space that must remain on the filesystem of the build directory (REAGENT_DISK_MIN_MIB). */
  diskMinBytes: number;
}

const MiB = 1024 * 1024;

/** The defaults (README, "DEV build archives"). */
export const UPLOAD_LIMITS: UploadLimits = {
  maxConcurrent: 4,
  maxBytes: 2 * 1024 * MiB,
  maxTotalBytes: 4 * 1024 * MiB,
  maxQueuedChunks: 16,
  idleTimeoutMs: 10 * 60_000,
  diskCheckEveryBytes: 16 * MiB,
  diskMinBytes: DEFAULT_DISK_THRESHOLDS.minBytes,
};

export interface FileTransfersOptions extends Partial<UploadLimits> {
  appsDir: string;
  clock: Clock;
  onProgress(p: TransferProgress): void;
  /** The transfer was abandoned or failed; the apps link resets the app. */
  onFailed(containerName: string, reason: string): void;
  /** Bytes available on the filesystem holding `path` (statfs by default). */
  freeBytes?: (path: string) => Promise<number>;
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
  /** Chunks accepted and not yet written. */
  queued: number;
  /** Bytes written since free space was last read. */
  sinceDiskCheck: number;
  idle: TimerHandle | null;
}

export class FileTransfers {
  private readonly active = new Map<string, Transfer>();
  /** BEGINs between their checks and their `active` entry (opening the file). */
  private opening = 0;
  private readonly limits: UploadLimits;
  private readonly freeBytes: (path: string) => Promise<number>;

  constructor(private readonly opts: FileTransfersOptions) {
    const given = Object.fromEntries(Object.entries(opts).filter(([k, v]) => k in UPLOAD_LIMITS && v !== undefined)) as Partial<UploadLimits>;
    this.limits = { ...UPLOAD_LIMITS, ...given };
    this.freeBytes = opts.freeBytes ?? statfsFreeBytes;
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Bytes held by the uploads in progress. */
  get bytesInFlight(): number {
    let n = 0;
    for (const t of this.active.values()) n += t.written;
    return n;
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
    if (t.queued >= this.limits.maxQueuedChunks) {
      const reason = `write_data: more than ${this.limits.maxQueuedChunks} chunks of upload ${c.id} waiting to be written: send the next chunk once the previous one was answered`;
      await this.abort(key, reason, true);
      throw new DeviceApiError(WAMP_ERRORS.canceled, reason, { limit: this.limits.maxQueuedChunks });
    }
    t.queued++;
    const step = t.chain.then(() => (c.chunk === 'END' ? this.end(t) : this.append(t, c.chunk)));
    t.chain = step.catch(() => {});
    try {
      await step;
    } catch (err) {
      await this.abort(key, (err as Error).message, true);
      throw err;
    } finally {
      t.queued--;
    }
  }

  /** Drops every transfer (the link stops). */
  async close(): Promise<void> {
    for (const key of [...this.active.keys()]) await this.abort(key, 'agent stopping', false);
  }

  private async begin(key: string, c: TransferChunk): Promise<void> {
    const { maxConcurrent, maxBytes, maxTotalBytes, diskMinBytes } = this.limits;
    if (this.active.size + this.opening >= maxConcurrent) {
      throw new DeviceApiError(
        WAMP_ERRORS.canceled,
        `write_data: ${maxConcurrent} uploads are already in progress (the limit); finish one first (an upload without a chunk for ${Math.round(this.limits.idleTimeoutMs / 1000)} s is dropped)`,
        { limit: maxConcurrent },
      );
    }
    if (c.total > maxBytes) throw fail('args[3] (total)', `at most ${maxBytes} bytes (${formatBytes(maxBytes)}, the largest build archive accepted)`, c.total);
    if (this.bytesInFlight + c.total > maxTotalBytes) {
      throw new DeviceApiError(WAMP_ERRORS.canceled, `write_data: uploads in progress hold ${formatBytes(this.bytesInFlight)}; ${formatBytes(c.total)} more would pass the ${formatBytes(maxTotalBytes)} limit for all uploads together`, { limit: maxTotalBytes });
    }
    const finalPath = resolveInside(this.opts.appsDir, APP_DIRS.uploads, c.containerName, c.fileName);
    const partPath = resolveInside(this.opts.appsDir, APP_DIRS.uploads, c.containerName, `.${c.fileName}.${safeId(c.id)}.part`);
    this.opening++;
    let handle: FileHandle;
    try {
      await mkdir(dirname(finalPath), { recursive: true });
      await this.requireDisk(dirname(finalPath), c.total, `an upload of ${formatBytes(c.total)}`);
      handle = await open(partPath, 'w', 0o600);
    } finally {
      this.opening--;
    }
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
      queued: 0,
      sinceDiskCheck: 0,
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
    const { maxBytes, maxTotalBytes, diskCheckEveryBytes } = this.limits;
    if (t.written + data.length > maxBytes) {
      throw new DeviceApiError(WAMP_ERRORS.invalidArgument, `write_data: ${t.fileName} would exceed ${maxBytes} bytes (${formatBytes(maxBytes)}, the largest build archive accepted)`, {
        field: 'args[0] (chunk)',
        expected: 'a smaller file',
      });
    }
    if (this.bytesInFlight + data.length > maxTotalBytes) {
      throw new DeviceApiError(WAMP_ERRORS.canceled, `write_data: uploads in progress would hold more than ${formatBytes(maxTotalBytes)} together`, { limit: maxTotalBytes });
    }
    if (t.sinceDiskCheck + data.length >= diskCheckEveryBytes) {
      await this.requireDisk(dirname(t.partPath), data.length, `the next ${formatBytes(data.length)} of ${t.fileName}`);
      t.sinceDiskCheck = 0;
    }
    await t.handle.write(data);
    t.written += data.length;
    t.sinceDiskCheck += data.length;
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

  /** Refuses unless `bytes` more still leave the disk guard's minimum free. */
  private async requireDisk(dir: string, bytes: number, what: string): Promise<void> {
    let free: number;
    try {
      free = await this.freeBytes(dir);
    } catch {
      return; // unknown (as the disk guard): the write itself reports ENOSPC
    }
    const min = this.limits.diskMinBytes;
    if (free - bytes < min) {
      throw new DeviceApiError(
        WAMP_ERRORS.canceled,
        `write_data: disk: only ${formatBytes(free)} free on the filesystem of ${dir}; ${what} must leave at least ${formatBytes(min)} free (REAGENT_DISK_MIN_MIB)`,
        { freeBytes: free, minBytes: min },
      );
    }
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
      void this.abort(t.key, `no chunk for ${Math.round(this.limits.idleTimeoutMs / 1000)} s: upload abandoned`, true);
    }, this.limits.idleTimeoutMs);
  }
}

function safeId(id: string): string {
  return id.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'x';
}
