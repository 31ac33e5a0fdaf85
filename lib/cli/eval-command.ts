// `skipnet eval <checkpointDir>`: hard-gate evaluation of a saved model on the
// test split of its own dataset (or of --data), printed as a table or JSON.

import type { Command } from 'commander';
import { readCheckpointState, resolveCheckpointDir } from '../train/checkpoint.js';
import { loadDataApi } from '../train/deps.js';
import { evaluate } from '../train/evaluate.js';
import { ensureSharedFolder } from '../train/shared-data.js';
import { parseDataArg, positiveInt, probability } from './args.js';
import { formatEvalResult } from './report.js';

interface EvalFlags {
  threshold?: number;
  data?: string;
  batchSize?: number;
  device?: string;
  threads?: number;
  json?: boolean;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a checkpoint: top-1/top-5, computation percentage, MACs per image, per-gate execution')
    .argument('<checkpointDir>', 'a checkpoint folder (last/, best/) or a run folder (uses its last/)')
    .option('-t, --threshold <t>', 'gate threshold: a block runs when p > t (default: the run config, 0.5)', probability('--threshold'))
    .option('-d, --data <source>', "test data, as kind:root (e.g. 'cifar10:/data/cifar-10-batches-bin') or JSON; default: the run's")
    .option('-b, --batch-size <n>', 'evaluation batch size', positiveInt('--batch-size'))
    .option('--device <device>', "'cpu', 'cuda' or 'cuda:N' (default: the device the run used)")
    .option('--threads <n>', 'LibTorch intra-op threads', positiveInt('--threads'))
    .option('--json', 'print the metrics as one JSON object')
    .action(async (checkpoint: string, flags: EvalFlags) => {
      const dir = await resolveCheckpointDir(checkpoint);
      const state = await readCheckpointState(dir);
      const source = flags.data ? parseDataArg(flags.data) : state.config.data.source;
      await ensureSharedFolder(source);
      const dataset = await (await loadDataApi()).openDataset(source, 'test');
      const threshold = flags.threshold ?? state.config.threshold;
      const metrics = await evaluate(dir, dataset, {
        threshold,
        batchSize: flags.batchSize,
        device: flags.device,
        threads: flags.threads,
      });
      if (flags.json) {
        process.stdout.write(JSON.stringify({ checkpoint: dir, step: state.step, dataset: dataset.name, threshold, ...metrics }) + '\n');
      } else {
        process.stdout.write(formatEvalResult(metrics, { checkpoint: `${dir} (step ${state.step})`, dataset: dataset.name, threshold }));
      }
    });
}
