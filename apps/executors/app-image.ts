// What an app's Docker operations need beyond its identity: where its image
// lives, its environment and ports (from the request, kept by the apps link),
// and the names derived from them.

import { NamingError, buildArchivePath, imageName, parseImageRef, type AppIdentity } from '../../adapters/docker/naming.js';
import type { PortSpec } from '../../adapters/docker/containers.js';
import type { ComposeSpec } from '../../adapters/compose/project.js';

export interface AppRuntimeSpec {
  /** Registry host[:port] (with or without a trailing "/"), or "" for images that are only local. */
  registry: string;
  /** Repository path below the registry, e.g. "apps/", or "". */
  repository: string;
  env: Record<string, string>;
  ports: PortSpec[];
  /** A compose app's file (`docker_compose`): its operations go through the compose CLI. */
  compose?: ComposeSpec;
}

export const EMPTY_SPEC: AppRuntimeSpec = { registry: '', repository: '', env: {}, ports: [] };

/**
 * The app's image: PROD images carry the release version as tag, DEV images
 * (built on the device) none. `version` undefined gives the untagged name.
 */
export function appImageRef(arch: string, spec: AppRuntimeSpec, app: AppIdentity, version?: string | null, stage = app.stage): string {
  return imageName({
    registry: spec.registry,
    repository: spec.repository,
    stage,
    arch,
    appKey: app.appKey,
    appName: app.appName,
    ...(stage === 'PROD' && version ? { version } : {}),
  });
}

/** host[:port] of the registry an image reference names, if any. */
export function registryHostOf(ref: string): string | undefined {
  return parseImageRef(ref).domain;
}

const EXTENSION = /^[A-Za-z0-9]+(?:\.[A-Za-z0-9]+)*$/;

export function validateBuildExtension(ext: unknown): string {
  if (typeof ext !== 'string' || ext.length > 16 || !EXTENSION.test(ext)) {
    throw new NamingError('build archive extension', ext, 'letters and digits, dot-separated, like "tgz" or "tar.gz"');
  }
  return ext;
}

/** `<appsDir>/uploads/<stage>_<appKey>_<name>/<appName>.<ext>`: the uploaded sources of a DEV app (naming.ts). */
export function buildArchivePathFor(appsDir: string, app: AppIdentity, ext: string): string {
  return buildArchivePath(appsDir, app.stage, app.appKey, app.appName, validateBuildExtension(ext));
}
