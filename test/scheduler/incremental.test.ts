/**
 * Incremental state: tasks counted and released (finishing frees capacity),
 * idempotent and moving taskAssigned, terminal states, node removal and
 * return, placeholders for tasks on unknown nodes, re-placing a pending task
 * the scheduler already counted.
 */
import t from 'tap';
import { Scheduler } from '../../src/scheduler/index.js';
import { CPU, GiB, MiB, node, task, tasks } from './fixtures.js';

const sched = (): Scheduler => new Scheduler({ checkInvariants: true });

t.test('a finished task frees its capacity', async (t) => {
  const s = sched();
  s.upsertNode(node('a', { cpus: 2, memGiB: 2 }));
  const r = s.schedule(tasks(3, { cpu: 1, memMiB: 512 }));
  t.equal(r.placed.length, 2);
  t.equal(r.unplaced.length, 1);
  t.same(s.usage('a'), { nanoCPUs: 2 * CPU, memoryBytes: 1024 * MiB, tasks: 2 });
  s.taskRemoved({ ID: r.placed[0]!.taskId });
  t.same(s.usage('a'), { nanoCPUs: 1 * CPU, memoryBytes: 512 * MiB, tasks: 1 });
  t.same(s.schedule([task('t2', { cpu: 1, memMiB: 512 })]).placed, [{ taskId: 't2', nodeId: 'a' }]);
  // A terminal state through taskAssigned releases too.
  const done = task('t2', { cpu: 1, memMiB: 512, nodeId: 'a', state: 'complete' });
  s.taskAssigned(done);
  t.same(s.usage('a'), { nanoCPUs: 1 * CPU, memoryBytes: 512 * MiB, tasks: 1 });
  s.taskRemoved({ ID: 'never-seen' });
  t.equal(s.taskCount, 1);
});

t.test('taskAssigned is idempotent per task ID and follows moves', async (t) => {
  const s = sched();
  s.upsertNode(node('a'));
  s.upsertNode(node('b'));
  const x = task('x', { cpu: 1, memMiB: 100, nodeId: 'a' });
  s.taskAssigned(x);
  s.taskAssigned(x);
  s.taskAssigned({ ...x, Status: { ...x.Status, State: 'running' } });
  t.same(s.usage('a'), { nanoCPUs: CPU, memoryBytes: 100 * MiB, tasks: 1 });
  s.taskAssigned({ ...x, NodeID: 'b' });
  t.same(s.usage('a'), { nanoCPUs: 0, memoryBytes: 0, tasks: 0 });
  t.same(s.usage('b'), { nanoCPUs: CPU, memoryBytes: 100 * MiB, tasks: 1 });
  s.taskAssigned({ ...x, NodeID: '' });
  t.equal(s.taskCount, 0, 'no NodeID: released');
  t.equal(s.metrics.tasksReleased, 2);
});

t.test('tasks placed by schedule() and then reported by the store are counted once', async (t) => {
  const s = sched();
  s.upsertNode(node('a', { cpus: 2 }));
  const [p] = s.schedule([task('x', { cpu: 1 })]).placed;
  s.taskAssigned(task('x', { cpu: 1, nodeId: p!.nodeId, state: 'assigned' }));
  s.taskAssigned(task('x', { cpu: 1, nodeId: p!.nodeId, state: 'running' }));
  t.same(s.usage('a'), { nanoCPUs: CPU, memoryBytes: 0, tasks: 1 });
});

t.test('a pending task the scheduler already counts is released before being placed again', async (t) => {
  const s = sched();
  s.upsertNode(node('a', { cpus: 1 }));
  t.equal(s.schedule([task('x', { cpu: 1 })]).placed.length, 1);
  // The proposal failed and the manager retries the same task: it must fit again.
  const again = s.schedule([task('x', { cpu: 1 })]);
  t.same(again.placed, [{ taskId: 'x', nodeId: 'a' }]);
  t.equal(s.metrics.replaced, 1);
  t.same(s.usage('a'), { nanoCPUs: CPU, memoryBytes: 0, tasks: 1 });
});

t.test('removing a node keeps what its tasks hold until they are released; re-adding it restores its capacity', async (t) => {
  const s = sched();
  s.upsertNode(node('a', { cpus: 2 }));
  s.taskAssigned(task('x', { cpu: 1.5, nodeId: 'a' }));
  s.removeNode('a');
  t.equal(s.nodeCount, 0);
  t.same(s.usage('a'), { nanoCPUs: 1.5 * CPU, memoryBytes: 0, tasks: 1 });
  t.equal(s.schedule([task('y', { cpu: 1 })]).unplaced[0]!.reason, 'no suitable node (no nodes available)');
  s.upsertNode(node('a', { cpus: 2 }));
  t.equal(s.schedule([task('y', { cpu: 1 })]).unplaced[0]!.reason, 'no suitable node (insufficient cpu on 1 node)', 'x still counts');
  s.taskRemoved({ ID: 'x' });
  t.same(s.schedule([task('y', { cpu: 1 })]).placed, [{ taskId: 'y', nodeId: 'a' }]);
  s.removeNode('a');
  s.taskRemoved({ ID: 'y' });
  t.equal(s.usage('a'), undefined, 'a node with nothing left is forgotten');
  s.removeNode('a');
  s.removeNode('nope');
  t.equal(s.metrics.nodeRemovals, 2);
});

t.test('tasks on a node not seen yet count once it appears', async (t) => {
  const s = sched();
  s.taskAssigned(task('early', { cpu: 3, memMiB: 1024, nodeId: 'late' }));
  t.same(s.usage('late'), { nanoCPUs: 3 * CPU, memoryBytes: GiB, tasks: 1 });
  t.equal(s.nodeCount, 0);
  s.upsertNode(node('late', { cpus: 4 }));
  const r = s.schedule(tasks(2, { cpu: 1 }));
  t.equal(r.placed.length, 1);
});

t.test('upsertNode replaces facts (resources, labels, state) and keeps usage', async (t) => {
  const s = sched();
  s.upsertNode(node('a', { cpus: 2, labels: { zone: 'x' } }));
  s.taskAssigned(task('x', { cpu: 1, nodeId: 'a' }));
  s.upsertNode(node('a', { cpus: 4, labels: { zone: 'y' } }));
  t.same(s.usage('a'), { nanoCPUs: CPU, memoryBytes: 0, tasks: 1 });
  const r = s.schedule(tasks(3, { cpu: 1, constraints: ['node.labels.zone==y'] }));
  t.equal(r.placed.length, 3);
  s.upsertNode(node('a', { cpus: 4, state: 'down' }));
  t.equal(s.schedule([task('z', { service: 'z' })]).placed.length, 0);
  s.upsertNode(node('a', { cpus: 4 }));
  t.equal(s.schedule([task('z', { service: 'z' })]).placed.length, 1);
});

t.test('many nodes come and go: slots are reused and aggregates stay exact', async (t) => {
  const s = sched();
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 50; i++) s.upsertNode(node(`r${round}-n${i}`, { cpus: 2 }));
    const r = s.schedule(tasks(120, { cpu: 1, service: `s${round}` }, `r${round}-t`));
    t.equal(r.placed.length, 100);
    for (let i = 0; i < 50; i++) s.removeNode(`r${round}-n${i}`);
    for (const p of r.placed) s.taskRemoved({ ID: p.taskId });
    t.equal(s.taskCount, 0);
  }
  t.equal(s.nodeCount, 0);
  s.verify();
});
