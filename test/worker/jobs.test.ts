/**
 * Jobs on real processes (one node, the process runtime), through the CLI:
 * - `service create --mode replicated-job --replicas 4 --max-concurrent 2`
 *   waits for the job and prints its progress; four runs complete, never more
 *   than two at once (each run writes its start and end to a file);
 * - `service ps` shows them Complete, and nothing restarts them;
 * - `service update --force` runs the job again (a new iteration);
 * - a job whose task fails with restart condition none: the wait says why
 *   and exits 1;
 * - a global job runs once on the node;
 * - --update-* flags on a job are refused by the API, naming the field.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ProcCluster } from '../helpers/procs.js';
import { shoalProcess, oneLineError } from '../cli/helpers.js';

/** The most runs that overlapped, from "start <ms>" / "end <ms>" lines. */
function maxOverlap(lines: string[]): number {
  const ev = lines.map((l) => l.split(' ')).map(([k, v]) => ({ at: Number(v), d: k === 'start' ? 1 : -1 }));
  ev.sort((a, b) => a.at - b.at || a.d - b.d);
  let cur = 0;
  let max = 0;
  for (const e of ev) max = Math.max(max, (cur += e.d));
  return max;
}

t.test('replicated and global jobs run to completion', async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const host = `unix://${m1.dataDir}/api.sock`;
  const shoal = (...args: string[]) => shoalProcess(args, { host, timeoutMs: 90_000 });
  const log = path.join(c.dir, 'runs.log');
  const script = `echo start $(date +%s%3N) >> ${log}; sleep 0.4; echo end $(date +%s%3N) >> ${log}`;

  let r = await shoal('service', 'create', '--name', 'batch', '--mode', 'replicated-job', '--replicas', '4', '--max-concurrent', '2', '--runtime', 'process', '--timeout', '60s', '--', 'sh', '-c', script);
  t.equal(r.code, 0, r.err + r.out);
  t.match(r.out, /batch: 4\/4 completed, 0 running\njob complete\n$/, 'progress, then done');
  const lines = () => readFileSync(log, 'utf8').trim().split('\n');
  t.equal(lines().length, 8, 'four runs, each started and ended');
  t.equal(maxOverlap(lines()), 2, 'at most two at once (--max-concurrent 2), and two did overlap');
  r = await shoal('service', 'ps', '--format', 'json', 'batch');
  const rows = r.out.trim().split('\n').map((l) => JSON.parse(l) as { Name: string; DesiredState: string; CurrentState: string });
  t.equal(rows.length, 4, r.out);
  // Slots count from 0 in a job (SwarmKit), and docker names slot 0's task after its node.
  t.same(rows.map((x) => x.Name.replace(/^batch\.[0-9a-z]{25}$/, 'batch.<node>')).sort(), ['batch.1', 'batch.2', 'batch.3', 'batch.<node>'], 'task names as docker gives them');
  t.ok(rows.every((x) => x.DesiredState === 'Complete' && /^Complete /.test(x.CurrentState)), `every task Complete:\n${r.out}`);
  r = await shoal('service', 'ls', '--format', 'json');
  const ls = r.out.trim().split('\n').map((l) => JSON.parse(l) as { Name: string; Mode: string; Replicas: string });
  t.match(ls.find((x) => x.Name === 'batch'), { Mode: 'replicated job', Replicas: /^0\/\d \(4\/4 completed\)$/ }, 'service ls shows the completions, as docker does');

  // Run it again: a new spec is a new iteration.
  r = await shoal('service', 'update', '--force', '--timeout', '60s', 'batch');
  t.equal(r.code, 0, r.err + r.out);
  t.match(r.out, /job complete\n$/);
  t.equal(lines().length, 16, 'the job ran four more times');
  t.equal((await shoal('service', 'ps', '-q', 'batch')).out.trim().split('\n').length, 8, 'the first run stays in the history');

  // A job that cannot complete: one line saying why, exit 1.
  r = await shoal('service', 'create', '--name', 'doomed', '--mode', 'replicated-job', '--restart-condition', 'none', '--runtime', 'process', '--timeout', '30s', '--', 'sh', '-c', 'exit 3');
  t.equal(oneLineError(r), null, r.err);
  t.match(r.err, /^shoal: job doomed cannot complete: doomed\.\S+ failed: .*exit \(3\).*\(restart condition none\)\n$/);

  // A global job: once on the (one) node.
  r = await shoal('service', 'create', '--name', 'everywhere', '--mode', 'global-job', '--runtime', 'process', '--timeout', '30s', '--', 'sh', '-c', `echo global >> ${log}`);
  t.equal(r.code, 0, r.err + r.out);
  t.match(r.out, /everywhere: 1\/1 completed/);
  t.equal(lines().filter((l) => l === 'global').length, 1, 'it ran once');

  r = await shoal('service', 'create', '-d', '--name', 'nope', '--mode', 'replicated-job', '--update-parallelism', '2', '--runtime', 'process', '--', 'true');
  t.equal(oneLineError(r), null);
  t.match(r.err, /Spec\.UpdateConfig.*no rolling update/, 'update settings on a job are refused');
  r = await shoal('service', 'create', '-d', '--name', 'nope', '--mode', 'replicated-job', '--restart-condition', 'any', '--runtime', 'process', '--', 'true');
  t.match(r.err, /RestartPolicy\.Condition.*not any/, 'so is restart condition any');
});
