#!/usr/bin/env node
import { main } from '../src/cli/program.js';

// Only boots the CLI; everything else lives in src/cli. The chaos harness and the history
// checker are test machinery: they run as `npm run chaos` and `npm run check`
// (chaos-tests/cli/main.ts, the same CLI with their commands added), never from the product.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`shoal: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
