// Optional dataset download against a local node:http server that serves files built here:
// success (archive and .mat), checksum mismatch (nothing left behind), connection refused, 404,
// and no network access at all unless the source asks for it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCifar10 } from '../../lib/data/cifar.js';
import { downloadFile, ensureDownloaded, remoteFilesFor } from '../../lib/data/download.js';
import { openDataset } from '../../lib/data/open.js';
import { readSvhn } from '../../lib/data/svhn.js';
import { matFile, svhnVars } from './mat5-fixture.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'skipnet-download-'));
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const dataError = (re: RegExp) => expect.objectContaining({ name: 'SkipNetError', code: 'ERR_DATA', message: expect.stringMatching(re) });
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A CIFAR-10 binary archive in the official layout, 2 records per batch file. */
function cifarArchive(): Buffer {
  const dir = path.join(tmp, 'src', 'cifar-10-batches-bin');
  mkdirSync(dir, { recursive: true });
  const rec = (label: number, v: number): Buffer => Buffer.concat([Buffer.from([label]), Buffer.alloc(3072, v)]);
  for (let k = 1; k <= 5; k++) writeFileSync(path.join(dir, `data_batch_${k}.bin`), Buffer.concat([rec(k, k), rec(9, 100 + k)]));
  writeFileSync(path.join(dir, 'test_batch.bin'), Buffer.concat([rec(0, 7), rec(3, 8)]));
  writeFileSync(path.join(dir, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
  const out = path.join(tmp, 'src', 'cifar-10-binary.tar.gz');
  execFileSync('tar', ['czf', out, '-C', path.join(tmp, 'src'), 'cifar-10-batches-bin']);
  return readFileSync(out);
}

const files = new Map<string, Buffer>();
const requests: string[] = [];
let server: http.Server;
let base = '';
let closedBase = '';

beforeAll(async () => {
  files.set('/cifar-10-binary.tar.gz', cifarArchive());
  files.set('/train_32x32.mat', matFile(svhnVars([10, 3]), { compress: true }));
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/cifar-100-binary.tar.gz') {
      // Stalls: headers and 10 bytes, then nothing.
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(10));
      return;
    }
    const body = files.get(req.url ?? '');
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not here');
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A port that was just free: nothing listens there, so connecting is refused.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedBase = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/mirror`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(tmp, { recursive: true, force: true });
});

describe('dataset download (local server)', () => {
  it('downloads, verifies and extracts an archive into place; then nothing more is fetched', async () => {
    const root = path.join(tmp, 'ok-cifar');
    const [remote] = remoteFilesFor({ kind: 'cifar10', root }, 'train');
    expect(remote).toMatchObject({ name: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530', url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz' });
    const seen: number[] = [];
    await downloadFile({ ...remote!, md5: md5(files.get('/cifar-10-binary.tar.gz')!) }, root, { baseUrl: base, onProgress: (_f, bytes) => seen.push(bytes) });
    expect(seen.at(-1)).toBe(files.get('/cifar-10-binary.tar.gz')!.length);
    expect(readdirSync(root)).toEqual(['cifar-10-batches-bin']); // no temporary file or archive left
    const train = await readCifar10(root, 'train');
    expect(Array.from(train.labels)).toEqual([1, 9, 2, 9, 3, 9, 4, 9, 5, 9]);
    expect(train.classNames[3]).toBe('cat');
    const before = requests.length;
    await ensureDownloaded({ kind: 'cifar10', root, download: true }, 'test', { baseUrl: base });
    expect(requests.length).toBe(before);
    const test = await openDataset({ kind: 'cifar10', root, download: true }, 'test', { download: { baseUrl: base } });
    expect(Array.from(test.labels)).toEqual([0, 3]);
    expect(requests.length).toBe(before);
  });

  it('downloads a single .mat file into place', async () => {
    const root = path.join(tmp, 'ok-svhn');
    const [remote] = remoteFilesFor({ kind: 'svhn', root }, 'train');
    expect(remote).toMatchObject({ name: 'train_32x32.mat', md5: 'e26dedcc434d2e4c54c9b2d4a06d8373' });
    await downloadFile({ ...remote!, md5: md5(files.get('/train_32x32.mat')!) }, root, { baseUrl: `${base}/` });
    expect(readdirSync(root)).toEqual(['train_32x32.mat']);
    expect(Array.from((await readSvhn(root, 'train')).labels)).toEqual([0, 3]);
    expect(remoteFilesFor({ kind: 'svhn', root, extra: true }, 'train').map((r) => r.name)).toEqual(['train_32x32.mat', 'extra_32x32.mat']);
    expect(remoteFilesFor({ kind: 'svhn', root, extra: true }, 'test').map((r) => [r.name, r.md5])).toEqual([['test_32x32.mat', 'eb5a983be6a315427106f1b164d9cef3']]);
  });

  it('a checksum mismatch deletes the download and names both md5s (through openDataset and the env base URL)', async () => {
    const root = path.join(tmp, 'mismatch');
    const saved = process.env.SKIPNET_DOWNLOAD_BASE_URL;
    process.env.SKIPNET_DOWNLOAD_BASE_URL = base;
    try {
      const got = md5(files.get('/cifar-10-binary.tar.gz')!);
      await expect(openDataset({ kind: 'cifar10', root, download: true }, 'train')).rejects.toEqual(
        dataError(
          new RegExp(
            `CIFAR-10: the download of ${esc(base)}/cifar-10-binary\\.tar\\.gz is corrupt: its md5 is ${got}, expected c32a1d4ab5d03f1284b67883e8d87530; it was deleted\\. ` +
              `.*save it as ${esc(path.join(root, 'cifar-10-binary.tar.gz'))}, then run \`tar xzf cifar-10-binary\\.tar\\.gz\` in ${esc(root)}`,
          ),
        ),
      );
    } finally {
      if (saved === undefined) delete process.env.SKIPNET_DOWNLOAD_BASE_URL;
      else process.env.SKIPNET_DOWNLOAD_BASE_URL = saved;
    }
    expect(readdirSync(root)).toEqual([]);
  });

  it('an unreachable server (connection refused): the URL, the error, and where to put the file by hand', async () => {
    const root = path.join(tmp, 'refused');
    await expect(ensureDownloaded({ kind: 'svhn', root }, 'test', { baseUrl: closedBase })).rejects.toEqual(
      dataError(
        new RegExp(
          `SVHN: could not download ${esc(closedBase)}/test_32x32\\.mat: fetch failed: .*ECONNREFUSED.*\\. ` +
            `To install it by hand, download http://ufldl\\.stanford\\.edu/housenumbers/test_32x32\\.mat \\(md5 eb5a983be6a315427106f1b164d9cef3\\) ` +
            `and save it as ${esc(path.join(root, 'test_32x32.mat'))}\\.`,
        ),
      ),
    );
    expect(readdirSync(root)).toEqual([]);
  });

  it('an HTTP error (404)', async () => {
    const root = path.join(tmp, 'missing');
    await expect(openDataset({ kind: 'svhn', root, download: true }, 'test', { download: { baseUrl: base } })).rejects.toEqual(
      dataError(new RegExp(`SVHN: could not download ${esc(base)}/test_32x32\\.mat: the server answered HTTP 404 Not Found\\. To install it by hand`)),
    );
    expect(readdirSync(root)).toEqual([]);
    expect(requests.at(-1)).toBe('/test_32x32.mat');
  });

  it('a stalled transfer gives up after stallTimeoutMs', async () => {
    const root = path.join(tmp, 'stalled');
    await expect(ensureDownloaded({ kind: 'cifar100', root }, 'train', { baseUrl: base, stallTimeoutMs: 300 })).rejects.toEqual(
      dataError(new RegExp(`CIFAR-100: could not download ${esc(base)}/cifar-100-binary\\.tar\\.gz: the transfer broke off after 10 bytes: no data for 0\\.3 s\\. .*tar xzf cifar-100-binary\\.tar\\.gz`)),
    );
    expect(readdirSync(root)).toEqual([]);
  });

  it('without download: true nothing is fetched, and the reader says what is missing', async () => {
    const saved = process.env.SKIPNET_DOWNLOAD_BASE_URL;
    process.env.SKIPNET_DOWNLOAD_BASE_URL = base;
    const before = requests.length;
    try {
      await expect(openDataset({ kind: 'svhn', root: path.join(tmp, 'none') }, 'train')).rejects.toEqual(dataError(/cannot read .*train_32x32\.mat: ENOENT/));
      await expect(openDataset({ kind: 'cifar10', root: path.join(tmp, 'none') }, 'train')).rejects.toThrow(/cannot find data_batch_1\.bin.*download to true/);
    } finally {
      if (saved === undefined) delete process.env.SKIPNET_DOWNLOAD_BASE_URL;
      else process.env.SKIPNET_DOWNLOAD_BASE_URL = saved;
    }
    expect(requests.length).toBe(before);
  });
});
