// `skipnet train`: resolve the config (preset < config file < --set < flags), then
// run train() with Ctrl-C wired to its AbortSignal (first: save last/ and stop;
// second: quit at once).

import path from 'node:path';
import type { Command } from 'commander';
import { type ConfigLayer, resolveConfig } from '../config.js';
import { readCheckpointState, resolveCheckpointDir } from '../train/checkpoint.js';
import { train } from '../train/trainer.js';
import { collect, positiveInt } from './args.js';
import { createTrainOutput } from './train-output.js';

interface TrainFlags {
  preset?: string;
  config?: string;
  set: string[];
  out?: string;
  threads?: number;
  device?: string;
  steps?: number;
  stopAt?: number;
  resume?: string;
  stage?: string;
  init?: string;
  json?: boolean;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a SkipNet (supervised pre-training) and evaluate it')
    .option('-p, --preset <name>', 'start from a named recipe (list them with `skipnet presets`)')
    .option('-c, --config <file>', 'JSON config file, applied over the preset')
    .option('-s, --set <key=value>', 'override a field by dot path, e.g. model.depth=74 (repeatable)', collect, [])
    .option('-o, --out <dir>', 'output folder for checkpoints, metrics.jsonl and summary.json')
    .option('--threads <n>', 'LibTorch intra-op threads', positiveInt('--threads'))
    .option('--device <device>', "'cpu', 'cuda' or 'cuda:N'")
    .option('--steps <n>', 'total optimizer steps (schedule.steps)', positiveInt('--steps'))
    .option('--stop-at <n>', 'end after this step, the schedule keeping its length (stopAt): one stage of a longer recipe', positiveInt('--stop-at'))
    .option('--resume <dir>', 'continue from a checkpoint folder (or a run folder: its last/)')
    .option('--stage <stage>', "'sp' (supervised pre-training) or 'hrl' (hybrid reinforcement learning)")
    .option('--init <dir>', 'start from the weights of this checkpoint (fresh optimizer, step 0), e.g. an SP run for --stage hrl')
    .option('--json', 'print JSON lines even on a terminal')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  skipnet train --preset fmnist-quick\n' +
        '  skipnet train --preset cifar10-skipnet110-sp --set data.source.root=/data/cifar-10-batches-bin\n' +
        '  skipnet train --config run.json --set model.depth=74 --set optimizer.lr=0.05 --out runs/r74\n' +
        '  skipnet train --resume runs/r74 --steps 80000',
    )
    .action(async (flags: TrainFlags) => {
      await runTrain(flags);
    });
}

async function runTrain(flags: TrainFlags): Promise<void> {
  // Resuming: the checkpoint's own config is the base, so `--resume dir` alone continues the same run.
  const resumeDir = flags.resume ? await resolveCheckpointDir(flags.resume) : undefined;
  const base = resumeDir ? (await readCheckpointState(resumeDir)).config : undefined;

  const flagLayer: ConfigLayer = {
    outDir: flags.out,
    threads: flags.threads,
    device: flags.device,
    schedule: flags.steps === undefined ? undefined : { steps: flags.steps },
    stopAt: flags.stopAt,
    stage: flags.stage as ConfigLayer['stage'],
    init: flags.init,
  };
  const config = await resolveConfig({
    defaults: { outDir: defaultOutDir(flags) },
    base,
    preset: flags.preset,
    configFile: flags.config,
    overrides: flags.set,
    flags: flagLayer,
  });

  const output = createTrainOutput({ json: Boolean(flags.json) || !process.stdout.isTTY });
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    output.note('skipnet: stopping after this step and saving last/ (press Ctrl-C again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await train(config, { signal: controller.signal, resume: resumeDir, onEvent: (e) => output.onEvent(e) });
  } finally {
    output.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** runs/<preset or config name>-<YYYYMMDD-HHMMSS>, so two runs never share a folder by accident. */
function defaultOutDir(flags: TrainFlags): string {
  const name = flags.preset ?? (flags.config ? path.basename(flags.config, path.extname(flags.config)) : 'run');
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return path.join('runs', `${name}-${stamp}`);
}
