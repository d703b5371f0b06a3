// The self-update's I/O, the Reagent's protocol (research §7.1):
//   manifest  <base>/re-agent/availableVersions.json  {"production","test","local","all"}
//   binary    <base>/re-agent/linux/<arch>/<version>/reagent
//   checksum  <binary URL>.sha256 (required here: missing or wrong, nothing is installed)
// and the activation the Reagent leaves to an outside script on Linux: the
// versions side by side, `current` swapped, `known-good` kept (layout.ts).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isSemver, type Channel, type UpdateState } from '../../machines/update-rules.js';
import { fetchInto, fetchText, FetchError, shown, type FetchLimits } from './fetch.js';
import { UpdateLayout } from './layout.js';
import { readUpdateState, writeUpdateState } from './state-file.js';

export interface UpdaterOptions {
  agentDir: string;
  /** `.flock update_url`, else `-remoteUpdateURL`. */
  baseUrl: string;
  channel: Channel;
  /** The Reagent's arch names: amd64, arm64, armv7. */
  arch: string;
  current: string;
  /** The running executable (copied into versions/ before the first swap). */
  executable: string;
  limits?: Partial<UpdateLimits>;
}

export interface UpdateLimits {
  manifest: FetchLimits;
  checksum: FetchLimits;
  binary: FetchLimits;
  /** Free space left on the agent dir's file system after the download. */
  reserveBytes: number;
}

const MiB = 1024 * 1024;

export const UPDATE_LIMITS: UpdateLimits = {
  manifest: { maxBytes: 64 * 1024, totalMs: 30_000, idleMs: 15_000 },
  checksum: { maxBytes: 4096, totalMs: 30_000, idleMs: 15_000 },
  // A single executable is ~125 MiB; a slow cellular link may take many minutes.
  binary: { maxBytes: 512 * MiB, totalMs: 30 * 60_000, idleMs: 60_000 },
  reserveBytes: 64 * MiB,
};

export interface Progress {
  /** Bytes since the last report, bytes so far, the size (0 when not announced): the Reagent's payload. */
  increment: number;
  currentBytes: number;
  fileSize: number;
}

export class Updater {
  readonly layout: UpdateLayout;
  private readonly limits: UpdateLimits;

  constructor(private readonly opts: UpdaterOptions) {
    this.layout = new UpdateLayout(opts.agentDir);
    this.limits = {
      manifest: { ...UPDATE_LIMITS.manifest, ...opts.limits?.manifest },
      checksum: { ...UPDATE_LIMITS.checksum, ...opts.limits?.checksum },
      binary: { ...UPDATE_LIMITS.binary, ...opts.limits?.binary },
      reserveBytes: opts.limits?.reserveBytes ?? UPDATE_LIMITS.reserveBytes,
    };
  }

  get manifestUrl(): string {
    return `${trimSlash(this.opts.baseUrl)}/re-agent/availableVersions.json`;
  }

  binaryUrl(version: string): string {
    return `${trimSlash(this.opts.baseUrl)}/re-agent/linux/${this.opts.arch}/${version}/reagent`;
  }

  /** The channel's version from the manifest (the `all` entry when the channel has none). */
  async latest(signal?: AbortSignal): Promise<string> {
    const text = await fetchText(this.manifestUrl, this.limits.manifest, signal);
    return pickVersion(text, this.opts.channel, shown(this.manifestUrl));
  }

