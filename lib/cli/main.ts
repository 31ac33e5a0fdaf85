#!/usr/bin/env node
// The `skipnet` command (package.json bin: dist/cli/main.js).

import { runCli } from './program.js';

process.exitCode = await runCli(process.argv);
