import t from 'tap';
import { ManagerCluster, type FakeAgent } from './harness.js';
import { waitFor } from '../helpers/wait.js';
import { reconcile } from '../../src/manager/orchestrator/index.js';
import type { Manager } from '../../src/manager/manager.js';
import type { Service, Task } from '../../src/model/index.js';

/** The real orchestrator and scheduler loops on the leader, fake agents over real sessions. */
async function setup(t: { teardown(fn: () => unknown): void }, agents = 3) {
  const c = new ManagerCluster({ reconcile });
  t.teardown(() => c.close());
  await c.found();
  const leader = await c.leader();
  const as: FakeAgent[] = [];
  for (let i = 0; i < agents; i++) as.push(await c.addAgent());
  await waitFor(() => as.every((a) => leader.store.get('node', a.id)?.Status.State === 'ready'), { what: 'agents ready' });
  // The founding manager runs no agent here: keep tasks off it.
  const self = leader.store.get('node', leader.status().nodeId)!;
  await leader.commit([{ op: 'update', kind: 'node', object: { ...self, Spec: { ...self.Spec, Availability: 'drain' } } }]);
  return { c, leader, agents: as };
}

const running = (m: Manager, svc: string): Task[] =>
  m.store.tasksOfService(svc).filter((x) => x.Status.State === 'running' && x.DesiredState === 'running');

async function createService(m: Manager, name: string, replicas: number, extra: Partial<Service['Spec']['TaskTemplate']> = {}): Promise<string> {
  const id = m.newId();
  const r = await m.commit([
    { op: 'create', kind: 'service', object: { ID: id, Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox' }, ...extra }, Mode: { Replicated: { Replicas: replicas } } } } },
  ]);
  if (!r.ok) throw new Error(r.message);
  return id;
}

async function scale(m: Manager, id: string, replicas: number): Promise<void> {
  const s = m.store.get('service', id)!;
  const r = await m.commit([{ op: 'update', kind: 'service', object: { ...s, Spec: { ...s.Spec, Mode: { Replicated: { Replicas: replicas } } } }, expect: s.Version.Index }]);
  if (!r.ok) throw new Error(r.message);
}

t.test('a replicated service converges, scales, and scales down from the highest slots', async (t) => {
  const { leader } = await setup(t);
  const id = await createService(leader, 'web', 6);
  await waitFor(() => running(leader, id).length === 6, { timeoutMs: 30_000, what: '6 running' });
  t.same(running(leader, id).map((x) => x.Slot).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6], 'slots 1..6');
  await scale(leader, id, 3);
  await waitFor(() => running(leader, id).length === 3, { timeoutMs: 30_000, what: 'scaled to 3' });
  t.same(running(leader, id).map((x) => x.Slot).sort((a, b) => a - b), [1, 2, 3], 'the highest slots went first');
});

t.test('node down: its tasks are replaced at once on the other nodes; one running task per slot', async (t) => {
  const { leader, agents } = await setup(t);
  const id = await createService(leader, 'api', 6);
  await waitFor(() => running(leader, id).length === 6, { timeoutMs: 30_000, what: '6 running' });
  const victim = agents.find((a) => leader.store.tasksOnNode(a.id).some((x) => x.ServiceID === id && x.DesiredState === 'running'))!;
  const lost = leader.store.tasksOnNode(victim.id).filter((x) => x.ServiceID === id && x.DesiredState === 'running').map((x) => x.Slot);
  const t0 = Date.now();
  await victim.stop();
  await waitFor(
    () => {
      const r = running(leader, id).filter((x) => x.NodeID !== victim.id);
      return r.length === 6 && new Set(r.map((x) => x.Slot)).size === 6;
    },
    { timeoutMs: 30_000, what: 'replacements running elsewhere' },
  );
  t.comment(`slots ${lost} healed ${Date.now() - t0} ms after the agent stopped`);
  const live = leader.store.tasksOfService(id).filter((x) => x.DesiredState === 'running');
  for (const slot of [1, 2, 3, 4, 5, 6]) t.equal(live.filter((x) => x.Slot === slot).length, 1, `slot ${slot} has exactly one task desired running`);
});

t.test('drain moves tasks away; a failed task restarts after its delay', async (t) => {
  const { leader, agents } = await setup(t, 2);
  const id = await createService(leader, 'drainme', 4, { RestartPolicy: { Condition: 'any', Delay: 200_000_000 } });
  await waitFor(() => running(leader, id).length === 4, { timeoutMs: 30_000, what: '4 running' });
  const [a, b] = agents as [FakeAgent, FakeAgent];
  const n = leader.store.get('node', a.id)!;
  await leader.commit([{ op: 'update', kind: 'node', object: { ...n, Spec: { ...n.Spec, Availability: 'drain' } } }]);
  await waitFor(() => running(leader, id).length === 4 && running(leader, id).every((x) => x.NodeID === b.id), { timeoutMs: 30_000, what: 'all on the other node' });
  t.pass('drained node emptied');
  // A task fails: it is replaced in the same slot, not before the restart delay.
  const victim = running(leader, id)[0]!;
  const failedAt = Date.now();
  b.report(victim.ID, 'failed', 'exit 1');
  await waitFor(
    () => running(leader, id).length === 4 && running(leader, id).some((x) => x.Slot === victim.Slot && x.ID !== victim.ID),
    { timeoutMs: 30_000, what: 'slot restarted' },
  );
  const took = Date.now() - failedAt;
  t.ok(took >= 150, `replacement started after the 200 ms restart delay (${took} ms)`);
});
