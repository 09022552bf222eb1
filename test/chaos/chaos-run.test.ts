import t from 'tap';
import { rmSync } from 'node:fs';
import { runChaos } from '../../chaos-tests/run.js';
import { formatReport, summaryLine } from '../../chaos-tests/report.js';

/**
 * A short seeded chaos run against a real cluster (3 managers, 2 workers,
 * real processes): seed 17 kills the leader, isolates the (new) leader,
 * crashes all managers at once, jumps the leader's clock and kills a worker,
 * under the KV and service workload. Every checker must pass (the advisory
 * no-false-down is only reported).
 */
t.test('seeded chaos run: nothing acknowledged is lost, the history is linearizable, the cluster converges', async (t) => {
  const lines: string[] = [];
  const report = await runChaos({ seed: 17, scenario: 'all', durationMs: 25_000, managers: 3, workers: 2, convergeMs: 45_000, checkTimeoutMs: 20_000, log: (m) => lines.push(m) });
  // The run dir (report, history, node logs) is kept only when something failed.
  t.teardown(() => {
    if (report.pass) rmSync(report.runDir, { recursive: true, force: true });
    else t.comment(`run dir kept: ${report.runDir}`);
  });
  t.comment(formatReport(report));
  t.comment(summaryLine(report.summary));
  t.ok(report.summary.faults >= 3, `${report.summary.faults} faults injected`);
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
  if (!report.pass) t.comment(`run log:\n${lines.join('\n')}`);
});
