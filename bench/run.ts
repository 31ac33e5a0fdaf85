// Entry point of `npm run bench`: picks benchmarks by name and hands them the flags.
//
//   npm run bench                         every benchmark below, default settings
//   npm run bench -- sp --quick           one benchmark, its own flags after the name
//   npm run bench -- --only train         flags with no name go to every benchmark run
//   npm run bench -- --help | sp --help   the list / one benchmark's flags
//
// A benchmark is a module under bench/ whose default export is a BenchModule
// (bench/common.ts): add it to BENCHMARKS and it is listed, selectable and part of the
// default run. Modules are imported only when run, so one that needs something missing
// does not stop the others from being listed.
import type { BenchModule } from './common.js';

const BENCHMARKS: Record<string, { description: string; load: () => Promise<BenchModule> }> = {
  sp: {
    description:
      'SP train/eval throughput of SkipNet-38/110 (--arch imagenet: SkipNet-101, fp32/bf16, CPU or CUDA), this engine vs the PyTorch reference (bench/sp-throughput.ts)',
    load: async () => (await import('./sp-throughput.js')).default,
  },
  skip: {
    description: 'inference of a trained SkipNet: skipping vs masked vs plain ResNet vs PyTorch (bench/skip-inference.ts; needs --checkpoint)',
    load: async () => (await import('./skip-inference.js')).default,
  },
  ddp: {
    description: 'data-parallel SP training: samples/s and scaling efficiency of 1 vs N processes over Gloo (bench/ddp.ts)',
    load: async () => (await import('./ddp.js')).default,
  },
  hrl: {
    description: 'HRL step: full computation vs skipping the blocks sampled actions skip (bench/hrl-step.ts; needs --checkpoint)',
    load: async () => (await import('./hrl-step.js')).default,
  },
  pipeline: {
    description: 'data pipeline images/s: ImageNet RandomResizedCrop vs torchvision DataLoader, CIFAR vs the training step (bench/pipeline.ts)',
    load: async () => (await import('./pipeline.js')).default,
  },
};

function help(): string {
  const names = Object.entries(BENCHMARKS)
    .map(([name, b]) => `  ${name.padEnd(8)} ${b.description}`)
    .join('\n');
  return `usage: npm run bench -- [name ...] [flags]

Runs the named benchmarks (default: all of them) one after another; the flags go to each.
Names come first, before any flag. \`npm run bench -- <name> --help\` lists a benchmark's flags.

benchmarks:
${names}`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const names: string[] = [];
  let i = 0;
  for (; i < argv.length && !argv[i]!.startsWith('-'); i++) {
    const name = argv[i]!;
    if (!(name in BENCHMARKS)) {
      throw new Error(`unknown benchmark '${name}' (known: ${Object.keys(BENCHMARKS).join(', ')})`);
    }
    if (!names.includes(name)) names.push(name);
  }
  const flags = argv.slice(i);
  if (names.length === 0 && (flags.includes('--help') || flags.includes('-h'))) {
    process.stdout.write(help() + '\n');
    return;
  }
  const selected = names.length > 0 ? names : Object.keys(BENCHMARKS);
  for (const name of selected) {
    const mod = await BENCHMARKS[name]!.load();
    if (selected.length > 1) process.stdout.write(`\n=== ${name}: ${mod.description} ===\n`);
    await mod.run(flags);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
