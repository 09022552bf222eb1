#!/usr/bin/env node
import { main } from '../src/cli/program.js';

// Only boots the CLI; everything else lives in src/cli. The chaos harness and the history
// checker are test machinery (chaos-tests/), not product: they join the CLI here, loaded only
// when their command runs, so nothing in src/ imports them.
const harness = [
  { names: ['check'], load: async () => (await import('../chaos-tests/cli/check.js')).registerCheck },
  { names: ['chaos'], load: async () => (await import('../chaos-tests/cli/chaos.js')).registerChaos },
];

main(process.argv.slice(2), harness).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`shoal: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
