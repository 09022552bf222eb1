import t from 'tap';
import path from 'node:path';
import { ManagerCluster, nextHost } from '../manager/harness.js';
import { waitFor } from '../helpers/wait.js';
import { reconcile } from '../../src/manager/orchestrator/index.js';
import { Agent } from '../../src/worker/agent/agent.js';
import { SessionClient } from '../../src/worker/agent/session.js';
import { WsTransport } from '../../src/wire/ws-transport.js';
import type { Manager } from '../../src/manager/manager.js';
import { FakeRuntime } from './fake-runtime.js';

/** A real Agent (task db, controllers) over a real session, with an in-memory runtime. */
async function node(c: ManagerCluster, leader: Manager, rt: FakeRuntime, dataDir: string, existing?: { id: string; addr: string }) {
  const id = existing?.id ?? leader.newId();
  const t = new WsTransport({ nodeId: id });
  const addr = await t.listen({ host: existing ? existing.addr.split(':')[0]! : nextHost(), port: existing ? Number(existing.addr.split(':')[1]) : 0 });
  if (!existing) await c.join(c.tokens(leader).Worker, id, addr);
  let session: SessionClient;
  const agent = await Agent.start({
    nodeId: id,
    dataDir,
    runtimes: new Map([['process', rt]]),
    defaultRuntime: 'process',
    report: (u) => session.report(u),
  });
  session = new SessionClient({
    transport: t,
    nodeId: id,
    description: { hostname: id, os: 'linux', arch: 'x86_64', nanoCpus: 8e9, memoryBytes: 8 * 2 ** 30, labels: {}, runtimes: ['process'], engineVersion: 't', clusterAddr: addr, gossipAddr: addr },
    managers: [...c.managers.values()].map((m) => m.addr),
    onAssignments: (full, tasks, removed) => agent.onAssignments(full, tasks, removed),
  });
  session.start();
  return {
    id,
    addr,
    agent,
    session,
    stop: async () => {
      session.stop();
      await agent.stop();
      await t.close();
    },
  };
}

async function cluster(t: { teardown(fn: () => unknown): void }) {
  const c = new ManagerCluster({ reconcile });
  t.teardown(() => c.close());
  await c.found();
  const leader = await c.leader();
  const self = leader.store.get('node', leader.status().nodeId)!;
  await leader.commit([{ op: 'update', kind: 'node', object: { ...self, Spec: { ...self.Spec, Availability: 'drain' } } }]);
  return { c, leader };
}

async function service(m: Manager, name: string, replicas: number, restartDelayNs = 0) {
  const id = m.newId();
  await m.commit([{ op: 'create', kind: 'service', object: { ID: id, Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '600'] }, RestartPolicy: { Condition: 'any', Delay: restartDelayNs } }, Mode: { Replicated: { Replicas: replicas } } } } }]);
  return id;
}
const running = (m: Manager, svc: string) => m.store.tasksOfService(svc).filter((x) => x.Status.State === 'running' && x.DesiredState === 'running');

t.test('the agent runs assignments through the runtime and reports each state', async (t) => {
  const { c, leader } = await cluster(t);
  const rt = new FakeRuntime();
  const n = await node(c, leader, rt, path.join(c.dir, 'w1'));
  t.teardown(() => n.stop());
  const svc = await service(leader, 'web', 3);
  await waitFor(() => running(leader, svc).length === 3, { timeoutMs: 20_000, what: '3 running' });
  t.equal(rt.running().length, 3, 'three "processes" in the runtime');
  const task = running(leader, svc)[0]!;
  t.equal(task.Status.ContainerStatus?.PID !== undefined, true, 'PID reported');
  // An exit with a non-zero code: failed, then replaced in the same slot.
  rt.exit(task.ID, 3);
  await waitFor(() => leader.store.get('task', task.ID)?.Status.State === 'failed', { what: 'failed reported' });
  t.match(leader.store.get('task', task.ID)!.Status, { Err: 'task: non-zero exit (3)', ContainerStatus: { ExitCode: 3 } });
  await waitFor(() => running(leader, svc).length === 3 && running(leader, svc).some((x) => x.Slot === task.Slot && x.ID !== task.ID), { timeoutMs: 20_000, what: 'slot replaced' });
  // Scale down: tasks no longer wanted are stopped.
  const s = leader.store.get('service', svc)!;
  await leader.commit([{ op: 'update', kind: 'service', object: { ...s, Spec: { ...s.Spec, Mode: { Replicated: { Replicas: 1 } } } } }]);
  await waitFor(() => rt.running().length === 1, { timeoutMs: 20_000, what: 'two stopped' });
  t.pass('scaling down stopped the extra tasks in the runtime');
  // A missing image: rejected with the runtime's reason.
  rt.missingImages.add('nope:latest');
  const bad = leader.newId();
  await leader.commit([{ op: 'create', kind: 'service', object: { ID: bad, Spec: { Name: 'bad', TaskTemplate: { ContainerSpec: { Image: 'nope:latest' }, RestartPolicy: { Condition: 'none' } }, Mode: { Replicated: { Replicas: 1 } } } } }]);
  await waitFor(() => leader.store.tasksOfService(bad).some((x) => x.Status.State === 'rejected'), { what: 'rejected' });
  t.match(leader.store.tasksOfService(bad)[0]!.Status.Err, /image nope:latest not found/);
});

t.test('a restarted agent re-adopts its running tasks instead of starting duplicates', async (t) => {
  const { c, leader } = await cluster(t);
  const rt = new FakeRuntime();
  const dir = path.join(c.dir, 'w2');
  const n1 = await node(c, leader, rt, dir);
  const svc = await service(leader, 'sticky', 4);
  await waitFor(() => running(leader, svc).length === 4, { timeoutMs: 20_000, what: '4 running' });
  const before = { creates: rt.creates, starts: rt.starts, ids: running(leader, svc).map((x) => x.ID).sort() };
  await n1.stop(); // the agent goes away; its "processes" keep running in the runtime
  // One task exits while the agent is down: the restarted agent must report it.
  const exitedWhileDown = before.ids[0]!;
  rt.exit(exitedWhileDown, 0);
  const n2 = await node(c, leader, rt, dir, { id: n1.id, addr: n1.addr });
  t.teardown(() => n2.stop());
  await waitFor(() => leader.store.get('task', exitedWhileDown)?.Status.State === 'complete', { timeoutMs: 20_000, what: 'exit while down reported' });
  await waitFor(() => running(leader, svc).length === 4, { timeoutMs: 20_000, what: '4 running again' });
  const survivors = before.ids.slice(1);
  t.ok(survivors.every((id) => leader.store.get('task', id)?.Status.State === 'running'), 'the others are still the same tasks');
  t.equal(rt.starts, before.starts + 1, 'exactly one new start: the replacement for the exited task, no duplicates');
  t.equal(rt.running().length, 4);
});
