/**
 * Deterministic whole-cluster simulations (test/gossip/sim): no false
 * positive, every crash detected by everyone, views converge after the
 * faults stop. A failing seed prints the one command that replays it.
 *
 * The small variant of the benchmark runs here (150 members, 2 simulated
 * minutes, 10% loss, 5% of members pausing, 1% slow, crashes), plus 30%
 * loss, a healed partition, crash-and-restart, and members joining one by
 * one with every datagram checked against the wire schemas.
 * More seeds: GOSSIP_SIM_SEEDS=20 npx tap test/gossip/sim.test.ts
 */
import t from 'tap';
import { percentile, runScenario, violations } from './sim/cluster.js';
import { replayCommand, scenario } from './sim/scenario.js';
import { summary } from './sim/report.js';
import { FULL } from '../helpers/full.js';

const extra = Number(process.env.GOSSIP_SIM_SEEDS ?? 0);
// One seed of each scenario by default (npm test stays near 6 min on 2 cores); more with npm run test:full.
const plan: [string, number[]][] = [
  ['lossy-pauses', FULL ? [1, 2, 3, 4] : [1, 2]],
  ['heavy-loss', FULL ? [1, 2] : [1]],
  ['partition', FULL ? [1, 2] : [1]],
  ['restart', [1, 2]],
  ['join', [1, 2]],
];

for (const [name, seeds] of plan) {
  const all = [...seeds, ...Array.from({ length: extra }, (_, i) => 1000 + i)];
  for (const seed of all) {
    t.test(`${name} seed ${seed}`, async (t) => {
      const r = runScenario(scenario(name), seed);
      const v = violations(r);
      if (v.length > 0) t.comment(summary(r));
      t.same(v, [], `no violations; replay: ${replayCommand(name, seed)}`);
      t.ok(r.detectAll.length > 0, 'crashes were measured');
      t.ok(percentile(r.detectAll, 100) < 10_000, `every crash known to everyone within 10 s (max ${percentile(r.detectAll, 100)} ms)`);
    });
  }
}
