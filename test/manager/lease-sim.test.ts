/**
 * The fencing lease's safety under a seeded simulation (lease-sim/): for
 * every down decision, every renewal ever granted to that node had expired,
 * plus the margin, by then. LEASE_SIM_SEEDS / LEASE_SIM_FROM to change;
 * a failing seed prints its replay command.
 */
import t from 'tap';
import { runLeaseSimulation } from './lease-sim/simulation.js';

const seeds = Number(process.env['LEASE_SIM_SEEDS'] ?? 500);
const from = Number(process.env['LEASE_SIM_FROM'] ?? 1);

t.test(`lease simulation: seeds ${from}..${from + seeds - 1}`, async (t) => {
  const failures: string[] = [];
  let downs = 0;
  let revocations = 0;
  let grants = 0;
  let changes = 0;
  for (let seed = from; seed < from + seeds; seed++) {
    const r = runLeaseSimulation(seed);
    downs += r.downs;
    revocations += r.revocations;
    grants += r.grants;
    changes += r.leaderChanges;
    if (!r.ok) {
      failures.push(`seed ${seed}: ${r.failure}\n  replay: npm run build && node .build/test/manager/lease-sim/run.js --seed ${seed}`);
      if (failures.length >= 5) break;
    }
  }
  t.same(failures, [], failures.join('\n'));
  t.ok(downs > seeds / 4, `${downs} down decisions checked (${revocations} revocations, ${grants} grants, ${changes} leader changes)`);
});

t.test('lease simulation without faults: nothing is ever revoked', async (t) => {
  for (let seed = 1; seed <= 30; seed++) {
    const r = runLeaseSimulation(seed, { faults: false, durationMs: 20_000 });
    t.ok(r.ok, r.failure ?? `seed ${seed}: ${r.grants} grants, no revocation`);
    if (!r.ok) break;
  }
});
