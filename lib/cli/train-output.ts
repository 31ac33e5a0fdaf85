// How `skipnet train` shows training events: a progress bar plus one line per
// evaluation on a terminal; JSON lines (one per event, 'step' excluded) otherwise,
// so logs stay machine-readable. The final table goes to stdout on a terminal and
// to stderr in JSON mode (stdout stays pure JSON lines).

import type { TrainEvent } from '../train/events.js';
import { formatCount, formatGateRates, formatPercent } from './format.js';
import { ProgressBar } from './progress.js';
import { formatTrainSummary } from './report.js';

export interface TrainOutput {
  onEvent(event: TrainEvent): void;
  /** Print a note (e.g. "stopping after this step") without breaking the bar. */
  note(text: string): void;
  /** Remove the bar before an error message is printed. */
  close(): void;
}

export function createTrainOutput(opts: { json: boolean }): TrainOutput {
  return opts.json ? jsonOutput() : terminalOutput();
}

function jsonOutput(): TrainOutput {
  return {
    onEvent(event) {
      if (event.type === 'step') return;
      process.stdout.write(JSON.stringify(event) + '\n');
      if (event.type === 'done') process.stderr.write(formatTrainSummary(event.summary));
    },
    note(text) {
      process.stderr.write(text + '\n');
    },
    close() {},
  };
}

function terminalOutput(): TrainOutput {
  const bar = new ProgressBar(process.stdout);
  let window: { loss?: number; acc?: number; execPercent?: number; imgPerSec?: number } = {};
  // ETA from this process's own pace (a resumed run does not count earlier steps).
  let pace: { t0: number; step0: number } | null = null;

  return {
    onEvent(event) {
      switch (event.type) {
        case 'start': {
          const { spec, info } = event;
          console.log(
            `skipnet: ${spec.arch} ResNet-${spec.depth}, gate ${spec.gate} (${spec.gateMode}), ` +
              `${formatCount(info.parameters)} parameters, ${info.gatedBlocks} gated of ${info.blocks} blocks, ` +
              `${formatCount(info.fullMacs)} MACs plain`,
          );
          console.log(
            `skipnet: ${event.dataset}: ${event.trainSize} train / ${event.testSize} test images, ` +
              `${event.batchesPerEpoch} steps per epoch; device ${spec.device}, ${spec.threads} threads`,
          );
          console.log(
            `skipnet: ${event.resumedFrom ? `resuming from ${event.resumedFrom} at step ${event.step}` : 'starting'}; ` +
              `${event.steps} steps; writing to ${event.outDir}`,
          );
          pace = { t0: Date.now(), step0: event.step };
          break;
        }
        case 'step': {
          let etaSeconds: number | undefined;
          if (pace && event.step > pace.step0) {
            const perStep = (Date.now() - pace.t0) / 1000 / (event.step - pace.step0);
            etaSeconds = perStep * (event.steps - event.step);
          }
          bar.update({ step: event.step, steps: event.steps, lr: event.lr, ...window, etaSeconds });
          break;
        }
        case 'train': {
          const rates = event.gateExecRates;
          window = {
            loss: event.loss,
            acc: event.acc,
            execPercent: rates.length ? (100 * rates.reduce((a, b) => a + b, 0)) / rates.length : undefined,
            imgPerSec: event.imgPerSec,
          };
          break;
        }
        case 'eval': {
          const m = event.metrics;
          bar.log(
            `eval @ ${event.step}: top-1 ${formatPercent(m.top1)}  top-5 ${formatPercent(m.top5)}  CP ${formatPercent(m.cp, 1)}  ` +
              `MACs/img ${formatCount(m.macsPerImage.mean)}  exec ${formatGateRates(m.gateExecRates)}` +
              `  (${event.seconds.toFixed(1)}s)${event.best ? '  [best]' : ''}`,
          );
          break;
        }
        case 'checkpoint':
          break;
        case 'done':
          bar.clear();
          process.stdout.write(formatTrainSummary(event.summary));
          break;
      }
    },
    note(text) {
      bar.log(text);
    },
    close() {
      bar.clear();
    },
  };
}
