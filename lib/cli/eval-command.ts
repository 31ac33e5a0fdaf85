// `skipnet eval <checkpointDir>`: hard-gate evaluation of a saved model on the
// test split of its own dataset (or of --data), printed as a table or JSON.
// With --out it also writes the per-image routing record, per-class figures and
// histograms (lib/cli/eval-output.ts); with --sweep it re-evaluates at other gate
// thresholds to trace accuracy against computation without retraining.

import type { Command } from 'commander';
import { SkipNetError } from '../errors.js';
import { readCheckpointState, resolveCheckpointDir } from '../train/checkpoint.js';
import { loadDataApi } from '../train/deps.js';
import { EvalDetailAccumulator } from '../train/eval-details.js';
import { evaluateModel, sweepThresholds, withCheckpointModel } from '../train/evaluate.js';
import { ensureSharedFolder } from '../train/shared-data.js';
import { parseDataArg, positiveInt, probability } from './args.js';
import { type EvalHeader, writeEvalFiles, writeSweepFiles } from './eval-output.js';
import { formatEvalResult, formatPerClass, formatSweep } from './report.js';

interface EvalFlags {
  threshold?: number;
  data?: string;
  batchSize?: number;
  device?: string;
  threads?: number;
  json?: boolean;
  out?: string;
  sweep?: boolean | string;
}

export const DEFAULT_SWEEP = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/** "0.2,0.5,0.8" -> [0.2, 0.5, 0.8]; every entry a probability. */
export function parseSweep(value: boolean | string | undefined): number[] | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return DEFAULT_SWEEP;
  const parse = probability('--sweep');
  const list = value.split(',').map((v) => parse(v.trim()));
  if (list.length === 0) throw new SkipNetError('ERR_BAD_ARG', '--sweep expects thresholds such as 0.3,0.5,0.7');
  return [...new Set(list)];
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a checkpoint: top-1/top-5, computation percentage, MACs per image, per-gate execution, per-class figures')
    .argument('<checkpointDir>', 'a checkpoint folder (last/, best/) or a run folder (uses its last/)')
    .option('-t, --threshold <t>', 'gate threshold: a block runs when p > t (default: the run config, 0.5)', probability('--threshold'))
    .option('-d, --data <source>', "test data, as kind:root (e.g. 'cifar10:/data/cifar-10-batches-bin') or JSON; default: the run's")
    .option('-b, --batch-size <n>', 'evaluation batch size', positiveInt('--batch-size'))
    .option('--device <device>', "'cpu', 'cuda' or 'cuda:N' (default: the device the run used)")
    .option('--threads <n>', 'LibTorch intra-op threads', positiveInt('--threads'))
    .option('-o, --out <dir>', 'write eval.json, routing.jsonl (which blocks each image ran) and per-class.csv here (e.g. <run>/eval, which skipnet report reads)')
    .option('--sweep [thresholds]', `also evaluate at these gate thresholds (comma-separated; default ${DEFAULT_SWEEP.join(',')}) and write sweep.json/csv with --out`)
    .option('--json', 'print the metrics as one JSON object')
    .addHelpText('after', '\nExamples:\n  skipnet eval runs/s38\n  skipnet eval runs/s38 --out runs/s38/eval --sweep\n  skipnet eval runs/s38/best --threshold 0.7 --json')
    .action(async (checkpoint: string, flags: EvalFlags) => {
      const sweep = parseSweep(flags.sweep);
      const dir = await resolveCheckpointDir(checkpoint);
      const state = await readCheckpointState(dir);
      const source = flags.data ? parseDataArg(flags.data) : state.config.data.source;
      await ensureSharedFolder(source);
      const data = await loadDataApi();
      const dataset = await data.openDataset(source, 'test');
      const threshold = flags.threshold ?? state.config.threshold;
      const batchSize = flags.batchSize ?? state.config.data.evalBatchSize;
      const header: EvalHeader = { checkpoint: dir, step: state.step, dataset: dataset.name, threshold, source };

      const { metrics, details, routing, points } = await withCheckpointModel(dir, dataset, flags, async (model) => {
        const gated = model.info(dataset.height, dataset.width).gatedBlocks;
        const acc = new EvalDetailAccumulator(gated, dataset.classNames);
        const metrics = await evaluateModel(model, dataset, { threshold, batchSize, data, details: acc });
        // A plain ResNet has no gates: every threshold gives the same numbers.
        if (sweep && gated === 0) process.stderr.write('skipnet: --sweep ignored: this model has no gates\n');
        const points = sweep && gated > 0 ? await sweepThresholds(model, dataset, sweep, { batchSize, data }) : undefined;
        return { metrics, details: acc.result(), routing: acc.routing, points };
      });

      const written = flags.out ? await writeEvalFiles(flags.out, header, metrics, details, routing) : [];
      if (flags.out && points) written.push(...(await writeSweepFiles(flags.out, header, points)));

      if (flags.json) {
        const { perClass, blocksHistogram, macsHistogram } = details;
        process.stdout.write(JSON.stringify({ ...header, ...metrics, perClass, blocksHistogram, macsHistogram, sweep: points, written }) + '\n');
        return;
      }
      process.stdout.write(formatEvalResult(metrics, { checkpoint: `${dir} (step ${state.step})`, dataset: dataset.name, threshold }));
      process.stdout.write(formatPerClass(details.perClass));
      if (points) process.stdout.write(formatSweep(points));
      if (written.length > 0) process.stdout.write(`\nwrote ${written.join(', ')}\n`);
    });
}
