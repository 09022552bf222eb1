#!/usr/bin/env node
import { main } from '../src/cli/program.js';
import { HARNESS_COMMANDS } from '../chaos-tests/cli/index.js';

// Only boots the CLI; everything else lives in src/cli. The chaos harness and the history
// checker are test machinery (chaos-tests/), not product: they join the CLI here, loaded only
// when their command runs, so nothing in src/ imports them.
main(process.argv.slice(2), HARNESS_COMMANDS).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`shoal: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
