/**
 * A worker holding 100 real tasks (process runtime), on a real cluster of
 * processes:
 * - its node daemon frozen (SIGSTOP: an event loop that does not run at
 *   all) for longer than the fence period, while the managers still hear the
 *   node through its task supervisor: no task is killed or replaced, every
 *   PID is the same; the node is merely 'disconnected', then 'ready' again;
 * - the CPU saturated by busy loops: the same;
 * - live restore: the daemon killed with SIGKILL and started again a few
 *   seconds later from its data dir: every task keeps running, same PID,
 *   never restarted, and the new daemon reports on them.
 * (Named so that tap, which starts files in alphabetical order, starts this
 * ~16 s file before the short worker/ files, not last: it was the suite's
 * tail, the other core idle.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import t from 'tap';
import { tasksOf } from '../../chaos-tests/harness/proc-cluster.js';
import { ProcCluster } from '../helpers/procs.js';
import { sleepService } from '../helpers/sleep-service.js';
import { waitFor } from '../helpers/wait.js';

const N = 100;

interface ApiNode {
  ID: string;
  Description: { Hostname: string };
  Spec: object;
  Version: { Index: number };
  Status: { State: string };
}

t.test('stall, CPU saturation and a daemon restart kill no task', async (t) => {
  const c = new ProcCluster();
  // close() SIGKILLs every node, which ends a stopped process as well.
  t.teardown(() => c.close());
  const m1 = await c.init();
  const w1 = await c.join('worker', m1);
  const nodes = async () => (await c.http(m1, 'GET', '/nodes')).json<ApiNode[]>();
  await waitFor(async () => (await nodes()).filter((n) => n.Status.State === 'ready').length === 2, { timeoutMs: 30_000, what: 'two ready nodes' });
  const byName = async (name: string) => (await nodes()).find((n) => n.Description.Hostname === name)!;
  const mgr = await byName('n1');
  await c.http(m1, 'POST', `/nodes/${mgr.ID}/update?version=${mgr.Version.Index}`, { ...mgr.Spec, Availability: 'drain' });
  const w = (await byName('n2')).ID;

  const r = await sleepService(c, m1, 'hold', N);
  t.equal(r.status, 201, r.body);
  const { tasks, running } = r;
  await waitFor(async () => (await running()).length === N, { timeoutMs: 120_000, intervalMs: 200, what: `${N} running tasks` });
  const ids = new Set((await running()).map((x) => x.ID));
  t.ok((await running()).every((x) => x.NodeID === w), 'all on the worker');
  const sup = c.supervisorPid(w1)!;
  t.ok(sup, `the worker's task supervisor runs (pid ${sup})`);
  const pids = new Set(tasksOf(sup));
  t.equal(pids.size, N, `${N} tasks are children of the one supervisor`);

  /** Nothing was killed, replaced or restarted: the same tasks, the same processes. */
  const unchanged = async (what: string) => {
    const now = await running();
    t.equal(now.length, N, `${what}: ${N} running`);
    t.ok(now.every((x) => ids.has(x.ID)), `${what}: the same ${N} tasks (none replaced)`);
    t.equal((await tasks()).length, N, `${what}: no task was created or ended`);
    const alive = tasksOf(sup);
    t.ok(alive.length === N && alive.every((p) => pids.has(p)), `${what}: the same ${N} processes`);
  };

  // 1. The daemon's event loop frozen: until the managers notice (its agent misses its heartbeats,
  // seconds), then 1.5 s more. That is several fence periods (1 s) of a daemon that runs nothing.
  process.kill(w1.proc!.pid!, 'SIGSTOP');
  const frozenAt = Date.now();
  await waitFor(async () => (await byName('n2')).Status.State === 'disconnected', { timeoutMs: 20_000, intervalMs: 100, what: 'n2 disconnected while its daemon is frozen' });
  await new Promise((res) => setTimeout(res, 1_500)); // the stall itself: there is nothing to wait for
  t.ok(Date.now() - frozenAt >= 2_000, `frozen for ${Date.now() - frozenAt} ms, at least two fence periods`);
  process.kill(w1.proc!.pid!, 'SIGCONT');
  await waitFor(async () => (await byName('n2')).Status.State === 'ready', { timeoutMs: 20_000, intervalMs: 100, what: 'n2 ready again' });
  await unchanged('after a freeze of the node daemon');

  // 2. Every core busy, twice over, at the tasks' own priority, for 3 s (three fence periods):
  // the daemon, the supervisor and its lease thread get a third of a core at best.
  const hogs: ChildProcess[] = Array.from({ length: cpus().length * 2 }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  try {
    await new Promise((res) => setTimeout(res, 3_000)); // the load itself
  } finally {
    for (const h of hogs) h.kill('SIGKILL');
  }
  await unchanged('after 3 s of saturated CPUs');

  // 3. Live restore: kill -9 the daemon, start it again within 10 s.
  await c.kill(w1, 'SIGKILL');
  await new Promise((res) => setTimeout(res, 1_000)); // the daemon is down for a while (a fence period), as in a crash-restart
  await c.restart(w1);
  await waitFor(async () => (await byName('n2')).Status.State === 'ready', { timeoutMs: 20_000, intervalMs: 100, what: 'n2 ready after the restart' });
  t.equal(c.supervisorPid(w1), sup, 'the restarted daemon found the same supervisor');
  await unchanged('after kill -9 and restart of the node daemon');
  // The new daemon tracks them: a scale-down stops some through it.
  const svc = (await c.http(m1, 'GET', '/services/hold')).json<{ Version: { Index: number }; Spec: { Mode: object } }>();
  await c.http(m1, 'POST', `/services/hold/update?version=${svc.Version.Index}`, { ...svc.Spec, Mode: { Replicated: { Replicas: N - 10 } } });
  await waitFor(() => tasksOf(sup).length === N - 10, { timeoutMs: 30_000, what: 'ten tasks stopped by the restarted daemon' });
  t.pass('the restarted daemon controls the re-adopted tasks');
});
