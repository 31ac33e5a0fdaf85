// `skipnet predict <checkpoint> <images...|folder>`: classify image files with a trained
// model, really skipping the blocks its gates turn off. One line per image (file, top-1
// class, probability, blocks executed, MACs), or JSONL records with --jsonl.

import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { collectImages, IMAGE_EXTENSIONS } from '../data/image-files.js';
import { isSkipNetError, SkipNetError } from '../errors.js';
import type { PredictResult } from '../service/types.js';
import { positiveInt, probability } from './args.js';
import { formatCount } from './format.js';

interface PredictFlags {
  threshold?: number;
  budget?: number;
  top?: number;
  jsonl?: string;
  batchSize?: number;
  device?: string;
  threads?: number;
}

function budgetArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1) {
    throw new SkipNetError('ERR_BAD_ARG', `--budget expects a fraction in (0, 1], got '${value}'`);
  }
  return n;
}



/** Files as given, folders expanded to their .jpg/.jpeg/.png files (recursively, sorted). */
export async function expandImageArgs(args: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const a of args) {
    const st = await stat(a).catch(() => null);
    if (!st) throw new SkipNetError('ERR_BAD_ARG', `${a}: no such file or folder`);
    if (st.isDirectory()) {
      const found: string[] = [];
      await collectImages(a, found);
      if (found.length === 0) throw new SkipNetError('ERR_BAD_ARG', `${a}: the folder has no images (${IMAGE_EXTENSIONS.join(', ')})`);
      files.push(...found);
    } else {
      files.push(a);
    }
  }
  return files;
}

