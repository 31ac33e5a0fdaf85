// CUDA against CPU on the same weights: runs scripts/cuda-check.mjs (the check the GPU machine
// runs through scripts/device-check.sh) when this addon has CUDA and a device; skipped on
// CPU-only builds such as CI's. It needs dist/ (npm run build:ts), as the script imports it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadNative, packageRoot } from '../../lib/native.js';

const versions = loadNative().versions();
const hasCuda = versions.cuda && versions.cudaDevices > 0;
if (!hasCuda) console.warn(`skipping the CUDA checks: this addon's LibTorch ${versions.libtorch} has no CUDA device`);

describe.skipIf(!hasCuda)('CUDA against CPU', () => {
  it('every check of scripts/cuda-check.mjs passes', () => {
    expect(existsSync(join(packageRoot, 'dist', 'model.js')), 'run npm run build:ts first').toBe(true);
    const out = join(mkdtempSync(join(tmpdir(), 'skipnet-cuda-')), 'cuda-check.json');
    const run = spawnSync(process.execPath, [join(packageRoot, 'scripts', 'cuda-check.mjs'), '--device', 'cuda', '--out', out], { encoding: 'utf8', timeout: 900_000 });
    const failed = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')).results.filter((r: { pass: boolean }) => !r.pass) : [];
    expect(failed, run.stdout + run.stderr).toEqual([]);
    expect(run.status, run.stdout + run.stderr).toBe(0);
  }, 900_000);
});
