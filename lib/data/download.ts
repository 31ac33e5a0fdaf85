// Optional download of the datasets that their authors publish as plain files: CIFAR-10 and
// CIFAR-100 (binary versions, .tar.gz) and SVHN (cropped digits, .mat). It runs only when asked
// (data.source.download: true); no other code in the package touches the network.
//
// Each file is streamed to a temporary file inside the dataset folder, its MD5 is checked against
// the published value, and only then is it renamed into place (an archive is first extracted into
// a temporary folder whose contents are then renamed into place). An interrupted or corrupt
// download therefore never leaves a file that a reader would take for complete, and files that
// are already there are never overwritten.
//
// SKIPNET_DOWNLOAD_BASE_URL (or the baseUrl option) replaces the servers, for mirrors and tests:
// every file is then fetched from <base>/<file name>.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import type { DataSourceSpec, Split } from './types.js';
import { SVHN_URL, svhnFiles } from './svhn.js';
import { extractTarGz } from './tar.js';
import { dataError, isDir, isFile } from './util.js';

/** One file as published. */
export interface RemoteFile {
  /** Dataset name for messages, e.g. 'CIFAR-10'. */
  what: string;
  /** File name on the server and on disk. */
  name: string;
  /** The official URL. */
  url: string;
  /** Published MD5 (hex). */
  md5: string;
  /** For .tar.gz archives: the folder the archive creates, and the files in it a reader needs. */
  archive?: { creates: string; files: string[] };
}

// MD5s as published on https://www.cs.toronto.edu/~kriz/cifar.html and as torchvision lists the
// SVHN files.
const CIFAR10: RemoteFile = {
  what: 'CIFAR-10',
  name: 'cifar-10-binary.tar.gz',
  url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
  md5: 'c32a1d4ab5d03f1284b67883e8d87530',
  archive: { creates: 'cifar-10-batches-bin', files: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'] },
};
const CIFAR100: RemoteFile = {
  what: 'CIFAR-100',
  name: 'cifar-100-binary.tar.gz',
  url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
  md5: '03b5dce01913d631647c71ecec9e9cb8',
  archive: { creates: 'cifar-100-binary', files: ['train.bin', 'test.bin'] },
};
const SVHN_MD5: Record<string, string> = {
  'train_32x32.mat': 'e26dedcc434d2e4c54c9b2d4a06d8373',
  'test_32x32.mat': 'eb5a983be6a315427106f1b164d9cef3',
  'extra_32x32.mat': 'a93ce644f1a588dc4d68dda5feec44a7',
};

/** The files a split of a downloadable source needs; [] for sources that cannot be downloaded. */
export function remoteFilesFor(spec: DataSourceSpec, split: Split): RemoteFile[] {
  switch (spec.kind) {
    case 'cifar10':
      return [CIFAR10];
    case 'cifar100':
      return [CIFAR100];
    case 'svhn':
      return svhnFiles(split, { extra: spec.extra }).map((name) => ({ what: 'SVHN', name, url: SVHN_URL + name, md5: SVHN_MD5[name]! }));
    default:
      return [];
  }
}

export interface DownloadOptions {
  /** Fetch <baseUrl>/<file name> instead of the official URL; default $SKIPNET_DOWNLOAD_BASE_URL. */
  baseUrl?: string;
  /** Called as bytes arrive (total 0 when the server does not say). */
  onProgress?: (file: string, bytes: number, total: number) => void;
  /** Give up when no data arrives for this long (default 60 s). */
  stallTimeoutMs?: number;
}

/** True when what `remote` provides is already in root (archive contents: in root/<creates> or in root itself, as the readers accept). */
export async function isPresent(remote: RemoteFile, root: string): Promise<boolean> {
  if (!remote.archive) return isFile(path.join(root, remote.name));
  for (const dir of [path.join(root, remote.archive.creates), root]) {
    let all = true;
    for (const f of remote.archive.files) if (!(await isFile(path.join(dir, f)))) all = false;
    if (all) return true;
  }
  return false;
}

const pending = new Map<string, Promise<void>>();

/** Download whatever `split` of `spec` needs and root lacks (a no-op when all is there). */
export async function ensureDownloaded(spec: DataSourceSpec & { root: string }, split: Split, opts: DownloadOptions = {}): Promise<void> {
  for (const remote of remoteFilesFor(spec, split)) {
    if (await isPresent(remote, spec.root)) continue;
    // Opening train and test at once must not fetch the same archive twice.
    const key = `${path.resolve(spec.root)}\0${remote.name}`;
    let p = pending.get(key);
    if (!p) {
      p = downloadFile(remote, spec.root, opts).finally(() => pending.delete(key));
      pending.set(key, p);
    }
    await p;
  }
}

/** How to get the file without this code, for error messages. */
function byHand(remote: RemoteFile, root: string): string {
  const get = `To install it by hand, download ${remote.url} (md5 ${remote.md5}) and save it as ${path.join(root, remote.name)}`;
  return remote.archive ? `${get}, then run \`tar xzf ${remote.name}\` in ${root} (it creates ${remote.archive.creates}/).` : `${get}.`;
}

type NetError = Error & { code?: string; errors?: NetError[]; cause?: unknown };

/** The useful part of a fetch error: 'fetch failed' alone says nothing, the cause does. */
function describeFetchError(e: unknown): string {
  const err = e as NetError;
  let cause = err.cause as NetError | undefined;
  // Several addresses tried (IPv4 and IPv6) give an AggregateError: the first one says enough.
  if (cause?.errors && cause.errors.length > 0) cause = cause.errors[0];
  if (!cause) return err.message;
  const code = cause.code && !cause.message.includes(cause.code) ? ` (${cause.code})` : '';
  return `${err.message}: ${cause.message}${code}`;
}

/** Stream url into file; returns the MD5 of what was written. */
async function fetchTo(url: string, file: string, remote: RemoteFile, root: string, opts: DownloadOptions): Promise<string> {
  const fail = (why: string, cause?: unknown): Error =>
    dataError(`${remote.what}: could not download ${url}: ${why}. ${byHand(remote, root)}`, cause);
  // A stalled connection would otherwise wait forever: abort when no data comes for stallMs.
  const stallMs = opts.stallTimeoutMs ?? 60_000;
  const ctrl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => ctrl.abort(new Error(`no data for ${stallMs / 1000} s`)), stallMs);
  };
  arm();
  try {
    let res: Response;
    try {
      // identity: the archive's own bytes, never a transfer-compressed (and auto-inflated) version.
      res = await fetch(url, { redirect: 'follow', signal: ctrl.signal, headers: { 'accept-encoding': 'identity' } });
    } catch (e) {
      throw fail(describeFetchError(e), e);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw fail(`the server answered HTTP ${res.status} ${res.statusText}`.trim());
    }
    const encoded = res.headers.has('content-encoding');
    const total = encoded ? 0 : Number(res.headers.get('content-length') ?? 0) || 0;
    const hash = createHash('md5');
    let bytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        arm();
        hash.update(chunk);
        bytes += chunk.length;
        opts.onProgress?.(remote.name, bytes, total);
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(res.body as unknown as NodeReadableStream<Uint8Array>), tap, createWriteStream(file));
    } catch (e) {
      throw fail(`the transfer broke off after ${bytes} bytes: ${describeFetchError(e)}`, e);
    }
    if (total > 0 && bytes !== total) throw fail(`the transfer ended after ${bytes} of ${total} bytes`);
    return hash.digest('hex');
  } finally {
    clearTimeout(timer);
  }
}