export function predictRecord(file: string, r: PredictResult) {
  return {
    file,
    label: r.label,
    className: r.className ?? null,
    probability: r.probabilities[r.label]!,
    topK: r.topK,
    executedBlocks: r.executedBlocks,
    blocksExecuted: r.blocksExecuted,
    macs: r.macs,
    threshold: r.threshold,
  };
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('classify image files (JPEG/PNG) with a trained model, skipping the blocks its gates turn off')
    .argument('<checkpoint>', 'a checkpoint folder (last/, best/), a run folder (uses its last/) or a .safetensors weights file')
    .argument('<images...>', 'image files and/or folders (searched recursively for .jpg/.jpeg/.png)')
    .option('-t, --threshold <t>', 'gate threshold: a block runs when p > t; higher = fewer blocks (default 0.5)', probability('--threshold'))
    .option('--budget <f>', 'instead of --threshold: mean fraction of the plain network MACs to spend, in (0, 1]', budgetArg)
    .option('-k, --top <k>', 'classes in each record\'s topK', positiveInt('--top'), 5)
    .option('--jsonl <file>', "write one JSON record per image to <file> ('-' = stdout) instead of text lines")
    .option('-b, --batch-size <n>', 'most images per native call', positiveInt('--batch-size'), 32)
    .option('--device <device>', "'cpu', 'cuda' or 'cuda:N' (default: the device the run used)")
    .option('--threads <n>', 'LibTorch intra-op threads', positiveInt('--threads'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  skipnet predict runs/c10/best cat.jpg dog.png\n' +
        '  skipnet predict runs/c10 photos/ --threshold 0.7 --jsonl preds.jsonl\n' +
        '  skipnet predict runs/c10/best photos/ --budget 0.6\n',
    )
    .action(async (checkpoint: string, images: string[], flags: PredictFlags) => {
      await runPredict(checkpoint, images, flags);
    });
}

async function runPredict(checkpoint: string, images: string[], flags: PredictFlags): Promise<void> {
  if (flags.threshold !== undefined && flags.budget !== undefined) {
    throw new SkipNetError('ERR_BAD_ARG', 'give --threshold or --budget, not both');
  }
  const files = await expandImageArgs(images);
  const batchSize = flags.batchSize ?? 32;
  const { Classifier } = await import('../service/classifier.js');
  const clf = await Classifier.load(checkpoint, { device: flags.device, threads: flags.threads, maxBatch: batchSize });
  let out: WriteStream | null = null;
  const toStdout = flags.jsonl === '-';
  try {
    if (flags.jsonl && !toStdout) {
      const stream = createWriteStream(flags.jsonl);
      await new Promise<void>((resolve, reject) => stream.once('open', () => resolve()).once('error', reject)).catch((err) => {
        throw new SkipNetError('ERR_BAD_ARG', `cannot write ${flags.jsonl}: ${(err as Error).message}`);
      });
      out = stream;
    }
    const write = (line: string) => (out ? out.write(line) : process.stdout.write(line));
    const opts = { threshold: flags.threshold, budget: flags.budget, topK: flags.top ?? 5 };
    if (flags.budget !== undefined) {
      // Calibrate on (up to) the first images of the run rather than on whatever arrives first.
      const sample = await Promise.all(files.slice(0, 64).map((f) => readFile(f).then((b): Uint8Array | null => b, () => null)));
      const usable = sample.filter((b): b is Uint8Array => b !== null);
      // Files that cannot be decoded are left out here and reported below.
      if (usable.length) await clf.calibrate(usable, { skipBad: true }).catch(() => undefined);
    }

    const N = clf.info.blocks;
    const full = clf.info.fullMacs;
    const done: Array<{ ok: true; r: PredictResult } | { ok: false; err: unknown } | undefined> = new Array(files.length);
    let next = 0; // next file to print
    let failed = 0;
    let macsSum = 0;
    let blocksSum = 0;
    const flush = () => {
      while (next < files.length && done[next]) {
        const d = done[next]!;
        const file = files[next]!;
        done[next] = undefined;
        next++;
        if (!d.ok) {
          failed++;
          const e = d.err as Error & { code?: string };
          process.stderr.write(`skipnet: ${file}: ${e.message}${isSkipNetError(e) ? ` (${e.code})` : ''}\n`);
          continue;
        }
        const r = d.r;
        macsSum += r.macs;
        blocksSum += r.blocksExecuted;
        if (flags.jsonl) {
          write(JSON.stringify(predictRecord(file, r)) + '\n');
        } else {
          const name = r.className !== undefined ? `${r.className} (${r.label})` : `class ${r.label}`;
          write(
            `${file}  ${name}  p=${r.probabilities[r.label]!.toFixed(4)}  blocks ${r.blocksExecuted}/${N}  ` +
              `MACs ${formatCount(r.macs)} (${((100 * r.macs) / full).toFixed(1)}%)\n`,
          );
        }
      }
    };

    // Keep a few batches' worth of files in flight: the Classifier packs them into native calls.
    const window = Math.max(2 * batchSize, 8);
    let issued = 0;
    const worker = async () => {
      while (issued < files.length) {
        const i = issued++;
        try {
          const bytes = await readFile(files[i]!);
          done[i] = { ok: true, r: await clf.predict(bytes, opts) };
        } catch (err) {
          done[i] = { ok: false, err };
        }
        flush();
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, files.length) }, worker));
    flush();

    const ok = files.length - failed;
    if (ok > 0) {
      const calls = clf.stats().nativeCalls;
      process.stderr.write(
        `${ok} image${ok === 1 ? '' : 's'}: mean ${(blocksSum / ok).toFixed(2)}/${N} blocks, ` +
          `mean MACs ${formatCount(macsSum / ok)} (${((100 * macsSum) / ok / full).toFixed(1)}% of the plain network), ` +
          `${calls} native call${calls === 1 ? '' : 's'}\n`,
      );
    }
    if (failed > 0) {
      throw new SkipNetError('ERR_DATA', `${failed} of ${files.length} image${files.length === 1 ? '' : 's'} could not be classified (see above)`);
    }
  } finally {
    clf.dispose();
    if (out) await new Promise<void>((resolve) => out!.end(() => resolve()));
  }
}
