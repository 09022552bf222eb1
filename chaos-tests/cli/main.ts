#!/usr/bin/env node
/**
 * The harness's CLI: Shoal's CLI with the test machinery's commands added —
 * `chaos` (break a real cluster on purpose) and `check` (the linearizability
 * checker) — and its node commands (`init`, `join`, `run`) start nodes with
 * the fault hooks (chaos-tests/node/hooks.ts): the test composition root.
 * It runs from the build tree, never from dist/:
 *
 *   npm run chaos -- run --seed 7        (node .build/chaos-tests/cli/main.js chaos run --seed 7)
 *   npm run check -- --model kv FILE
 */
import { main } from '../../src/cli/program.js';
import { HARNESS_COMMANDS, HARNESS_NODE_COMMANDS } from './index.js';

process.exitCode = await main(process.argv.slice(2), [...HARNESS_COMMANDS, HARNESS_NODE_COMMANDS]);
