#!/usr/bin/env node
// npm's install step: build the native addon unless a loadable one is already there.
// (Without this script npm would run `node-gyp rebuild`, which downloads Node headers.)
// Nothing is downloaded: LibTorch must be present (see README); SKIPNET_SKIP_BUILD=1 skips.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.SKIPNET_SKIP_BUILD) process.exit(0);
try {
  const require = createRequire(import.meta.url);
  require(require('node-gyp-build').resolve(root));
  process.exit(0); // a working build (or prebuild) exists
} catch {
  /* build it */
}
const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
if (r.status !== 0) {
  console.error('skipnet: the native addon could not be built (see above). Fix the cause, then run `npm rebuild skipnet`.');
}
process.exit(r.status ?? 1);
