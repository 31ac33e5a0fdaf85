// Unpacking .tar.gz archives with the system `tar` (no JS tar dependency), shared by the
// shared-datasets extraction and the dataset download.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Extract archive (gzip-compressed tar) into the existing folder dir; rejects with tar's own message. */
export async function extractTarGz(archive: string, dir: string): Promise<void> {
  try {
    await execFileAsync('tar', ['xzf', archive, '-C', dir], { maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(err.stderr?.trim() || err.message, { cause: e });
  }
}
