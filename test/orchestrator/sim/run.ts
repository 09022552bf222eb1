/**
 * Runs the orchestrator simulation over many seeds, or replays one:
 *   npm run sim:orchestrator -- --seeds 2000
 *   npm run sim:orchestrator -- --seed 1234 --trace
 *   options: --from N (first seed), --chaos-ms N (fault phase length, default 40,000)
 * Exits 1 on the first failing seed and prints the command that replays it.
 */
import { runSimulation } from './simulation.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export function replayCommand(seed: number): string {
  return `npm run sim:orchestrator -- --seed ${seed} --trace`;
}

const single = arg('seed');
const from = single !== undefined ? Number(single) : Number(arg('from') ?? 1);
const count = single !== undefined ? 1 : Number(arg('seeds') ?? 1000);
const started = performance.now();
let worst = 0;
for (let seed = from; seed < from + count; seed++) {
  const chaos = arg('chaos-ms');
  const r = runSimulation(seed, { trace: process.argv.includes('--trace'), ...(chaos !== undefined ? { chaosMs: Number(chaos) } : {}) });
  worst = Math.max(worst, r.convergedAfterMs);
  if (single !== undefined) {
    for (const line of r.trace) console.log(line);
    const { trace: _t, ...rest } = r;
    console.log(JSON.stringify(rest));
  }
  if (!r.ok) {
    console.error(`seed ${seed} FAILED: ${r.failure}`);
    console.error(`replay: ${replayCommand(seed)}${arg('chaos-ms') !== undefined ? ` --chaos-ms ${arg('chaos-ms')}` : ''}`);
    process.exit(1);
  }
}
console.log(JSON.stringify({ seeds: count, from, ms: Math.round(performance.now() - started), worstConvergenceMs: worst }));
