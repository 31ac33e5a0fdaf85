// `skipnet presets [name]`: list the recipes, or show one fully resolved (every
// default filled in), which is exactly what `train --preset name` would run.

import type { Command } from 'commander';
import { parseConfig } from '../config.js';
import { getPreset, listPresets } from '../presets.js';
import { formatTable } from './format.js';

export function registerPresets(program: Command): void {
  program
    .command('presets')
    .description('list the training recipes, or print one as a resolved config')
    .argument('[name]', 'a preset to print in full')
    .option('--json', 'print JSON')
    .action((name: string | undefined, flags: { json?: boolean }) => {
      if (name) {
        const preset = getPreset(name);
        const resolved = parseConfig(preset.config);
        process.stdout.write(JSON.stringify(flags.json ? resolved : { name, description: preset.description, config: resolved }, null, 2) + '\n');
        return;
      }
      const presets = listPresets();
      if (flags.json) {
        process.stdout.write(JSON.stringify(presets.map((p) => ({ name: p.name, description: p.description }))) + '\n');
        return;
      }
      process.stdout.write(formatTable(presets.map((p) => [p.name, p.description] as const), '') + '\n');
      process.stdout.write('\nshow one in full: skipnet presets <name>; use one: skipnet train --preset <name>\n');
    });
}
