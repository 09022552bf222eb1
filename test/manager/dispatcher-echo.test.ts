import t from 'tap';
import type { Service, Task } from '../../src/model/index.js';
import { waitFor } from '../helpers/wait.js';
import { SimTimers } from '../sim/timers.js';
import { setup, type Agent } from './dispatcher-agents.js';

/**
 * The dispatcher does not send an agent its own status reports back once
 * they are committed (SwarmKit's rule): a task whose only change is its
 * Status is no news to its node. A change of anything else (desired state
 * here) is sent, and a full set after (re)connecting carries every task.
 * Ordering on the wire is the barrier: a heartbeat's reply comes after every
 * frame the dispatcher wrote before it.
 */
const sends = (a: Agent, id: string) => a.frames.filter((f) => f.type === 'assignments' && f.tasks.some((x: Task) => x.ID === id)).length;

t.test("a committed status report is not echoed to its node; a desired-state change is sent; a reconnect gets everything", async (t) => {
  const time = new SimTimers();
  const { ctx, connect } = await setup(t, {}, time);
  const node = ctx.addNode({ hostname: 'a', state: 'down' });
  ctx.mustApply([{ op: 'create', kind: 'service', object: { ID: 'web', Spec: { Name: 'web', TaskTemplate: { Runtime: 'process', ContainerSpec: { Image: 'sleep' } }, Mode: { Replicated: { Replicas: 2 } } } } as unknown as Service }]);
  const x = ctx.addTask('web', 1, { nodeId: node, state: 'assigned' });
  const y = ctx.addTask('web', 2, { nodeId: node, state: 'assigned' });
  // The dispatcher coalesces pushes on a zero timer: sim time moves only when told.
  const apply = (ops: Parameters<typeof ctx.mustApply>[0]) => {
    ctx.mustApply(ops);
    time.advance(0);
  };
  const a = await connect(node);
  await waitFor(() => sends(a, x) === 1 && sends(a, y) === 1, { what: 'the full set with x and y' });

  // The node reports x through its states: each is committed (a new version of x), none is sent back.
  for (const state of ['accepted', 'preparing', 'ready', 'starting', 'running'] as const) {
    apply([{ op: 'patchTask', id: x, status: { Timestamp: new Date().toISOString(), State: state, Message: state } }]);
  }
  t.equal(ctx.store.get('task', x)!.Status.State, 'running', 'the reports were committed');
  await a.heartbeat();
  t.equal(sends(a, x), 1, 'x was not sent again for its own status reports');

  // A change the node must hear: y is to stop. It is sent, and x (unchanged but for its status) is not.
  apply([{ op: 'patchTask', id: y, desiredState: 'shutdown' }]);
  await waitFor(() => sends(a, y) === 2, { what: 'y sent again with its new desired state' });
  const last = a.frames.filter((f) => f.type === 'assignments').at(-1) as Extract<(typeof a.frames)[number], { type: 'assignments' }>;
  t.same(
    last.tasks.map((z: Task) => [z.ID, z.DesiredState]),
    [[y, 'shutdown']],
    'the push carries y, desired shutdown, and nothing else',
  );

  // A status report that comes with a change of something else is sent (here the store moves x on
  // from a report to a desired-state change in one transaction).
  apply([
    { op: 'patchTask', id: x, status: { Timestamp: new Date().toISOString(), State: 'running', Message: 'still running' } },
    { op: 'patchTask', id: x, desiredState: 'shutdown' },
  ]);
  await waitFor(() => sends(a, x) === 2, { what: 'x sent once its desired state changed' });
  t.equal((ctx.store.get('task', x) as Task).DesiredState, 'shutdown');

  // A new session (the node reconnected) gets the full set, every live task as the store has it.
  const again = await connect(node);
  await waitFor(() => again.frames.some((f) => f.type === 'assignments' && f.full), { what: 'the full set on the new session' });
  const full = again.frames.find((f) => f.type === 'assignments' && f.full) as Extract<(typeof a.frames)[number], { type: 'assignments' }>;
  t.same(
    full.tasks.map((z: Task) => [z.ID, z.Status.State]).sort(),
    [
      [x, 'running'],
      [y, 'assigned'],
    ].sort(),
    'the full set carries every live task with its committed status',
  );
});
