// Names and paths derived from app identity (app key, app name, stage).
//
// Everything here ends up in a Docker API call or a filesystem path, and the inputs
// arrive over the network, so each value is checked against what its consumer
// accepts before it is used, and errors say which field was wrong and what was
// expected. Path builders resolve the result and check that it is still inside the
// apps dir, so that a validator bug cannot turn into a write (or an `rm -r`)
// elsewhere.

import path from 'node:path';

export type Stage = 'DEV' | 'PROD';
export const STAGES: readonly Stage[] = ['DEV', 'PROD'];

export class NamingError extends Error {
  override readonly name = 'NamingError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`invalid ${field} ${describe(value)}: expected ${expected}`);
  }
}

function describe(value: unknown): string {
  if (typeof value !== 'string') return `(${value === null ? 'null' : typeof value})`;
  const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return JSON.stringify(shown);
}

// Docker's own container-name rule (daemon/names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`). A
// leading alphanumeric also rules out "", ".", ".." and "-flag"; the absence of "/",
// "\" and NUL rules out separators, so one validated value is always one path segment.
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

// App keys become the middle of `<stage>_<key>_<name>`; without "_" and "." they can
// never make two different (key, name) pairs produce the same container name.
const APP_KEY = /^[a-zA-Z0-9][a-zA-Z0-9-]*$/;

export const LIMITS = {
  appKey: 64,
  appName: 128,
  fileName: 255,
  tag: 128,
  // distribution/reference NameTotalLengthMax
  imageName: 255,
} as const;

function requireString(field: string, value: unknown, expected: string): string {
  if (typeof value !== 'string') throw new NamingError(field, value, expected);
  return value;
}

export function parseStage(value: unknown): Stage {
  const expected = '"DEV" or "PROD"';
  const s = requireString('stage', value, expected).toUpperCase();
  if (s !== 'DEV' && s !== 'PROD') throw new NamingError('stage', value, expected);
  return s;
}

export function validateAppKey(value: unknown): string {
  const expected = `1-${LIMITS.appKey} characters of [a-zA-Z0-9-], starting with a letter or digit`;
  const s = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : value;
  const str = requireString('app key', s, expected);
  if (str.length > LIMITS.appKey || !APP_KEY.test(str)) throw new NamingError('app key', value, expected);
  return str;
}

/** An app name that passed validateAppName: safe as a container name part and a path segment. */
export type AppName = string & { readonly __appName: unique symbol };

export function validateAppName(value: unknown): AppName {
  const expected = `1-${LIMITS.appName} characters of [a-zA-Z0-9_.-], starting with a letter or digit`;
  const s = requireString('app name', value, expected);
  if (s.length > LIMITS.appName || !DOCKER_NAME.test(s)) throw new NamingError('app name', value, expected);
  return s as AppName;
}

/** A single path segment such as an uploaded archive's name: never a path. */
export function validateFileName(value: unknown, field = 'file name'): string {
  const expected = `1-${LIMITS.fileName} characters of [a-zA-Z0-9_.-], starting with a letter or digit (no path separators)`;
  const s = requireString(field, value, expected);
  if (Buffer.byteLength(s) > LIMITS.fileName || !DOCKER_NAME.test(s)) throw new NamingError(field, value, expected);
  return s;
}

export function validateContainerName(value: unknown): string {
  const expected = 'a Docker container name: 2-255 characters of [a-zA-Z0-9_.-], starting with a letter or digit';
  const s = requireString('container name', value, expected);
  if (s.length < 2 || s.length > 255 || !DOCKER_NAME.test(s)) throw new NamingError('container name', value, expected);
  return s;
}

// distribution/reference grammar, restricted to what we produce and accept: no digests,
// no IPv6 literals.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]{1,5})?`;
const TAG = /^[\w][\w.-]{0,127}$/;
const COMPONENT_RE = new RegExp(`^${COMPONENT}$`);
const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);

export function validateImageTag(value: unknown, field = 'image tag'): string {
  const expected = '1-128 characters of [A-Za-z0-9_.-], not starting with "." or "-"';
  const s = requireString(field, value, expected);
  if (!TAG.test(s)) throw new NamingError(field, value, expected);
  return s;
}

export interface ImageRef {
  /** Registry host[:port], when the reference names one. */
  domain?: string;
  /** Repository path below the domain, e.g. "apps/prod_amd64_12_web". */
  path: string;
  tag?: string;
}

