/**
 * Deterministic Raft simulation over 500 seeds (2,000 with npm run test:full) (RAFT_SIM_SEEDS / RAFT_SIM_FROM
 * to change). Each seed: 3–7 nodes, lossy/duplicating/reordering network,
 * partitions (incl. asymmetric), crashes losing unsynced writes, pauses,
 * membership changes and leader transfers; safety invariants at every step,
 * a liveness bound after healing, and a linearizable client history.
 * More seeds: npm run sim:raft -- --seeds 100000
 */
import t from 'tap';
import { runSimulation } from './sim/simulation.js';
import { FULL } from '../helpers/full.js';

// 500 seeds by default (npm test stays near 6 min on 2 cores); 2,000 with npm run test:full.
const seeds = Number(process.env['RAFT_SIM_SEEDS'] ?? (FULL ? 2000 : 500));
const from = Number(process.env['RAFT_SIM_FROM'] ?? 1);

t.test(`raft simulation: seeds ${from}..${from + seeds - 1}`, async (t) => {
  const failures: string[] = [];
  let ops = 0;
  let unknown = 0;
  let maxLiveness = 0;
  let leaders = 0;
  const features: Record<string, number> = {};
  for (let seed = from; seed < from + seeds; seed++) {
    const r = runSimulation(seed);
    ops += r.ops;
    unknown += r.unknownOps;
    leaders += r.leaders;
    maxLiveness = Math.max(maxLiveness, r.livenessTicks);
    for (const [k, v] of Object.entries(r.features)) features[k] = (features[k] ?? 0) + v;
    if (!r.ok) {
      failures.push(`seed ${seed}: ${r.failure?.split('\n')[0]}\n  replay: npm run sim:raft -- --seed ${seed}`);
      if (failures.length >= 5) break;
    }
  }
  t.same(failures, [], failures.join('\n'));
  t.ok(ops > seeds * 10, `${ops} client ops checked (${unknown} with unknown outcome), ${leaders} leaderships`);
  t.comment(`max ticks from healing to a commit on every voter: ${maxLiveness}`);
  t.comment(`paths exercised: ${JSON.stringify(features)}`);
  for (const k of ['snapshotsInstalled', 'confEntries', 'transfers', 'readIndexServed', 'checkQuorumStepDowns', 'forwarded']) {
    t.ok((features[k] ?? 0) > 0, `simulation exercised ${k}`);
  }
});
