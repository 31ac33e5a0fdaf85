// Loads the compiled addon (build/Release/skipnet.node via node-gyp-build) and turns a
// failure into one message that says what went wrong and how to fix it.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from './binding-types.js';
import { SkipNetError } from './errors.js';

const require = createRequire(import.meta.url);
// lib/ in the source tree and dist/ when compiled are both one level below the root.
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

let cached: NativeAddon | null = null;
let loadError: string | null = null;
let loadedFrom: string | null = null;

function explain(err: Error): string {
  const text = err.message;
  const hints: string[] = [];
  if (/No native build was found/.test(text)) {
    hints.push('the addon has not been built: run `npm run build:native` (needs cmake, g++ and LibTorch; see README)');
  }
  const lib = /lib(torch|c10|torch_cpu|gomp|openblas)[^:\s]*\.so[^:\s]*/.exec(text);
  if (lib) {
    hints.push(
      `the shared library ${lib[0]} is missing: on Debian/Ubuntu install it with \`sudo apt-get install libtorch-dev\`, ` +
        'or point LD_LIBRARY_PATH at the LibTorch the addon was built against',
    );
  }
  if (/CXXABI|GLIBCXX/.test(text)) hints.push('the C++ runtime is older than the one the addon was built with: rebuild with `npm run build:native`');
  if (/NODE_MODULE_VERSION|napi/i.test(text)) hints.push('the addon was built for another Node.js: rebuild with `npm run build:native`');
  return `Could not load the skipnet native addon: ${text.split('\n')[0]}` + (hints.length ? `\nPossible fixes:\n- ${hints.join('\n- ')}` : '');
}

/** The addon, loaded once per process (or worker thread). */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  // OpenBLAS only serves LibTorch's tiny matrix products here (gates, the classifier; the
  // convolutions use oneDNN). Its own thread pool then competes with LibTorch's OpenMP
  // threads and stalls single-image calls for 100-250 ms now and then; one BLAS thread
  // removes the stalls. It is read when the library loads, so set it before the addon.
  process.env.OPENBLAS_NUM_THREADS ??= '1';
  const override = process.env.SKIPNET_ADDON;
  try {
    if (override) {
      cached = require(override) as NativeAddon;
      loadedFrom = override;
    } else {
      const nodeGypBuild = require('node-gyp-build') as { (dir: string): unknown; resolve(dir: string): string };
      loadedFrom = nodeGypBuild.resolve(packageRoot);
      cached = require(loadedFrom) as NativeAddon;
    }
    return cached;
  } catch (err) {
    loadError = explain(err as Error);
    throw new SkipNetError('ERR_NATIVE_LOAD', loadError);
  }
}

export function nativeLoadInfo(): { path: string | null; error: string | null } {
  if (!cached && !loadError) {
    try {
      loadNative();
    } catch {
      /* recorded in loadError */
    }
  }
  return { path: loadedFrom, error: loadError };
}