/** Rename everything under src into dest, keeping whatever dest already has. */
async function moveInto(src: string, dest: string): Promise<void> {
  await fsp.mkdir(dest, { recursive: true });
  for (const e of await fsp.readdir(src, { withFileTypes: true })) {
    const from = path.join(src, e.name);
    const to = path.join(dest, e.name);
    if (e.isDirectory() && (await isDir(to))) await moveInto(from, to);
    else if (!(await fsp.lstat(to).then(() => true, () => false))) await fsp.rename(from, to);
  }
}

/** Download one file into root: verify its MD5, extract it when it is an archive, rename into place. */
export async function downloadFile(remote: RemoteFile, root: string, opts: DownloadOptions = {}): Promise<void> {
  const base = opts.baseUrl ?? process.env.SKIPNET_DOWNLOAD_BASE_URL;
  const url = base && base.trim() !== '' ? `${base.trim().replace(/\/+$/, '')}/${remote.name}` : remote.url;
  await fsp.mkdir(root, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmpFile = path.join(root, `.tmp-download-${tag}-${remote.name}`);
  const tmpDir = path.join(root, `.tmp-extract-${tag}`);
  try {
    const md5 = await fetchTo(url, tmpFile, remote, root, opts);
    if (md5 !== remote.md5.toLowerCase()) {
      throw dataError(
        `${remote.what}: the download of ${url} is corrupt: its md5 is ${md5}, expected ${remote.md5}; it was deleted. ` +
          `Try again, or use another network. ${byHand(remote, root)}`,
      );
    }
    if (!remote.archive) {
      await fsp.rename(tmpFile, path.join(root, remote.name));
      return;
    }
    await fsp.mkdir(tmpDir);
    try {
      await extractTarGz(tmpFile, tmpDir);
    } catch (e) {
      throw dataError(`${remote.what}: extracting ${url} failed: ${(e as Error).message}. ${byHand(remote, root)}`, e);
    }
    if (!(await isDir(path.join(tmpDir, remote.archive.creates)))) {
      throw dataError(`${remote.what}: ${url} does not hold the folder ${remote.archive.creates}/ that the official archive has. ${byHand(remote, root)}`);
    }
    await moveInto(tmpDir, root);
  } finally {
    await fsp.rm(tmpFile, { force: true }).catch(() => undefined);
    await fsp.rm(tmpDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
