#!/usr/bin/env node
import { main } from '../src/cli/program.js';

// Only boots the CLI; everything else lives in src/cli. The chaos harness and the history
// checker are test machinery: they run as `npm run chaos` and `npm run check`
// (chaos-tests/cli/main.ts, the same CLI with their commands added), never from the product.
process.exitCode = await main(process.argv.slice(2));
