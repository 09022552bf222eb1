import t from 'tap';
import type { Test } from 'tap';
import { rmSync } from 'node:fs';
import { runChaos } from '../../chaos-tests/run.js';
import { NetnsLab } from '../../chaos-tests/netns.js';
import { formatReport, summaryLine } from '../../chaos-tests/report.js';
import { FULL_ONLY } from '../helpers/full.js';
import { makeSchedule } from '../../chaos-tests/schedule.js';
import { scenarioByName, usableKinds } from '../../chaos-tests/scenario.js';
import { seededRng } from '../../src/util/rng.js';
import { DiskFault } from '../../chaos-tests/faults/disk.js';

/**
 * Two short seeded chaos runs against a real cluster (3 managers, 2
 * workers, real processes) under the KV and service workload; between them
 * they inject crashes, a clock jump, isolation, pauses, full disks and an
 * asymmetric partition (`npm run chaos` mixes every kind, kills and
 * partition-minority too). Every checker must pass (the advisory no-false-down is only
 * reported). The runs are sequential: two clusters at once on a 2-core
 * machine would test the machine, not Shoal.
 *
 * - seed 110913, scenario all, its first three faults (all run, however
 *   long the heals take): crashes all managers at once, jumps the leader's
 *   clock, isolates the leader. (Seed 17 planned five faults but only three
 *   fitted on a loaded machine, and its clock jump never ran. Killing the
 *   leader is test/manager/failover.test.ts's subject, a worker kill
 *   test/examples/counter.test.ts's; `npm run chaos` mixes every kind.)
 * - seed 208, scenario pause,partition,disk, in network namespaces when
 *   root and the tools allow (--netns: every node in its own namespace
 *   behind veth + a bridge, partitions cut by nftables rules instead of the
 *   wire fault layer): pauses a worker, fills the leader's disk (after
 *   handing it leadership), fills a follower's disk, pauses the leader, and
 *   cuts the leader's outbound traffic (asymmetric). The disk faults need
 *   root (a tmpfs); without it they are dropped and said so.
 * The second run repeats the partition proof of the first in another form,
 * so it runs with `npm run test:full` (the default suite keeps near 6 min);
 * `npm run chaos` mixes every kind.
 */
async function seededRun(t: Test, seed: number, scenario: string, opts: { netns?: boolean; durationMs?: number; minFaults?: number } = {}): Promise<void> {
  const lines: string[] = [];
  const report = await runChaos({
    seed,
    scenario,
    durationMs: opts.durationMs ?? 25_000,
    // A loaded machine fits fewer faults into the phase; the run goes on until this many were injected.
    minFaults: opts.minFaults ?? 3,
    managers: 3,
    workers: 2,
    convergeMs: 45_000,
    checkTimeoutMs: 20_000,
    ...(opts.netns ? { netns: true } : {}),
    log: (m) => lines.push(m),
  });
  // The run dir (report, history, node logs) is kept only when something failed.
  t.teardown(() => {
    if (report.pass) rmSync(report.runDir, { recursive: true, force: true });
    else t.comment(`run dir kept: ${report.runDir}`);
  });
  t.comment(formatReport(report));
  t.comment(summaryLine(report.summary));
  t.ok(report.summary.faults >= (opts.minFaults ?? 3), `${report.summary.faults} faults injected`);
  t.equal(report.summary.acked_writes_lost, 0, 'no acknowledged write lost');
  t.equal(report.summary.linearizable, true, 'the KV history is linearizable');
  t.equal(report.summary.converged, true, 'every service converged after the faults');
  for (const v of report.checkers) {
    if (v.advisory) {
      if (!v.pass) t.comment(`advisory ${v.name}: ${v.summary}\n${v.details.join('\n')}`);
      continue;
    }
    t.ok(v.pass, `${v.name}: ${v.summary}`, { diagnostic: !v.pass, details: v.details.slice(0, 10) });
  }
  if (!report.pass || report.summary.faults < (opts.minFaults ?? 3)) t.comment(`run log:\n${lines.join('\n')}`);
}

// Planned at 2.0, 4.8 and 10.6 s (chaos-tests/schedule.ts): an 11 s phase holds all three, and minFaults makes all three run.
const SEED = 110913;
const PLANNED = ['crash-managers', 'clock-jump', 'partition-leader'];
t.test('seeded chaos run (crash, clock jump, isolated leader): nothing acknowledged is lost, the history is linearizable, the cluster converges', async (t) => {
  // The plan is a function of the kinds this machine can run: disk faults need root (a tmpfs).
  const disk = DiskFault.unavailable() === null;
  const plan = makeSchedule(seededRng(SEED), usableKinds(scenarioByName('all'), { managers: 3, workers: 2, disk }).kinds, 11_000).map((e) => e.kind);
  if (disk) t.same(plan, PLANNED, 'the seed plans these three faults');
  else t.comment(`disk faults cannot run here, so seed ${SEED} plans other faults: ${plan.join(', ')}`);
  await seededRun(t, SEED, 'all', { durationMs: 11_000, minFaults: 3 });
});

const netnsWhy = NetnsLab.unavailable();
t.test(
  `seeded chaos run (pauses, full disks, asymmetric partition${netnsWhy ? `; not in network namespaces: ${netnsWhy}` : ', in network namespaces'}): nothing acknowledged is lost, the history is linearizable, the cluster converges`,
  FULL_ONLY,
  (t) => seededRun(t, 208, 'pause,partition,disk', { netns: netnsWhy === null }),
);
