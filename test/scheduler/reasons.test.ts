/**
 * Unplaced reasons: wording, aggregation across nodes, ordering, the cap on
 * causes, and the special cases (no nodes, pinned node missing).
 */
import t from 'tap';
import { Scheduler } from '../../src/scheduler/index.js';
import { ReasonCounts, Why } from '../../src/scheduler/reasons.js';
import { node, task } from './fixtures.js';

t.test('the example from the brief', async (t) => {
  const s = new Scheduler();
  for (const id of ['a', 'b', 'c']) s.upsertNode(node(id, { memGiB: 1, labels: { zone: 'a' } }));
  for (const id of ['d', 'e']) s.upsertNode(node(id, { memGiB: 64, labels: { zone: 'b' } }));
  const r = s.schedule([task('x', { memMiB: 2048, constraints: ['node.labels.zone==a'] })]);
  t.same(r.unplaced, [
    { taskId: 'x', code: 'NO_SUITABLE_NODE', reason: 'no suitable node (insufficient memory on 3 nodes; constraint node.labels.zone==a not met on 2 nodes)' },
  ]);
});

t.test('every task of a group left over gets the same reason; counts cover every node once', async (t) => {
  const s = new Scheduler();
  s.upsertNode(node('a', { cpus: 2 }));
  s.upsertNode(node('b', { cpus: 1 }));
  s.upsertNode(node('c', { state: 'down' }));
  const r = s.schedule(Array.from({ length: 6 }, (_, i) => task(`t${i}`, { cpu: 1 })));
  t.equal(r.placed.length, 3);
  t.same(new Set(r.unplaced.map((u) => u.reason)), new Set(['no suitable node (insufficient cpu on 2 nodes; node down on 1 node)']));
});

t.test('no nodes at all', async (t) => {
  const s = new Scheduler();
  t.same(s.schedule([task('x')]).unplaced[0], { taskId: 'x', code: 'NO_SUITABLE_NODE', reason: 'no suitable node (no nodes available)' });
  s.upsertNode(node('a'));
  s.removeNode('a');
  t.equal(s.schedule([task('y')]).unplaced[0]!.reason, 'no suitable node (no nodes available)');
});

t.test('formatting: most frequent first, pipeline order on ties, singular/plural, capped', async (t) => {
  const c = new ReasonCounts();
  c.add(Why.MEMORY, '', 2);
  c.add(Why.CONSTRAINT, 'node.role==manager', 2);
  c.add(Why.NOT_READY, 'down', 5);
  c.add(Why.PORT, 'udp/53');
  c.add(Why.MAX_REPLICAS, '3');
  c.add(Why.RUNTIME, 'docker');
  c.add(Why.PLATFORM);
  c.add(Why.UNAVAILABLE, 'pause');
  t.equal(c.total, 14);
  t.equal(c.get(Why.NOT_READY, 'down'), 5);
  t.equal(
    c.format(100),
    'no suitable node (node down on 5 nodes; constraint node.role==manager not met on 2 nodes; insufficient memory on 2 nodes; ' +
      'node paused on 1 node; unsupported platform on 1 node; runtime docker not available on 1 node; ' +
      'max replicas per node (3) reached on 1 node; host port 53/udp in use on 1 node)',
  );
  t.equal(c.format(2), 'no suitable node (node down on 5 nodes; constraint node.role==manager not met on 2 nodes; other reasons on 7 nodes)');
  const one = new ReasonCounts();
  one.add(Why.CPU);
  t.equal(one.format(1), 'no suitable node (insufficient cpu on 1 node)');
  const merged = new ReasonCounts();
  merged.addAll(c);
  merged.addAll(one);
  t.equal(merged.total, 15);
});

t.test('maxReasons option caps the message', async (t) => {
  const s = new Scheduler({ maxReasons: 1 });
  s.upsertNode(node('a', { state: 'down' }));
  s.upsertNode(node('b', { availability: 'drain' }));
  s.upsertNode(node('c', { availability: 'drain' }));
  t.equal(s.schedule([task('x')]).unplaced[0]!.reason, 'no suitable node (node drained on 2 nodes; other reasons on 1 node)');
});
