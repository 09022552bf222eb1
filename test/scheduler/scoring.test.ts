/**
 * Scorers: Nomad's binpack formula and order, the zero-reservation spread
 * fallback, the spread strategy, per-service strategy hints, and spread
 * preferences (balancing across label values, nested, missing labels).
 */
import t from 'tap';
import { binpackScore, Scheduler } from '../../src/scheduler/index.js';
import { histogram, node, task, tasks } from './fixtures.js';

const sched = (strategy: 'binpack' | 'spread' = 'binpack'): Scheduler => new Scheduler({ strategy, checkInvariants: true });

t.test('binpack formula: 20 − (10^free_cpu + 10^free_mem), clamped to [0, 18]', async (t) => {
  t.equal(binpackScore(4, 8, 0, 0), 0, 'empty node');
  t.equal(binpackScore(4, 8, 4, 8), 18, 'full node');
  t.ok(Math.abs(binpackScore(4, 8, 2, 4) - (20 - 2 * Math.sqrt(10))) < 1e-12, 'half full on both');
  // The exponent punishes whatever stays free: a node nearly full on CPU but
  // with all its memory idle scores below one half used on both (it would
  // strand memory), which is what keeps binpack from lopsided nodes.
  t.ok(binpackScore(4, 8, 3.6, 0) < binpackScore(4, 8, 2, 4), 'half full on both beats nearly full on one, empty on the other');
  t.ok(binpackScore(4, 8, 3, 6) > binpackScore(4, 8, 2, 4), 'fuller on both is better');
  t.equal(binpackScore(4, 8, 8, 16), 18, 'overcommitted clamps at 18');
  t.equal(binpackScore(0, 0, 0, 0), 0, 'a node that reports nothing counts as empty');
});

t.test('binpack: the fullest node that fits wins among nodes with as few of the service', async (t) => {
  const s = sched();
  for (const id of ['a', 'b', 'c']) s.upsertNode(node(id, { cpus: 4, memGiB: 8 }));
  s.taskAssigned(task('busy', { service: 'other', cpu: 2, memMiB: 1024, nodeId: 'b' }));
  const r = s.schedule(tasks(7, { cpu: 1, memMiB: 512 }));
  // Each round gives every node one more of ours, the fullest first: b (busy),
  // then a before c (tie broken by id). b is full after two of ours, so the
  // last round has only a and c.
  t.same(r.placed.map((p) => p.nodeId), ['b', 'a', 'c', 'b', 'a', 'c', 'a']);
});

t.test('binpack with service anti-affinity: replicas spread while they fit, services pack together', async (t) => {
  // The newcomer case: 3 replicas reserving memory on 5 roomy nodes used to
  // land on one node, so losing that machine lost the service.
  const s = sched();
  for (const id of ['w1', 'w2', 'w3', 'w4', 'w5']) s.upsertNode(node(id, { cpus: 2, memGiB: 4 }));
  const web = s.schedule(tasks(3, { service: 'web', memMiB: 64 }, 'w'));
  t.same(Object.keys(histogram(web.placed)).length, 3, '3 replicas on 3 nodes');
  // A second service packs onto the nodes the first already uses (fullest
  // first), not onto the two empty ones.
  const api = s.schedule(tasks(3, { service: 'api', memMiB: 64 }, 'x'));
  t.same(Object.keys(histogram(api.placed)).sort(), Object.keys(histogram(web.placed)).sort(), 'the next service fills the same 3 nodes');
  // Where the replicas cannot all fit apart, they double up on the node that
  // fits them (and only then).
  const t2 = sched();
  t2.upsertNode(node('big', { cpus: 4, memGiB: 8 }));
  t2.upsertNode(node('tiny', { cpus: 1, memGiB: 1 }));
  t.same(histogram(t2.schedule(tasks(3, { service: 'db', memMiB: 768 }, 'd')).placed), { big: 2, tiny: 1 });
});

t.test('binpack: best fit prefers the node the task fills most', async (t) => {
  const s = sched();
  s.upsertNode(node('big', { cpus: 16, memGiB: 64 }));
  s.upsertNode(node('small', { cpus: 2, memGiB: 4 }));
  t.same(s.schedule([task('x', { cpu: 1, memMiB: 1024 })]).placed, [{ taskId: 'x', nodeId: 'small' }]);
  // Both dimensions count: the node left balanced (half used on both) beats
  // the one that would have 7/8 of its memory but only 1/8 of its CPUs used.
  const m = sched();
  m.upsertNode(node('lopsided', { cpus: 8, memGiB: 8 }));
  m.upsertNode(node('balanced', { cpus: 8, memGiB: 8 }));
  m.taskAssigned(task('o1', { service: 'o', memMiB: 6 * 1024, nodeId: 'lopsided' }));
  m.taskAssigned(task('o2', { service: 'o', cpu: 3, memMiB: 3 * 1024, nodeId: 'balanced' }));
  t.same(m.schedule([task('y', { cpu: 1, memMiB: 1024 })]).placed, [{ taskId: 'y', nodeId: 'balanced' }]);
});