/** Parses `[domain/]path[:tag]` the way Docker does, or throws a NamingError. */
export function parseImageRef(value: unknown, field = 'image reference'): ImageRef {
  const expected = 'an image reference like "[registry[:port]/]lowercase/path[:tag]" (no digests)';
  const s = requireString(field, value, expected);
  const fail = (): never => {
    throw new NamingError(field, value, expected);
  };
  const lastSlash = s.lastIndexOf('/');
  const colon = s.lastIndexOf(':');
  let name = s;
  let tag: string | undefined;
  if (colon > lastSlash) {
    name = s.slice(0, colon);
    tag = s.slice(colon + 1);
    if (!TAG.test(tag)) fail();
  }
  if (name.length === 0 || name.length > LIMITS.imageName) fail();
  const parts = name.split('/');
  let domain: string | undefined;
  const first = parts[0] ?? '';
  // Docker's rule: the first part is a registry when it could not be a repository name.
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    if (!DOMAIN_RE.test(first)) fail();
    domain = first;
    parts.shift();
  }
  if (parts.length === 0 || !parts.every((p) => COMPONENT_RE.test(p))) fail();
  const ref: ImageRef = { path: parts.join('/') };
  if (domain !== undefined) ref.domain = domain;
  if (tag !== undefined) ref.tag = tag;
  return ref;
}

export function formatImageRef(ref: ImageRef): string {
  return `${ref.domain ? `${ref.domain}/` : ''}${ref.path}${ref.tag ? `:${ref.tag}` : ''}`;
}

/** `dev_<appKey>_<name>` / `prod_<appKey>_<name>`, lowercased (the agent's wire convention). */
export function containerName(stage: Stage, appKey: string | number, appName: string): string {
  const name = `${parseStage(stage)}_${validateAppKey(appKey)}_${validateAppName(appName)}`.toLowerCase();
  return validateContainerName(name);
}

export interface ImageNameParts {
  /** e.g. "registry.example.com/" (trailing slash optional); empty for local images. */
  registry?: string;
  /** e.g. "apps/" (trailing slash optional). */
  repository?: string;
  stage: Stage;
  /** arch+variant as reported by the device, e.g. "amd64", "arm64", "armv7". */
  arch: string;
  appKey: string | number;
  appName: string;
  /** PROD images are tagged with the release version; DEV images carry none. */
  version?: string;
}

/** `<registry><repo><stage>_<arch>_<appKey>_<name>[:<version>]`, validated as a Docker reference. */
export function imageName(p: ImageNameParts): string {
  const stage = parseStage(p.stage);
  const arch = requireString('arch', p.arch, 'a string like "amd64"').toLowerCase();
  if (!/^[a-z0-9]+(?:_[a-z0-9]+)*$/.test(arch)) throw new NamingError('arch', p.arch, 'lowercase letters and digits, like "amd64" or "armv7"');
  const prefix = [p.registry, p.repository]
    .filter((x): x is string => typeof x === 'string' && x.length > 0)
    .map((x) => (x.endsWith('/') ? x : `${x}/`))
    .join('');
  const last = `${stage}_${arch}_${validateAppKey(p.appKey)}_${validateAppName(p.appName)}`.toLowerCase();
  if (!COMPONENT_RE.test(last)) {
    throw new NamingError(
      'app name',
      p.appName,
      'a name that is also valid in an image name: "." "_" "-" only between letters or digits, no "._" or "_-" runs',
    );
  }
  const version = p.version === undefined ? undefined : validateImageTag(p.version, 'version');
  const ref = `${prefix}${last}${version ? `:${version}` : ''}`;
  parseImageRef(ref, 'image name (registry + repository + app)');
  return ref;
}

export const LABELS = {
  managed: 'io.reagent.managed',
  appKey: 'io.reagent.app-key',
  stage: 'io.reagent.stage',
  appName: 'io.reagent.app-name',
} as const;

/** The label filter that selects only containers this agent created. */
export const MANAGED_FILTER = `${LABELS.managed}=true`;

export interface AppIdentity {
  appKey: string;
  stage: Stage;
  appName: string;
}

export function appLabels(stage: Stage, appKey: string | number, appName: string): Record<string, string> {
  return {
    [LABELS.managed]: 'true',
    [LABELS.appKey]: validateAppKey(appKey),
    [LABELS.stage]: parseStage(stage),
    [LABELS.appName]: validateAppName(appName),
  };
}

/** The identity stored in our labels, or undefined when the labels are not ours or are damaged. */
export function parseAppLabels(labels: Readonly<Record<string, string>> | undefined): AppIdentity | undefined {
  if (!labels || labels[LABELS.managed] !== 'true') return undefined;
  try {
    return {
      appKey: validateAppKey(labels[LABELS.appKey]),
      stage: parseStage(labels[LABELS.stage]),
      appName: validateAppName(labels[LABELS.appName]),
    };
  } catch {
    return undefined;
  }
}

