import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import {
  appDataDir,
  appLabels,
  appUploadDir,
  buildArchivePath,
  containerName,
  imageName,
  LABELS,
  LEGACY_PATHS,
  NamingError,
  parseAppContainerName,
  parseAppLabels,
  parseImageRef,
  parseStage,
  resolveInside,
  sharedDir,
  validateAppKey,
  validateAppName,
  validateFileName,
  type Stage,
} from '../../adapters/docker/naming.js';

const APPS = path.join(path.sep, 'srv', 'reagent', 'apps');
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

// Strings biased towards the dangerous: separators, dots, NUL, unicode, long runs.
const hostile = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .array(fc.constantFrom('..', '.', '/', '\\', '\0', 'a', 'Z', '9', '_', '-', ' ', '%2e', '~', 'ä', '\n', ':'), { maxLength: 12 })
    .map((a) => a.join('')),
  fc.constantFrom('..', '.', '', '/', '../etc', '/etc/passwd', 'a/../../b', 'C:\\x', 'x'.repeat(300)),
);
const stageArb = fc.constantFrom<Stage>('DEV', 'PROD');

function isInside(base: string, p: string): boolean {
  const rel = path.relative(base, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

describe('naming: validation', () => {
  it('accepts the names the studio uses', () => {
    assert.equal(validateAppKey('1234'), '1234');
    assert.equal(validateAppKey(1234), '1234');
    assert.equal(validateAppName('my-app_2.0'), 'my-app_2.0');
    assert.equal(parseStage('dev'), 'DEV');
    assert.equal(parseStage('PROD'), 'PROD');
  });

  for (const bad of ['../x', '..', '.', '', '/abs', 'a/b', 'a\\b', 'a\0b', '-flag', '.hidden', 'x'.repeat(129), 'sp ace']) {
    it(`rejects app name ${JSON.stringify(bad)} with an error naming the field`, () => {
      assert.throws(
        () => validateAppName(bad),
        (e: unknown) => e instanceof NamingError && e.field === 'app name' && /invalid app name .*expected/.test(e.message),
      );
    });
  }

  it('rejects app keys that could make container names ambiguous', () => {
    for (const bad of ['1_2', 'a.b', '', '../1', -1, 1.5, null]) assert.throws(() => validateAppKey(bad), NamingError);
  });

  it('rejects unknown stages and non-strings', () => {
    for (const bad of ['staging', '', 1, undefined]) {
      assert.throws(() => parseStage(bad), (e: unknown) => e instanceof NamingError && e.message.includes('"DEV" or "PROD"'));
    }
  });

  it('file names are single segments', () => {
    assert.equal(validateFileName('app.tgz'), 'app.tgz');
    for (const bad of ['../app.tgz', 'a/b.tgz', '.', '..', '', 'a\0.tgz']) assert.throws(() => validateFileName(bad), NamingError);
  });
});

describe('naming: builders', () => {
  it('container names follow <stage>_<appKey>_<name>, lowercased', () => {
    assert.equal(containerName('DEV', 42, 'Web-UI'), 'dev_42_web-ui');
    assert.equal(containerName('PROD', 'AbC', 'x'), 'prod_abc_x');
  });

  it('image names are <registry><repo><stage>_<arch>_<key>_<name>[:version]', () => {
    assert.equal(
      imageName({ registry: 'registry.example.com', repository: 'apps/', stage: 'PROD', arch: 'armv7', appKey: 7, appName: 'Web', version: '1.2.3' }),
      'registry.example.com/apps/prod_armv7_7_web:1.2.3',
    );
    assert.equal(imageName({ stage: 'DEV', arch: 'amd64', appKey: 7, appName: 'web' }), 'dev_amd64_7_web');
    assert.equal(imageName({ registry: '127.0.0.1:5000/', stage: 'DEV', arch: 'amd64', appKey: 7, appName: 'web' }), '127.0.0.1:5000/dev_amd64_7_web');
  });

  it('image names reject app names Docker would refuse in a repository', () => {
    for (const bad of ['web-', 'web.', 'a._b', 'a_-b']) {
      assert.throws(() => imageName({ stage: 'DEV', arch: 'amd64', appKey: 1, appName: bad }), NamingError);
    }
    assert.throws(() => imageName({ stage: 'PROD', arch: 'amd64', appKey: 1, appName: 'a', version: '-1' }), /invalid version/);
  });

  it('parses image references like Docker does', () => {
    assert.deepEqual(parseImageRef('local/busybox:test'), { path: 'local/busybox', tag: 'test' });
    assert.deepEqual(parseImageRef('127.0.0.1:5000/a/b'), { domain: '127.0.0.1:5000', path: 'a/b' });
    assert.deepEqual(parseImageRef('localhost/x:1'), { domain: 'localhost', path: 'x', tag: '1' });
    for (const bad of ['x/UPPER', 'a//b', 'a:', ':t', 'a b', 'a@sha256:00', '/x']) assert.throws(() => parseImageRef(bad), NamingError);
  });

  it('labels round-trip and foreign labels are not ours', () => {
    const labels = appLabels('DEV', 9, 'web');
    assert.equal(labels[LABELS.managed], 'true');
    assert.deepEqual(parseAppLabels(labels), { appKey: '9', stage: 'DEV', appName: 'web' });
    assert.equal(parseAppLabels({ ...labels, [LABELS.managed]: 'false' }), undefined);
    assert.equal(parseAppLabels({ ...labels, [LABELS.appName]: '../x' }), undefined);
    assert.equal(parseAppLabels(undefined), undefined);
  });

  it('dirs are <appsDir>/shared, <appsDir>/data/<stage>_<key>_<name>, <appsDir>/uploads/<stage>_<key>_<name>/<name>.tgz', () => {
    assert.equal(sharedDir(APPS), path.join(APPS, 'shared'));
    assert.equal(appDataDir(APPS, 'PROD', 12, 'Web'), path.join(APPS, 'data', 'prod_12_web'));
    assert.equal(appUploadDir(APPS, 'DEV', '12', 'web'), path.join(APPS, 'uploads', 'dev_12_web'));
    assert.equal(buildArchivePath(APPS, 'DEV', 12, 'Web'), path.join(APPS, 'uploads', 'dev_12_web', 'Web.tgz'));
    assert.equal(buildArchivePath(APPS, 'DEV', 12, 'web', 'tar.gz'), path.join(APPS, 'uploads', 'dev_12_web', 'web.tar.gz'));
    // One name, different keys or stages: different places.
    assert.notEqual(appDataDir(APPS, 'DEV', 1, 'web'), appDataDir(APPS, 'DEV', 2, 'web'));
    assert.notEqual(appDataDir(APPS, 'DEV', 1, 'web'), appDataDir(APPS, 'PROD', 1, 'web'));
    assert.equal(LEGACY_PATHS.dataDir(APPS, 'PROD', 'web'), path.join(APPS, 'prod', 'web'));
    assert.equal(LEGACY_PATHS.buildArchive(APPS, 'web', 'tgz'), path.join(APPS, 'build', 'web.tgz'));
    assert.throws(() => appDataDir('relative/apps', 'DEV', 1, 'web'), /apps dir/);
    assert.throws(() => appDataDir(path.sep, 'DEV', 1, 'web'), /below the filesystem root/);
    assert.throws(() => resolveInside(APPS, '..', 'etc'), /inside/);
    assert.throws(() => resolveInside(APPS, '.'), /inside/);
  });
});

describe('naming: properties', () => {
  it('no input ever yields a data dir outside the apps dir', () => {
    const appsDirArb = fc
      .array(fc.constantFrom('srv', 'apps', '..', '.', 'a b', 'x'), { minLength: 0, maxLength: 4 })
      .map((segs) => path.join(path.sep, ...segs));
    fc.assert(
      fc.property(appsDirArb, stageArb, hostile, hostile, (appsDir, stage, key, name) => {
        let p: string;
        try {
          p = appDataDir(appsDir, stage, key, name);
        } catch (e) {
          assert.ok(e instanceof NamingError, `unexpected ${String(e)}`);
          return;
        }
        const base = path.resolve(appsDir);
        assert.notEqual(base, path.sep);
        assert.ok(isInside(base, p), p);
        assert.equal(path.dirname(p), path.join(base, 'data'));
        assert.equal(path.basename(p), containerName(stage, key, name));
      }),
      { numRuns: 3000 },
    );
  });

  it('resolveInside never returns a path outside (or equal to) the base, whatever the segments', () => {
    fc.assert(
      fc.property(fc.array(hostile, { minLength: 1, maxLength: 4 }), (segments) => {
        let p: string;
        try {
          p = resolveInside(APPS, ...segments);
        } catch (e) {
          if (e instanceof NamingError) return;
          throw e;
        }
        assert.ok(isInside(APPS, p), p);
      }),
      { numRuns: 3000 },
    );
  });

  it('every accepted identity gives a Docker-valid container name and an inside path', () => {
    fc.assert(
      fc.property(stageArb, hostile, hostile, (stage, key, name) => {
        let cname: string;
        try {
          cname = containerName(stage, key, name);
        } catch (e) {
          assert.ok(e instanceof NamingError);
          return;
        }
        assert.match(cname, DOCKER_NAME);
        assert.equal(cname, cname.toLowerCase());
        assert.ok(isInside(APPS, appDataDir(APPS, stage, key, name)));
        assert.ok(isInside(APPS, buildArchivePath(APPS, stage, key, name)));
        // The container name parses back to the identity it came from (lowercase).
        assert.deepEqual(parseAppContainerName(cname), { stage, appKey: String(key).toLowerCase(), name: name.toLowerCase(), container: cname });
      }),
      { numRuns: 3000 },
    );
  });

  it('image names are either valid references or a NamingError', () => {
    fc.assert(
      fc.property(stageArb, hostile, hostile, fc.option(hostile, { nil: undefined }), (stage, key, name, version) => {
        let ref: string;
        try {
          ref = imageName({ registry: 'reg.example:5000', repository: 'apps', stage, arch: 'amd64', appKey: key, appName: name, version });
        } catch (e) {
          assert.ok(e instanceof NamingError, String(e));
          return;
        }
        const parsed = parseImageRef(ref);
        assert.equal(parsed.domain, 'reg.example:5000');
        assert.equal(parsed.tag, version);
        assert.ok(!ref.includes('..') && !ref.includes('//'));
      }),
      { numRuns: 3000 },
    );
  });
});
