// Worker thread of bench/pipeline-ours.ts's 'workers' placement: reads, decodes and crops one
// image per message (lib/data/imagenet-preprocess.ts, the loader's own code), normalises it to
// float32 CHW when asked, and transfers the bytes back.
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { preprocessImage } from '../lib/data/imagenet-preprocess.js';
import { Rng } from '../lib/data/rng.js';
import { normaliseInto } from './normalise.js';

sharp.concurrency(1);
const port = parentPort;
if (!port) throw new Error('pipeline-thread.ts runs as a worker thread');

port.on('message', (m: { s: number; file: string; seed: number; float: boolean }) => {
  preprocessFile(m)
    .then((data) => port.postMessage({ s: m.s, data }, [data]))
    .catch((err: unknown) => port.postMessage({ s: m.s, error: `${m.file}: ${err instanceof Error ? err.message : String(err)}` }));
});

async function preprocessFile(m: { file: string; seed: number; float: boolean }): Promise<ArrayBuffer> {
  const r = await preprocessImage(await readFile(m.file), 'train', new Rng(m.seed));
  if (!m.float) return r.pixels.buffer.slice(r.pixels.byteOffset, r.pixels.byteOffset + r.pixels.byteLength) as ArrayBuffer;
  const out = new Float32Array(r.pixels.length);
  normaliseInto(r.pixels, 1, 224, 224, out);
  return out.buffer;
}
