/**
 * The whole-cluster simulation (simulation.ts): 500 seeds in npm test,
 * 2,000 in npm run test:full (CLUSTER_SIM_SEEDS=N for another count; `npm
 * run sim:cluster -- --seeds N` outside tap), and proof that it sees what it is for: a deliberately broken
 * orchestrator that replaces a node's tasks before the node's fence has
 * killed them is caught within 500 seeds.
 */
import t from 'tap';
import { runClusterSim } from './simulation.js';
import { FULL } from '../helpers/full.js';

// 500 by default (~15 s of one core here); the broken build below is caught long before.
const SEEDS = Number(process.env.CLUSTER_SIM_SEEDS ?? (FULL ? 2000 : 500));
const replay = (seed: number, brk = false) => `npm run sim:cluster -- --seed ${seed} --trace${brk ? ' --break' : ''}`;

t.test(`${SEEDS} seeds: no slot runs twice, every acknowledged write survives, desired = running after healing`, async (t) => {
  const failures: string[] = [];
  let acked = 0;
  let faults = 0;
  for (let seed = 1; seed <= SEEDS && failures.length < 3; seed++) {
    const r = runClusterSim(seed);
    acked += r.acked;
    faults += r.faults;
    if (!r.ok) failures.push(`seed ${seed}: ${r.failure}\n  replay: ${replay(seed)}`);
  }
  t.same(failures, [], `${SEEDS} seeds clean (${acked} acknowledged writes, ${faults} faults)`);
  t.ok(acked > SEEDS * 3 && faults > SEEDS * 3, 'the seeds did write and did break things');
});

t.test('a broken orchestrator (replacing tasks on two missed heartbeats, before the fence) is caught within 500 seeds', async (t) => {
  let caught: { seed: number; failure: string } | null = null;
  for (let seed = 1; seed <= 500 && !caught; seed++) {
    const r = runClusterSim(seed, { breakOrchestrator: true });
    if (!r.ok) caught = { seed, failure: r.failure! };
  }
  t.ok(caught, caught ? `seed ${caught.seed}: ${caught.failure.slice(0, 160)} (replay: ${replay(caught.seed, true)})` : 'no seed caught it');
  t.match(caught?.failure ?? '', /runs twice/, 'as two copies of one slot');
});
