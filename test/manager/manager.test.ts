import t from 'tap';
import { ManagerCluster } from './harness.js';
import { waitFor } from '../helpers/wait.js';
import type { Task } from '../../src/model/index.js';

t.test('found a cluster, join two managers as learners that become voters', async (t) => {
  const c = new ManagerCluster();
  t.teardown(() => c.close());
  const m0 = await c.found();
  const leader = await c.leader();
  t.equal(leader, m0);
  const cl = leader.store.list('cluster')[0]!;
  t.match(cl.JoinTokens.Worker, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
  t.not(cl.JoinTokens.Worker, cl.JoinTokens.Manager);
  const m1 = await c.joinManager();
  const m2 = await c.joinManager();
  await waitFor(() => leader.status().managers.filter((x) => x.voter).length === 3, { what: 'three voters' });
  t.same(new Set(leader.status().managers.map((x) => x.nodeId)), new Set([m0, m1, m2].map((m) => m.status().nodeId)));
  await waitFor(() => m2.store.list('node').length === 3, { what: 'joined managers replicate the store' });
  t.equal(m2.store.get('node', m1.status().nodeId)?.Spec.Role, 'manager');
  await t.rejects(c.join('SWMTKN-1-' + 'a'.repeat(50) + '-' + 'b'.repeat(25), 'intruder', '127.0.0.1:1'), /different cluster/, 'a token of another cluster is refused');
  const w = cl.JoinTokens.Worker;
  await t.rejects(c.join(w.slice(0, -3) + 'zzz', 'intruder', '127.0.0.1:1'), /not valid/, 'a wrong secret is refused');
  t.equal(leader.store.get('node', 'intruder'), undefined, 'and nothing was written');
});

t.test('a learner whose promoting leader lost leadership is promoted by the next leader', async (t) => {
  const c = new ManagerCluster();
  t.teardown(() => c.close());
  const first = await c.threeVoters();
  // A manager joins, but its process is not up yet: the leader adds it as a learner, and the
  // promotion waits for it to catch up. Then that leader goes.
  const late = await c.joinManagerNotStarted();
  t.ok(first.status().managers.some((x) => x.nodeId === late.id && !x.voter), 'the joiner is a learner');
  await c.stopManager(first.status().nodeId);
  const next = await c.leader();
  t.not(next, first, 'another manager leads');
  await late.start();
  await waitFor(() => next.status().managers.some((x) => x.nodeId === late.id && x.voter), { timeoutMs: 20_000, what: 'the new leader promoted the learner' });
  t.equal(next.status().managers.filter((x) => x.voter).length, 4, 'four voters (one of them stopped)');
});

t.test('agents register, get tasks scheduled and report them running; a silent node goes down', async (t) => {
  const c = new ManagerCluster();
  t.teardown(() => c.close());
  await c.found();
  const leader = await c.leader();
  const a1 = await c.addAgent();
  const a2 = await c.addAgent();
  await waitFor(() => [a1, a2].every((a) => leader.store.get('node', a.id)?.Status.State === 'ready'), { what: 'agents ready' });
  t.equal(leader.store.get('node', a1.id)?.Description.Resources.NanoCPUs, 4e9, 'the description came through the session');
  // A service and its tasks (the orchestrator is not running in this test: we write the tasks).
  const now = leader.now();
  const svc = { ID: 'svc1', Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Resources: { Reservations: { NanoCPUs: 1e9 } } }, Mode: { Replicated: { Replicas: 6 } } } };
  const tasks: Omit<Task, 'Version' | 'CreatedAt' | 'UpdatedAt'>[] = Array.from({ length: 6 }, (_, i) => ({
    ID: `task${i}`,
    ServiceID: 'svc1',
    Slot: i + 1,
    NodeID: '',
    Spec: svc.Spec.TaskTemplate,
    DesiredState: 'running',
    Status: { Timestamp: now, State: 'new', Message: 'created' },
  }));
  const r = await leader.commit([{ op: 'create', kind: 'service', object: svc }, ...tasks.map((x) => ({ op: 'create' as const, kind: 'task' as const, object: x }))]);
  t.ok(r.ok);
  await waitFor(() => leader.store.tasksOfService('svc1').every((x) => x.Status.State === 'running'), { timeoutMs: 30_000, what: 'all six running' });
  const perNode = [a1, a2].map((a) => leader.store.tasksOnNode(a.id).length);
  t.same(perNode, [3, 3], `one service's replicas spread over the nodes they fit on (binpack's service anti-affinity) (${perNode})`);
  // One more task than fits: it stays pending with a reason.
  const big = { ...tasks[0]!, ID: 'big', Slot: 7, Spec: { ...svc.Spec.TaskTemplate, Resources: { Reservations: { NanoCPUs: 16e9 } } } };
  await leader.commit([{ op: 'create', kind: 'task', object: big }]);
  await waitFor(() => leader.store.get('task', 'big')?.Status.State === 'pending', { what: 'unplaceable task pending' });
  t.match(leader.store.get("task", "big")!.Status.Message, /no suitable node \(insufficient cpu on 2 nodes/i);
  // Stop one agent (and with it its lease renewals): the lease declares its node down.
  await a2.stop();
  await waitFor(() => leader.store.get('node', a2.id)?.Status.State === 'down', { timeoutMs: 5_000, what: 'silent node marked down' });
  t.match(leader.store.get('node', a2.id)!.Status.Message, /fenced: no lease renewal heard/);
});

t.test('status reports survive a leader failover', async (t) => {
  const c = new ManagerCluster();
  t.teardown(() => c.close());
  const leader = await c.threeVoters();
  const a = await c.addAgent();
  a.autoRun = false;
  await waitFor(() => leader.store.get('node', a.id)?.Status.State === 'ready', { what: 'agent ready' });
  const now = leader.now();
  await leader.commit([
    { op: 'create', kind: 'task', object: { ID: 'tf', ServiceID: 's', Slot: 1, NodeID: a.id, Spec: {}, DesiredState: 'running', Status: { Timestamp: now, State: 'assigned', Message: '' } } },
  ]);
  await waitFor(() => a.tasks.has('tf'), { what: 'assignment delivered' });
  // Kill the leader, then report: the agent must deliver the report to the new leader.
  await c.stopManager(leader.status().nodeId);
  a.report('tf', 'running');
  const next = await c.leader();
  await waitFor(() => next.store.get('task', 'tf')?.Status.State === 'running', { timeoutMs: 15_000, what: 'report landed after failover' });
  // The new leader applies the report before its acknowledgement reaches the agent: wait for that too.
  await waitFor(() => a.session.unacknowledged === 0, { timeoutMs: 15_000, what: 'the report acknowledged' });
  t.equal(a.session.unacknowledged, 0, 'nothing left unacknowledged');
});
