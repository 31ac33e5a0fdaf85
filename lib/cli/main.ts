#!/usr/bin/env node
// The `skipnet` command (package.json bin: dist/cli/main.js).

import os from 'node:os';
import { runCli } from './program.js';

// libuv's pool reads the image files of each batch and runs sharp for the files the native
// JPEG path hands back; its default of 4 threads is too few on a many-core machine. Its size is
// read when the pool first starts, which happens after this line (imports only read files
// synchronously). A value the user set is kept.
process.env.UV_THREADPOOL_SIZE ??= String(Math.min(64, Math.max(4, os.availableParallelism())));

process.exitCode = await runCli(process.argv);
