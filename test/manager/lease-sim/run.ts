/**
 * Replays lease simulation seeds: node .build/test/manager/lease-sim/run.js --seed N [--seeds M]
 */
import { runLeaseSimulation } from './simulation.js';

const args = process.argv.slice(2);
const get = (f: string) => {
  const i = args.indexOf(f);
  return i >= 0 ? Number(args[i + 1]) : undefined;
};
const from = get('--seed') ?? 1;
const seeds = get('--seeds') ?? 1;
let bad = 0;
for (let s = from; s < from + seeds; s++) {
  const r = runLeaseSimulation(s);
  if (!r.ok) {
    bad++;
    process.stdout.write(`seed ${s}: ${r.failure}\n`);
  } else if (seeds === 1) process.stdout.write(`seed ${s}: ok ${JSON.stringify(r)}\n`);
}
process.stdout.write(`${seeds - bad}/${seeds} seeds passed\n`);
process.exit(bad ? 1 : 0);