/**
 * Joins validated segments below `appsDir` and proves the result is strictly inside it.
 * `appsDir` must be absolute: Docker bind sources are, and a relative one would depend
 * on the daemon's working directory.
 */
export function resolveInside(appsDir: string, ...segments: string[]): string {
  if (typeof appsDir !== 'string' || !path.isAbsolute(appsDir) || appsDir.includes('\0')) {
    throw new NamingError('apps dir', appsDir, 'an absolute path');
  }
  const base = path.resolve(appsDir);
  // With "/" as apps dir, the DEV data dir of app "x" would be /dev/x.
  if (path.parse(base).root === base) throw new NamingError('apps dir', appsDir, 'a directory below the filesystem root');
  const target = path.resolve(base, ...segments);
  const rel = path.relative(base, target);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || rel.split(path.sep).includes('..')) {
    throw new NamingError('path', segments.join('/'), `a path inside ${base}`);
  }
  return target;
}

/** `<appsDir>/shared`, mounted into every app as /shared. */
export function sharedDir(appsDir: string): string {
  return resolveInside(appsDir, 'shared');
}

/**
 * Where an app's files live, keyed by stage and app key: two apps with one name
 * (different keys, or DEV and PROD) never share or delete each other's files.
 * Each app's directory is named like its container (`<stage>_<appKey>_<name>`,
 * lowercase), under top-level directories the by-name layout of the Reagent
 * (`<appsDir>/<dev|prod>/<name>`, `<appsDir>/build/<name>.tgz`) never used, so
 * a path of one layout can never be mistaken for the other.
 */
export const APP_DIRS = { data: 'data', uploads: 'uploads' } as const;

/** `<appsDir>/data/<stage>_<appKey>_<name>`, mounted into the app as /data. */
export function appDataDir(appsDir: string, stage: Stage, appKey: string | number, appName: string): string {
  return resolveInside(appsDir, APP_DIRS.data, containerName(stage, appKey, appName));
}

/** `<appsDir>/uploads/<stage>_<appKey>_<name>`: the app's uploaded DEV sources (`write_data`). */
export function appUploadDir(appsDir: string, stage: Stage, appKey: string | number, appName: string): string {
  return resolveInside(appsDir, APP_DIRS.uploads, containerName(stage, appKey, appName));
}

/** `<appsDir>/uploads/<container>/<appName>.tgz`: the uploaded DEV build archive. */
export function buildArchivePath(appsDir: string, stage: Stage, appKey: string | number, appName: string, ext = 'tgz'): string {
  const file = validateFileName(`${validateAppName(appName)}.${ext}`, 'build archive name');
  return resolveInside(appsDir, APP_DIRS.uploads, containerName(stage, appKey, appName), file);
}

/** The by-name layout this agent (and the Reagent) used before: read only to migrate it. */
export const LEGACY_PATHS = {
  /** `<appsDir>/<dev|prod>/<appName>`. */
  dataDir(appsDir: string, stage: Stage, appName: string): string {
    return resolveInside(appsDir, parseStage(stage).toLowerCase(), validateAppName(appName));
  },
  /** `<appsDir>/build/<appName>.<ext>`. */
  buildArchive(appsDir: string, appName: string, ext: string): string {
    return resolveInside(appsDir, 'build', validateFileName(`${validateAppName(appName)}.${ext}`, 'build archive name'));
  },
};

/**
 * `dev_<appKey>_<name>` / `prod_<appKey>_<name>` back into its parts (lowercase,
 * as containers are named). App keys hold no "_", so the split is unambiguous.
 */
export function parseAppContainerName(value: unknown): { stage: Stage; appKey: string; name: string; container: string } {
  const expected = 'the container name of an app, like "dev_<appKey>_<name>" or "prod_<appKey>_<name>"';
  let container: string;
  try {
    container = validateContainerName(value).toLowerCase();
  } catch {
    throw new NamingError('container name', value, expected);
  }
  const m = /^(dev|prod)_([a-z0-9][a-z0-9-]*)_([a-z0-9][a-z0-9_.-]*)$/.exec(container);
  if (!m || m[2]!.length > LIMITS.appKey || m[3]!.length > LIMITS.appName) throw new NamingError('container name', value, expected);
  return { stage: m[1] === 'dev' ? 'DEV' : 'PROD', appKey: m[2]!, name: m[3]!, container };
}
