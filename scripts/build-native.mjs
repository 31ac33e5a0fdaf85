#!/usr/bin/env node
// Builds the addon with cmake-js (Ninja when available). Fails early with one readable
// message when LibTorch or a tool is missing; never downloads anything.
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
for (const tool of ['cmake', 'g++']) {
  if (!has(tool)) {
    console.error(`skipnet: '${tool}' is needed to build the native addon. Debian/Ubuntu: sudo apt-get install cmake g++ ninja-build`);
    process.exit(1);
  }
}
const probe = spawnSync(process.execPath, [join(root, 'scripts', 'find-libtorch.mjs')], { encoding: 'utf8' });
if (probe.status !== 0) {
  process.stderr.write(probe.stderr);
  process.exit(1);
}
const torch = JSON.parse(probe.stdout);
console.log(`skipnet: building against LibTorch from ${torch.source} (${torch.prefix})${torch.cuda ? ' with CUDA' : ''}`);

const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const args = [cmakeJs, 'compile', '--out', join(root, 'build')];
if (has('ninja')) args.push('--generator', 'Ninja');
if (process.env.SKIPNET_DEBUG) args.push('--debug');
const run = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(run.status ?? 1);
