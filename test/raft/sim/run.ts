/**
 * Runs the Raft simulation over many seeds:
 *   npm run sim:raft -- --seeds 100000          seeds 1..100000
 *   npm run sim:raft -- --seed 1234 [--trace]   one seed, replayed exactly
 *   options: --from N (first seed), --ticks N (fault phase length), --voters N
 * Exits 1 on the first failing seed and prints the command that replays it.
 */
import { runSimulation } from './simulation.js';
import type { SimOptions } from './simulation.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const single = arg('seed');
const opts: SimOptions = { trace: process.argv.includes('--trace') };
if (arg('ticks') !== undefined) opts.faultTicks = Number(arg('ticks'));
if (arg('voters') !== undefined) opts.voters = Number(arg('voters'));
const from = single !== undefined ? Number(single) : Number(arg('from') ?? 1);
const count = single !== undefined ? 1 : Number(arg('seeds') ?? 1000);

const started = performance.now();
let ops = 0;
let maxLive = 0;
for (let seed = from; seed < from + count; seed++) {
  const r = runSimulation(seed, opts);
  ops += r.ops;
  maxLive = Math.max(maxLive, r.livenessTicks);
  if (single !== undefined) {
    if (r.trace) for (const line of r.trace) console.log(line);
    const { trace: _t, ...rest } = r;
    console.log(JSON.stringify(rest));
  }
  if (!r.ok) {
    console.error(`seed ${seed} FAILED: ${r.failure}`);
    console.error(`replay: npm run sim:raft -- --seed ${seed}${opts.faultTicks ? ` --ticks ${opts.faultTicks}` : ''}${opts.voters ? ` --voters ${opts.voters}` : ''}`);
    process.exit(1);
  }
  if (count > 1 && (seed - from + 1) % 1000 === 0) {
    console.log(`${seed - from + 1} seeds ok (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
}
console.log(
  `${count} seed(s) ok from ${from}: ${ops} client ops, max liveness ${maxLive} ticks, ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
