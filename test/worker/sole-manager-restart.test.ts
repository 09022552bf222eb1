/**
 * Live restore on a one-manager cluster whose manager node runs the tasks
 * (`shoal up --managers 1 --workers 0`), with 100 real tasks:
 * - its daemon frozen (SIGSTOP) past the fence period: alive but silent is
 *   no proof that nobody replaces the tasks, so the supervisor fences them,
 *   as on any node; the cluster then runs them again;
 * - its daemon killed with SIGKILL and started again seconds later: the
 *   lease runs out meanwhile, but the newest grant came from the cluster's
 *   only manager, this node's own, and its process is dead, so no leader can
 *   exist to replace them: every task keeps running, same PID, never
 *   restarted (manager/lease/sole-manager.ts has the argument);
 * - a second manager joining afterwards is promoted only once no "sole
 *   manager" grant can still hold the tasks.
 * test/manager/sole-manager.test.ts has the rules one by one.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { tasksOf } from '../../chaos-tests/harness/proc-cluster.js';
import { ProcCluster } from '../helpers/procs.js';
import { sleepService } from '../helpers/sleep-service.js';
import { alive } from '../helpers/proc-alive.js';
import { waitFor } from '../helpers/wait.js';

const N = 100;

t.test('a one-manager cluster: a frozen daemon is fenced, a dead one restarted keeps every task', async (t) => {
  const c = new ProcCluster();
  // close() SIGKILLs every node, which ends a stopped process as well.
  t.teardown(() => c.close());
  const m1 = await c.init();
  const r = await sleepService(c, m1, 'hold', N);
  t.equal(r.status, 201, r.body);
  const { tasks, running } = r;
  const allRunning = () => waitFor(async () => (await running()).length === N, { timeoutMs: 120_000, intervalMs: 200, what: `${N} running tasks\n${c.logs().slice(-3000)}` });
  await allRunning();
  const supDir = path.join(m1.dataDir, 'supervisor');
  const nodeLogs = () => c.nodes.map((n) => n.stdout + n.stderr).join('\n');
  const supLog = () => (existsSync(path.join(supDir, 'supervisor.log')) ? readFileSync(path.join(supDir, 'supervisor.log'), 'utf8') : '');

  // 1. Frozen, not dead: the daemon (the manager) may wake and act, so the fence holds as always.
  const frozenSup = c.supervisorPid(m1)!;
  t.equal(tasksOf(frozenSup).length, N, `${N} tasks under the supervisor`);
  const fencedIds = new Set((await running()).map((x) => x.ID));
  process.kill(m1.proc!.pid!, 'SIGSTOP');
  await waitFor(() => !alive(frozenSup), { timeoutMs: 20_000, what: 'the supervisor of the frozen node to fence' });
  process.kill(m1.proc!.pid!, 'SIGCONT');
  t.match(readFileSync(path.join(supDir, 'fenced'), 'utf8'), /fenced: no manager renewed/, 'fenced: its daemon was alive, only silent');
  t.notMatch(supLog(), /the tasks run on/, 'no hold-off for a daemon that is alive');
  // Until the woken daemon reports, the managers still list the fenced tasks as running: wait for N new ones, under a new supervisor.
  await waitFor(
    async () => {
      const now = (await running()).filter((x) => !fencedIds.has(x.ID));
      const s = c.supervisorPid(m1);
      return now.length === N && s !== null && s !== frozenSup && tasksOf(s).length === N;
    },
    { timeoutMs: 120_000, intervalMs: 200, what: `${N} new tasks under a new supervisor\n${c.logs().slice(-3000)}` },
  );

  // 2. Dead: kill -9, down for longer than the fence period, started again from its data dir.
  const sup = c.supervisorPid(m1)!;
  const ids = new Set((await running()).map((x) => x.ID));
  const pids = new Set(tasksOf(sup));
  t.equal(pids.size, N, `${N} tasks under the new supervisor ${sup}`);
  await c.kill(m1, 'SIGKILL');
  await waitFor(() => /the lease ran out while this node's manager, the cluster's only one, is not running: the tasks run on/.test(supLog()), {
    timeoutMs: 15_000,
    what: `the supervisor to hold its tasks through the expired lease\n${supLog().slice(-2000)}`,
  });
  await new Promise((res) => setTimeout(res, 1_500)); // the rest of the downtime: nothing to wait for
  t.ok(alive(sup), 'the supervisor runs on');
  t.equal(tasksOf(sup).filter((p) => pids.has(p)).length, N, `all ${N} tasks run on, with the lease expired and no daemon`);
  await c.restart(m1);
  await allRunning();
  t.equal(c.supervisorPid(m1), sup, 'the restarted daemon found the same supervisor');
  const now = await running();
  t.ok(now.every((x) => ids.has(x.ID)), `the same ${N} tasks (none replaced)`);
  t.equal((await tasks()).filter((x) => !ids.has(x.ID) && x.DesiredState === 'running').length, 0, 'no task created');
  const after = tasksOf(sup);
  t.ok(after.length === N && after.every((p) => pids.has(p)), `the same ${N} processes`);
  t.match(nodeLogs(), /this node's manager, the cluster's only one, was away: its task supervisor held 100 task\(s\)/, 'the daemon says why its tasks ran on');

  // 3. A second manager: promoted once no sole grant, and no grace of the restart, can hold tasks any more.
  const m2 = await c.join('manager', m1);
  await waitFor(async () => /promoted to voter/.test(nodeLogs()), { timeoutMs: 30_000, what: `the second manager promoted\n${c.logs().slice(-3000)}` });
  t.match(nodeLogs(), /a second manager joins a one-manager cluster: \d+ ms until no sole-manager grant can hold tasks/, 'the promotion waited for the sole grants to run out');
  t.ok(m2, 'joined');
  t.equal(tasksOf(sup).filter((p) => pids.has(p)).length, N, 'the tasks ran on through it');
});