t.test('binpack without reservations spreads: fewest tasks of the service, then fewest tasks', async (t) => {
  const s = sched();
  for (const id of ['a', 'b', 'c']) s.upsertNode(node(id));
  t.same(histogram(s.schedule(tasks(3)).placed), { a: 1, b: 1, c: 1 }, '--replicas 3 lands on 3 nodes');
  const s2 = sched();
  for (const id of ['a', 'b', 'c']) s2.upsertNode(node(id));
  for (let i = 0; i < 5; i++) s2.taskAssigned(task(`o${i}`, { service: 'other', nodeId: 'a' }));
  s2.taskAssigned(task('o9', { service: 'other', nodeId: 'b' }));
  // c is emptiest, then b; a only once the others have one of ours each.
  t.same(s2.schedule(tasks(4)).placed.map((p) => p.nodeId), ['c', 'b', 'a', 'c']);
});

t.test('spread strategy: even by service, then by total, whatever the reservations', async (t) => {
  const s = sched('spread');
  for (const id of ['a', 'b', 'c']) s.upsertNode(node(id, { cpus: 4 }));
  s.taskAssigned(task('o', { service: 'other', nodeId: 'a' }));
  const r = s.schedule(tasks(6, { cpu: 1 }));
  t.same(r.placed.map((p) => p.nodeId), ['b', 'c', 'a', 'b', 'c', 'a']);
});

t.test('a service hint overrides the scheduler strategy', async (t) => {
  const s = sched('binpack');
  for (const id of ['a', 'b', 'c']) s.upsertNode(node(id, { cpus: 4 }));
  const hints = new Map([['spready', { strategy: 'spread' as const }]]);
  t.same(histogram(s.schedule(tasks(3, { service: 'spready', cpu: 1 }, 's'), hints).placed), { a: 1, b: 1, c: 1 });
  // binpack spreads one service too (anti-affinity); it packs across services:
  // packy's first task goes to the fullest node, not the emptiest.
  t.same(histogram(s.schedule(tasks(1, { service: 'packy', cpu: 3 }, 'p'), hints).placed), { a: 1 });
  t.same(histogram(s.schedule(tasks(1, { service: 'spready2', cpu: 1 }, 'q'), new Map([['spready2', { strategy: 'spread' as const }]])).placed), { b: 1 }, 'spread: fewest tasks, not fullest');
  const sp = sched('spread');
  for (const id of ['a', 'b']) sp.upsertNode(node(id, { cpus: 4 }));
  sp.taskAssigned(task('o', { service: 'other', cpu: 2, nodeId: 'b' }));
  t.same(histogram(sp.schedule(tasks(1, { service: 'p', cpu: 1 }), new Map([['p', { strategy: 'binpack' as const }]])).placed), { b: 1 }, 'binpack hint: the fuller node');
});

t.test('spread preferences: balance the service across label values', async (t) => {
  const s = sched('spread');
  s.upsertNode(node('a1', { labels: { zone: 'a' } }));
  for (const id of ['b1', 'b2', 'b3']) s.upsertNode(node(id, { labels: { zone: 'b' } }));
  const r = s.schedule(tasks(6, { spread: ['node.labels.zone'] }));
  t.same(histogram(r.placed), { a1: 3, b1: 1, b2: 1, b3: 1 }, 'half per zone, not per node');
  // Existing tasks of the service count: zone a already holds 3, zone b 3; 2 more: one each.
  const r2 = s.schedule(tasks(2, { spread: ['node.labels.zone'] }, 'more'));
  t.same(r2.placed.map((p) => p.nodeId).sort(), ['a1', 'b1']);
});

t.test('spread preferences: nodes without the label form their own branch', async (t) => {
  const s = sched('spread');
  s.upsertNode(node('a1', { labels: { zone: 'a' } }));
  s.upsertNode(node('a2', { labels: { zone: 'a' } }));
  s.upsertNode(node('none1'));
  s.upsertNode(node('none2'));
  const r = s.schedule(tasks(4, { spread: ['node.labels.zone'] }));
  t.same(histogram(r.placed), { a1: 1, a2: 1, none1: 1, none2: 1 });
  const r2 = s.schedule(tasks(2, { service: 'x', spread: ['node.labels.zone'], constraints: ['node.labels.zone==a'] }, 'x'));
  t.same(histogram(r2.placed), { a1: 1, a2: 1 }, 'constraints still apply');
});

