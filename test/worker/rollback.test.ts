/**
 * A bad update rolls itself back, on real processes (one node, the process
 * runtime): the new spec's task exits at once, the update's FailureAction is
 * rollback, and the service ends `rollback_completed` on its old spec with
 * PreviousSpec cleared (SwarmKit) — while its old tasks were never all down.
 */
import t from 'tap';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

interface ServiceJson {
  ID: string;
  Version: { Index: number };
  Spec: { TaskTemplate: { ContainerSpec: { Args?: string[] } } } & Record<string, unknown>;
  PreviousSpec?: unknown;
  UpdateStatus?: { State: string; Message?: string };
}

t.test('a bad update rolls itself back; the old tasks are never all down', async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const spec = {
    Name: 'app',
    TaskTemplate: { Runtime: 'process', ContainerSpec: { Image: '/bin/sh', Args: ['-c', 'exec sleep 3600'] }, RestartPolicy: { Condition: 'any', Delay: 0 } },
    Mode: { Replicated: { Replicas: 2 } },
    // Delay: as in SwarmKit, the updater moves to the next slot once the new task runs, and a
    // task that runs for a moment and exits counts as a failure only when it exits. Without a
    // delay between slots the second old task can be stopped before the first new one has
    // failed (seen once the node started faster): both slots down until the rollback.
    UpdateConfig: { Parallelism: 1, Delay: 1e9, Order: 'stop-first', FailureAction: 'rollback', Monitor: 2e9 },
    RollbackConfig: { Parallelism: 0, Monitor: 1e9 },
  };
  t.equal((await c.http(m1, 'POST', '/services/create', spec)).status, 201);
  const running = async () =>
    (await c.http(m1, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: ['app'] })))).json<{ Status: { State: string }; Spec: { ContainerSpec: { Args: string[] } } }[]>().filter((x) => x.Status.State === 'running');
  await waitFor(async () => (await running()).length === 2, { timeoutMs: 30_000, what: 'app 2/2 running' });

  const cur = (await c.http(m1, 'GET', '/services/app')).json<ServiceJson>();
  const bad = { ...cur.Spec, TaskTemplate: { ...cur.Spec.TaskTemplate, ContainerSpec: { ...cur.Spec.TaskTemplate.ContainerSpec, Args: ['-c', 'exit 3'] } } };
  t.equal((await c.http(m1, 'POST', `/services/${cur.ID}/update?version=${cur.Version.Index}`, bad)).status, 200);

  let minRunning = Infinity;
  const states = new Set<string>();
  const done = await waitFor(
    async () => {
      minRunning = Math.min(minRunning, (await running()).length);
      const s = (await c.http(m1, 'GET', '/services/app')).json<ServiceJson>();
      if (s.UpdateStatus) states.add(s.UpdateStatus.State);
      return s.UpdateStatus?.State === 'rollback_completed' ? s : null;
    },
    { timeoutMs: 60_000, intervalMs: 100, what: `the update rolled back (seen: ${[...states].join(', ')})` },
  );
  t.comment(`update states seen: ${[...states].join(' → ')}`);
  t.match(done.UpdateStatus?.Message, /rollback completed/);
  t.same(done.Spec.TaskTemplate.ContainerSpec.Args, ['-c', 'exec sleep 3600'], 'back on the old spec');
  t.equal(done.PreviousSpec, undefined, 'PreviousSpec cleared: a second rollback cannot re-apply the bad spec');
  t.ok(minRunning >= 1, `the service never had all its tasks down (fewest running seen: ${minRunning})`);
  const after = await waitFor(async () => {
    const r = await running();
    return r.length === 2 ? r : null;
  }, { timeoutMs: 30_000, what: 'app 2/2 running on the old spec' });
  t.ok(after.every((x) => x.Spec.ContainerSpec.Args[1] === 'exec sleep 3600'), 'both running tasks are on the old spec');
});
