#!/usr/bin/env node
import { main } from '../src/cli/program.js';

// Only boots the CLI; everything else lives in src/cli.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`shoal: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
