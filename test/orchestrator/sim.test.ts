/**
 * The seeded cluster simulation (test/orchestrator/sim): invariants at every
 * step, convergence (desired = running) after the faults stop. A failing seed
 * prints the command that replays it with a trace.
 * More seeds: ORCH_SIM_SEEDS=2000 npx tap test/orchestrator/sim.test.ts
 * One seed:   ORCH_SIM_SEED=1234 npx tap test/orchestrator/sim.test.ts
 */
import t from 'tap';
import { runSimulation } from './sim/simulation.js';
import { FULL } from '../helpers/full.js';

const replay = (seed: number) => `npm run sim:orchestrator -- --seed ${seed} --trace`;
const one = process.env.ORCH_SIM_SEED;
const seeds = one !== undefined ? [Number(one)] : Array.from({ length: Number(process.env.ORCH_SIM_SEEDS ?? (FULL ? 400 : 100)) }, (_, i) => i + 1);

t.test(`simulation, ${seeds.length} seeds`, async (t) => {
  const started = performance.now();
  let worst = 0;
  let reconciles = 0;
  let failed = 0;
  const totals = { restarts: 0, reschedules: 0, updates: 0, rollbacks: 0, paused: 0 };
  for (const seed of seeds) {
    const r = runSimulation(seed);
    if (!r.ok) {
      failed++;
      t.fail(`seed ${seed}: ${r.failure}\n  replay: ${replay(seed)}`);
      if (failed >= 5) break;
      continue;
    }
    worst = Math.max(worst, r.convergedAfterMs);
    reconciles += r.reconciles;
    totals.restarts += r.metrics.created.restart;
    totals.reschedules += r.metrics.created.reschedule;
    totals.updates += r.metrics.updatesCompleted;
    totals.rollbacks += r.metrics.rollbacksStarted;
    totals.paused += r.metrics.updatesPaused;
  }
  t.equal(failed, 0, 'every seed holds its invariants and converges');
  t.comment(`${seeds.length} seeds in ${Math.round(performance.now() - started)} ms, ${reconciles} reconciles; slowest convergence ${worst} ms after the faults; ${JSON.stringify(totals)}`);
  if (one === undefined) {
    t.ok(totals.restarts > 0 && totals.reschedules > 0 && totals.updates > 0 && totals.rollbacks > 0 && totals.paused > 0, 'the faults exercised restarts, reschedules, updates, rollbacks and pauses');
  }
});

t.test('a seed replays exactly', async (t) => {
  const a = runSimulation(7, { trace: true });
  const b = runSimulation(7, { trace: true });
  t.ok(a.trace.length > 100, 'a real run');
  t.same(a.trace, b.trace);
  t.same(a.metrics, b.metrics);
});

