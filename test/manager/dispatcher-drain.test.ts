import t from 'tap';
import type { SessionFrame } from '../../src/protocol/dispatcher.js';
import type { Network, Service, Task } from '../../src/model/index.js';
import { waitFor } from '../helpers/wait.js';
import { SimTimers } from '../sim/timers.js';
import { setup, type Agent } from './dispatcher-agents.js';

/**
 * Connection draining, the dispatcher's half: when the managers decide a
 * running backend stops, every node is sent a plan without it first, and
 * the stop reaches the task's node only once every node has said its kernel
 * matches such a plan — or after lbDrainHoldMs, so a silent node cannot hold
 * a stop forever. Sim time: the cap runs out only when the test says so.
 * Ordering on the wire is the barrier: a heartbeat's reply comes after every
 * frame the dispatcher wrote before it.
 */
type Plan = Extract<SessionFrame, { type: 'netplan' }>;

const plans = (a: Agent) => a.frames.filter((f): f is Plan => f.type === 'netplan');
const lastPlan = (a: Agent) => plans(a).at(-1);
const isBackend = (p: Plan | undefined, taskId: string) => !!p?.plan.services.some((s) => s.backends.some((b) => b.taskId === taskId));
const stopSent = (a: Agent, taskId: string) =>
  a.frames.some((f) => f.type === 'assignments' && f.tasks.some((x: Task) => x.ID === taskId && x.DesiredState === 'shutdown'));
const ack = (a: Agent) => a.stream.write({ type: 'netplanApplied', seq: lastPlan(a)!.seq });

t.test('a backend is stopped only after every node applied a plan without it, or after the cap', async (t) => {
  const time = new SimTimers();
  const holdMs = 2_000;
  const { ctx, connect } = await setup(t, { lbDrainHoldMs: holdMs }, time);
  const nodeA = ctx.addNode({ hostname: 'a', state: 'down' });
  const nodeB = ctx.addNode({ hostname: 'b', state: 'down' });
  ctx.mustApply([{ op: 'create', kind: 'network', object: { ID: 'net1', Spec: { Name: 'app', Driver: 'overlay' } } as Network }]);
  ctx.mustApply([
    {
      op: 'create',
      kind: 'service',
      object: { ID: 'web', Spec: { Name: 'web', TaskTemplate: { Runtime: 'oci', ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'net1' }] }, Mode: { Replicated: { Replicas: 2 } } } } as unknown as Service,
    },
  ]);
  const x = ctx.addTask('web', 1, { nodeId: nodeA, state: 'running' });
  const y = ctx.addTask('web', 2, { nodeId: nodeA, state: 'running' });
  // b serves the network too (it runs a task on it), so its balancer sends to x and y.
  ctx.addTask('web', 4, { nodeId: nodeB, state: 'running' });
  // The dispatcher coalesces pushes on a zero timer: sim time moves only when told.
  const apply = (ops: Parameters<typeof ctx.mustApply>[0]) => {
    ctx.mustApply(ops);
    time.advance(0);
  };
  const a = await connect(nodeA);
  const b = await connect(nodeB);
  await waitFor(() => isBackend(lastPlan(a), x) && isBackend(lastPlan(b), x) && isBackend(lastPlan(b), y), { what: 'both nodes planned with x and y as backends' });
  ack(a);
  ack(b);

  // The decision: x stops.
  apply([{ op: 'patchTask', id: x, desiredState: 'shutdown' }]);
  await waitFor(() => !isBackend(lastPlan(a), x) && !isBackend(lastPlan(b), x), { what: 'both nodes sent a plan without x' });
  await a.heartbeat(); // barrier: anything written in the same tick has arrived
  t.notOk(stopSent(a, x), 'x is not told to stop while the nodes may still send it connections');
  ack(a);
  await a.heartbeat();
  await b.heartbeat();
  t.notOk(stopSent(a, x), 'its own node applying the plan is not enough');
  ack(b);
  await waitFor(() => stopSent(a, x), { what: 'x told to stop once b applied the plan without it' });
  t.pass('x is stopped once every node has taken it out of its load balancer');

  // A node that never answers holds a stop no longer than the cap.
  apply([{ op: 'patchTask', id: y, desiredState: 'shutdown' }]);
  await waitFor(() => !isBackend(lastPlan(a), y) && !isBackend(lastPlan(b), y), { what: 'both nodes sent a plan without y' });
  ack(a);
  await a.heartbeat();
  t.notOk(stopSent(a, y), 'y held while b is silent');
  time.advance(holdMs - 1);
  await a.heartbeat();
  t.notOk(stopSent(a, y), 'still held just before the cap');
  time.advance(2);
  await waitFor(() => stopSent(a, y), { what: 'y told to stop at the cap' });
  t.pass('a silent node holds a stop for lbDrainHoldMs at most');

  // A new task on the network waits until every node has applied the plans sent so far (so a dead
  // copy it replaces is out of every balancer before it runs).
  const assigned = (id: string) => a.frames.some((f) => f.type === 'assignments' && f.tasks.some((t1: Task) => t1.ID === id));
  const z = ctx.addTask('web', 3, { nodeId: nodeA, state: 'assigned' });
  time.advance(0);
  await waitFor(() => plans(a).some((p) => p.plan.tasks.some((x) => x.taskId === z)), { what: 'a plan with z' });
  await a.heartbeat();
  await b.heartbeat();
  t.notOk(assigned(z), 'z waits while the nodes have plans not yet applied');
  ack(a);
  ack(b);
  await waitFor(() => assigned(z), { what: 'z assigned once every node applied its plan' });
  t.pass('a new task is sent once every node caught up with the plans');

  // A task that was never a backend (not running yet) is stopped at once.
  apply([{ op: 'patchTask', id: z, desiredState: 'shutdown' }]);
  await waitFor(() => stopSent(a, z), { what: 'z told to stop without a hold' });
  t.pass('no hold for a task no balancer sends to');
});