t.test('spread preferences: nested descriptors, and a branch that fills up', async (t) => {
  const s = sched('spread');
  // zone a: racks 1 and 2 (2 nodes in rack 1); zone b: one small node.
  s.upsertNode(node('a-r1-x', { labels: { zone: 'a', rack: '1' } }));
  s.upsertNode(node('a-r1-y', { labels: { zone: 'a', rack: '1' } }));
  s.upsertNode(node('a-r2-x', { labels: { zone: 'a', rack: '2' } }));
  s.upsertNode(node('b-r3-x', { labels: { zone: 'b', rack: '3' }, cpus: 1 }));
  const r = s.schedule(tasks(8, { cpu: 1, spread: ['node.labels.zone', 'node.labels.rack'] }));
  const h = histogram(r.placed);
  t.equal(h['b-r3-x'], 1, 'zone b takes what fits');
  t.equal((h['a-r1-x'] ?? 0) + (h['a-r1-y'] ?? 0), 4, 'zone a racks share evenly');
  t.equal(h['a-r2-x'], 3);
  t.equal(r.unplaced.length, 0);
  t.same(r.placed.slice(0, 4).map((p) => p.nodeId), ['a-r1-x', 'b-r3-x', 'a-r2-x', 'a-r1-y']);
});

t.test('binpack honours spread preferences, packing inside each value', async (t) => {
  const s = sched('binpack');
  for (const id of ['a1', 'a2']) s.upsertNode(node(id, { cpus: 4, labels: { zone: 'a' } }));
  for (const id of ['b1', 'b2']) s.upsertNode(node(id, { cpus: 4, labels: { zone: 'b' } }));
  s.taskAssigned(task('o', { service: 'other', cpu: 2, nodeId: 'a2' }));
  const r = s.schedule(tasks(6, { cpu: 1, spread: ['node.labels.zone'] }));
  // 3 per zone; inside a zone, anti-affinity spreads and binpack picks the
  // fuller node for the odd one out (a2 holds another service's task).
  t.same(histogram(r.placed), { a1: 1, a2: 2, b1: 2, b2: 1 });
});

t.test('a node that has the task’s image wins when the choice is otherwise equal, on every placement path', async (t) => {
  // One task of one service on equal nodes: the one holding busybox:latest ("busybox" normalized) gets it.
  for (const strategy of ['binpack', 'spread'] as const) {
    for (const reserve of [true, false]) {
      const s = sched(strategy);
      for (const id of ['a', 'b', 'c']) s.upsertNode(node(id, id === 'c' ? { images: ['busybox:latest', 'other:1'] } : {}));
      const r = s.schedule([task('t1', reserve ? { cpu: 1, memMiB: 512 } : {})]);
      t.same(r.placed.map((p) => p.nodeId), ['c'], `${strategy}${reserve ? ', reserving' : ''}: c has the image (a would win by id)`);
    }
  }
  // Not above what matters more: binpack's fuller node, the service's spread.
  const s = sched();
  for (const id of ['a', 'b']) s.upsertNode(node(id, { cpus: 4, memGiB: 8, ...(id === 'b' ? { images: ['busybox:latest'] } : {}) }));
  s.taskAssigned(task('busy', { service: 'other', cpu: 2, memMiB: 2048, nodeId: 'a' }));
  t.same(s.schedule([task('t2', { cpu: 1, memMiB: 512 })]).placed.map((p) => p.nodeId), ['a'], 'binpack: the fuller node still wins over the one with the image');
  const spread = s.schedule(tasks(2, { service: 'web', cpu: 0.1, memMiB: 64 }, 'w'));
  t.same(spread.placed.map((p) => p.nodeId).sort(), ['a', 'b'], 'two replicas still spread over both nodes');

  // The shared index path: many one-task groups (services) in one batch, reserving nothing (so no node is fuller).
  const big = sched();
  for (let i = 0; i < 60; i++) big.upsertNode(node(`n${String(i).padStart(2, '0')}`, i === 41 ? { images: ['app:2'] } : {}));
  const groups = Array.from({ length: 40 }, (_, i) => task(`g${i}`, { service: `svc${i}`, spec: { ContainerSpec: { Image: i === 39 ? 'app:2' : 'app:1' } } }));
  const placed = big.schedule(groups).placed;
  t.equal(placed.find((p) => p.taskId === 'g39')?.nodeId, 'n41', 'through the index too: the last group’s task goes to the node with its image');
  t.ok(big.metrics.indexedGroups > 0, `the index was used (${big.metrics.indexedGroups} groups)`);

  // What nodes report changes: a node that drops the image is no longer preferred.
  big.upsertNode(node('n41'));
  const again = big.schedule([task('h1', { service: 'svcX', spec: { ContainerSpec: { Image: 'app:2' } } })]).placed;
  t.not(again[0]?.nodeId, 'n41', 'after n41 reports it no longer has app:2');
});
