// `skipnet info`: what this installation runs on — package, Node/N-API, LibTorch,
// threads, CUDA, and where the addon and LibTorch were found. When the addon does
// not load it still prints everything else plus the loader's explanation, and exits 1.

import os from 'node:os';
import type { Command } from 'commander';
import type { VersionInfo } from '../binding-types.js';
import { isSkipNetError } from '../errors.js';
import { packageVersion } from '../train/version.js';
import { formatTable } from './format.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show versions, threads, CUDA devices and where LibTorch and the addon were found')
    .option('--json', 'print one JSON object')
    .action(async (flags: { json?: boolean }) => {
      const native = await import('../native.js');
      let versions: VersionInfo | null = null;
      let loadError: string | null = null;
      try {
        versions = native.loadNative().versions();
      } catch (err) {
        loadError = isSkipNetError(err) ? err.message : String(err);
      }
      const where = native.nativeLoadInfo();
      const report = {
        package: packageVersion(),
        node: process.version,
        napi: versions?.napi ?? Number(process.versions.napi),
        platform: `${process.platform}-${process.arch}`,
        cpus: os.availableParallelism(),
        libtorch: versions?.libtorch ?? null,
        threads: versions?.threads ?? null,
        cuda: versions ? versions.cuda : null,
        cudaDevices: versions?.cudaDevices ?? null,
        addonPath: where.path,
        libtorchPath: versions?.libtorchPath ?? null,
        distributed: versions?.distributedBackends ?? null,
        error: loadError ?? where.error,
      };

      if (flags.json) {
        process.stdout.write(JSON.stringify(report) + '\n');
      } else {
        const rows: [string, string][] = [
          ['skipnet', report.package],
          ['node', `${report.node} (N-API ${report.napi}), ${report.platform}, ${report.cpus} CPUs`],
          ['libtorch', report.libtorch ?? 'not loaded'],
          ['threads', report.threads === null ? '?' : `${report.threads} (LibTorch intra-op default)`],
          ['CUDA', report.cuda === null ? '?' : report.cuda ? `yes, ${report.cudaDevices} device(s)` : 'no (CPU build or no GPU)'],
          ['addon', report.addonPath ?? 'not found'],
          ['libtorch path', report.libtorchPath ?? '?'],
          ['data parallel', report.distributed === null ? '?' : report.distributed.length ? report.distributed.join(', ') : 'no (LibTorch without c10d/Gloo)'],
        ];
        process.stdout.write(formatTable(rows, '') + '\n');
        if (report.error) process.stdout.write(`\naddon did not load:\n${report.error}\n`);
      }
      if (loadError) process.exitCode = 1;
    });
}
