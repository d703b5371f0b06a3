#!/usr/bin/env node
// Part of `npm run build`: writes dist/build-stamp.json (version, commit, build
// date), which `-version` prints from a build without starting git each time.
// The single executables get the same stamp from scripts/package.ts.
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const { agentVersion, gitCommit, BUILD_STAMP_FILE } = require('../dist/cli/version.cjs');
const stamp = {
  version: agentVersion(join(root, 'package.json')),
  commit: existsSync(join(root, '.git')) ? gitCommit(root) : 'unknown',
  date: new Date().toISOString(),
};
writeFileSync(join(root, BUILD_STAMP_FILE), `${JSON.stringify(stamp)}\n`);
