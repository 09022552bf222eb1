import t from 'tap';
import { rmSync } from 'node:fs';
import { runChaos } from '../../chaos-tests/run.js';
import { summaryLine } from '../../chaos-tests/report.js';
import { FULL_ONLY } from '../helpers/full.js';

/**
 * The harness can see failures: against deliberately broken builds
 * (chaos-tests/node/break.ts, switched on by SHOAL_CHAOS_BREAK) the checkers
 * must FAIL.
 *  - ack-before-commit: PUT answers before the proposal commits; each client
 *    reads its own key back through another manager, and the leader is
 *    killed or cut off → a stale read of an acknowledged write (not
 *    linearizable), or the write is gone.
 *  - lose-tail: every manager crashes at once and drops its last log
 *    entries on restart → acknowledged appends missing on every manager.
 *    Runs with `npm run test:full` (a second cluster run of ~25 s; the
 *    acked-writes checker's own unit tests run by default).
 */
const common = { managers: 3, workers: 0, durationMs: 8_000, checkTimeoutMs: 20_000, log: () => {} } as const;

t.test('ack-before-commit is caught', async (t) => {
  // Seed 425 plans one fault in 5 s (chaos-tests/schedule.ts): the leader cut off at 2 s for 3 s; minFaults keeps a loaded machine from skipping it.
  const r = await runChaos({ ...common, seed: 425, durationMs: 5_000, minFaults: 1, scenario: 'selftest-ack', break: 'ack-before-commit' });
  t.teardown(() => rmSync(r.runDir, { recursive: true, force: true }));
  t.comment(summaryLine(r.summary));
  t.equal(r.summary.faults, 1, 'the leader was cut off');
  t.equal(r.pass, false, 'the run fails');
  t.ok(!r.summary.linearizable || r.summary.acked_writes_lost > 0, 'the history is not linearizable or acknowledged writes are lost');
  const lin = r.checkers.find((c) => c.name === 'linearizable')!;
  t.comment(lin.details.join('\n').split('\n').slice(0, 8).join('\n'));
});

t.test('lose-tail is caught', FULL_ONLY, async (t) => {
  const r = await runChaos({ ...common, seed: 5, scenario: 'selftest-lose-tail', break: 'lose-tail' });
  t.teardown(() => rmSync(r.runDir, { recursive: true, force: true }));
  t.comment(summaryLine(r.summary));
  t.equal(r.pass, false, 'the run fails');
  t.ok(r.summary.acked_writes_lost > 0, `${r.summary.acked_writes_lost} acknowledged writes lost`);
  const acked = r.checkers.find((c) => c.name === 'acked-writes')!;
  t.comment(acked.details.slice(0, 5).join('\n'));
});