  /**
   * Downloads `version` to `<agentDir>/downloads`, checks it against its
   * `.sha256`, asks it for its version, and installs it as
   * `versions/<version>/reagent`. Throws with the reason otherwise.
   */
  async download(version: string, onProgress: (p: Progress) => void, signal?: AbortSignal): Promise<{ path: string; bytes: number }> {
    if (!isSemver(version)) throw new FetchError(`the manifest names ${JSON.stringify(version.slice(0, 64))}, not a version`);
    const url = this.binaryUrl(version);
    // The checksum first: without one nothing is downloaded at all.
    let expected: string;
    try {
      expected = parseChecksum(await fetchText(`${url}.sha256`, this.limits.checksum, signal));
    } catch (err) {
      throw new FetchError(`refusing ${shown(url)}: its checksum ${shown(url)}.sha256 cannot be read (${(err as Error).message}); an update is installed only when its sha256 matches`);
    }
    const dir = this.layout.freshDownloads();
    const file = join(dir, `reagent-${version}.part`);
    // O_EXCL|O_NOFOLLOW in our own 0700 directory: nothing planted is written through.
    const fd = openSync(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o700);
    const hash = createHash('sha256');
    let done = 0;
    let size = 0;
    let reported = 0;
    let lastReport = 0;
    const report = (force: boolean) => {
      const now = Date.now();
      // At most every 250 ms or 1% of the file: the studio sees it move without a flood of messages.
      if (!force && now - lastReport < 250 && (size === 0 || done - reported < size / 100)) return;
      onProgress({ increment: done - reported, currentBytes: done, fileSize: size });
      reported = done;
      lastReport = now;
    };
    try {
      const bytes = await fetchInto(
        url,
        {
          start: (announced) => {
            size = announced ?? 0;
            const room = freeBytes(this.opts.agentDir);
            if (announced !== null && room !== null && room - announced < this.limits.reserveBytes) {
              throw new FetchError(`not enough space in ${this.opts.agentDir}: ${Math.round(room / MiB)} MiB free, the update needs ${Math.round(announced / MiB)} MiB and ${Math.round(this.limits.reserveBytes / MiB)} MiB must stay free`);
            }
            report(true);
          },
          write: (chunk) => {
            writeSync(fd, chunk);
            hash.update(chunk);
            done += chunk.length;
            report(false);
          },
        },
        this.limits.binary,
        signal,
      );
      closeSync(fd);
      report(true);
      const actual = hash.digest('hex');
      if (actual !== expected) throw new FetchError(`refusing ${shown(url)}: its sha256 is ${actual}, the published checksum says ${expected}`);
      const claimed = askVersion(file);
      if (claimed !== version) throw new FetchError(`refusing ${shown(url)}: run with -version it says ${claimed === null ? 'nothing usable' : JSON.stringify(claimed)}, not ${version}`);
      return { path: this.layout.install(file, version), bytes };
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        // closed already
      }
      rmSync(file, { force: true });
      throw err;
    }
  }

  /**
   * Makes `to` the version that runs: the running version is kept (copied in
   * when it ran from elsewhere) and marked known-good, `current` is swapped,
   * and the state file says `probation`. `links`: what `to` must bring up.
   */
  swap(to: string, probation: { probationMs: number; links: string[]; linksMode: 'all' | 'any' }, now: string): UpdateState {
    const from = this.opts.current;
    const before = this.readState();
    const base: UpdateState = {
      phase: 'swapping',
      from,
      to,
      at: now,
      attempts: 0,
      lastInvocation: null,
      probationMs: probation.probationMs,
      links: probation.links,
      linksMode: probation.linksMode,
      blacklist: before?.blacklist ?? [],
      reason: null,
    };
    this.layout.adopt(this.opts.executable, from);
    this.layout.point('known-good', from);
    writeUpdateState(this.layout.stateFile, base);
    this.layout.point('current', to);
    const state: UpdateState = { ...base, phase: 'probation' };
    writeUpdateState(this.layout.stateFile, state);
    return state;
  }

  /** `to` passed probation: it is the known-good version now; older versions go, `from` stays for a manual rollback. */
  commit(now: string): { state: UpdateState | null; pruned: string[] } {
    const state = this.readState();
    if (!state || state.phase !== 'probation') return { state, pruned: [] };
    this.layout.point('known-good', state.to);
    const next: UpdateState = { ...state, phase: 'committed', reason: null, at: now };
    writeUpdateState(this.layout.stateFile, next);
    rmSync(this.layout.downloadsDir, { recursive: true, force: true });
    return { state: next, pruned: this.layout.prune([state.to, state.from]) };
  }

  readState(): UpdateState | null {
    const r = readUpdateState(this.layout.stateFile);
    return r.ok ? r.state : null;
  }
}

/** Restores `from` after `to` failed: `current` back, `to` blacklisted and removed. Used by the daemon and the guard. */
export function rollBack(layout: UpdateLayout, state: UpdateState, reason: string, now: string): UpdateState {
  if (layout.has(state.from)) {
    layout.point('current', state.from);
    layout.point('known-good', state.from);
  }
  const next: UpdateState = { ...state, phase: 'rolled back', blacklist: [...new Set([...state.blacklist, state.to])], reason, at: now };
  writeUpdateState(layout.stateFile, next);
  if (layout.target('current') !== state.to) layout.remove(state.to);
  return next;
}

/** The version for `channel` in an availableVersions.json. */
export function pickVersion(text: string, channel: Channel, where: string): string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FetchError(`${where}: not JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FetchError(`${where}: expected an object {"production": "x.y.z", …}`);
  const o = raw as Record<string, unknown>;
  const key = typeof o[channel] === 'string' && o[channel] !== '' ? channel : 'all';
  const v = o[key];
  if (v === undefined) throw new FetchError(`${where}: no entry for "${channel}" and no "all"`);
  if (typeof v !== 'string' || !isSemver(v)) throw new FetchError(`${where}: field "${key}": expected a version x.y.z`);
  return v;
}

/** `<64 hex>` or sha256sum's `<64 hex>  name`. */
export function parseChecksum(text: string): string {
  const m = /^([0-9a-fA-F]{64})(?:\s+\*?\S+)?\s*$/.exec(text.trim());
  if (!m) throw new FetchError('expected 64 hexadecimal digits (sha256sum format)');
  return m[1]!.toLowerCase();
}

/** The first line `reagent -version` prints, bounded at 20 s; null when it does not run. */
function askVersion(file: string): string | null {
  const r = spawnSync(file, ['-version'], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 });
  if (r.status !== 0 || typeof r.stdout !== 'string') return null;
  const first = r.stdout.split('\n')[0]?.trim() ?? '';
  return first.slice(0, 64);
}

function freeBytes(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
