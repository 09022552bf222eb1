/**
 * Global services: one task per eligible node.
 */
import t from 'tap';
import { World, mkNode, mkService, slotViolations } from './helpers.js';

t.test('one task per ready, active node, bound to the node', async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2'), mkNode('n3', { state: 'down' }), mkNode('n4', { availability: 'drain' }), mkNode('n5', { availability: 'pause' })], [mkService('g', { global: true })]);
  w.step();
  t.same(
    w.of('g').map((x) => [x.NodeID, x.Slot, x.DesiredState]),
    [
      ['n1', 0, 'running'],
      ['n2', 0, 'running'],
    ],
  );
  t.equal(w.step().actions.length, 0);
});

t.test('a node joins: it gets a task; a node is drained or goes down: its task stops, nothing replaces it', async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2')], [mkService('g', { global: true })]);
  w.converge();
  w.nodes.push(mkNode('n3'));
  w.step();
  t.equal(w.live('g').length, 3);
  w.converge();
  w.availability('n1', 'drain');
  w.nodeState('n2', 'down');
  const d = w.step();
  t.equal(d.stats.shutdown, 2);
  t.same(
    w.live('g').map((x) => x.NodeID),
    ['n3'],
  );
  w.availability('n1', 'active');
  w.nodeState('n2', 'ready');
  w.converge();
  t.same(w.live('g').map((x) => x.NodeID).sort(), ['n1', 'n2', 'n3'], 'back: new tasks');
  t.same(slotViolations(w.view()), []);
});

t.test('pause keeps the task but does not restart it; activation brings it back', async (t) => {
  const w = new World([mkNode('n1')], [mkService('g', { global: true, restart: { Delay: 0 } })]);
  w.converge();
  w.availability('n1', 'pause');
  t.equal(w.step().actions.length, 0);
  const task = w.live('g')[0]!;
  w.setStatus(task.ID, 'failed');
  w.step();
  t.equal(w.live('g').length, 0, 'not restarted on a paused node');
  w.availability('n1', 'active');
  w.step();
  t.equal(w.live('g').length, 1);
  t.equal(w.live('g')[0]!.Orchestration?.Reason, 'restart');
});

t.test("a node not ready yet ('unknown' after a failover) keeps its task but gets no new one", async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2')], [mkService('g', { global: true })]);
  w.converge();
  w.nodeState('n1', 'unknown');
  w.nodes.push(mkNode('n3', { state: 'unknown' }));
  t.equal(w.step().actions.length, 0);
  w.nodeState('n3', 'ready');
  w.step();
  t.equal(w.live('g').length, 3);
});

t.test('constraints: role, labels, !=, missing labels, engine labels; label changes stop tasks', async (t) => {
  const nodes = [
    mkNode('m1', { role: 'manager', labels: { zone: 'a' } }),
    mkNode('w1', { labels: { zone: 'B' } }),
    mkNode('w2', {}),
    mkNode('w3', { engineLabels: { disk: 'ssd' } }),
  ];
  const cases: [string[], string[]][] = [
    [['node.role==manager'], ['m1']],
    [['node.role!=manager'], ['w1', 'w2', 'w3']],
    [['node.labels.zone==b'], ['w1']], // values compare case-insensitively
    [['node.labels.zone!=a'], ['w1', 'w2', 'w3']], // no label: != holds
    [['node.labels.zone==a', 'node.role==manager'], ['m1']],
    [['engine.labels.disk==ssd'], ['w3']],
    [['node.hostname==host-w2'], ['w2']],
    [['node.id==w1'], ['w1']],
    [['node.platform.os==linux', 'node.platform.arch==x86_64'], ['m1', 'w1', 'w2', 'w3']],
  ];
  for (const [constraints, want] of cases) {
    const w = new World(nodes, [mkService('g', { global: true, constraints })]);
    w.step();
    t.same(w.live('g').map((x) => x.NodeID).sort(), want, constraints.join(' && '));
  }
  const w = new World(nodes, [mkService('g', { global: true, constraints: ['node.labels.zone==a'] })]);
  w.converge();
  w.setNode('m1', (n) => ({ ...n, Spec: { ...n.Spec, Labels: { zone: 'c' } } }));
  w.step();
  t.equal(w.live('g').length, 0, 'the node no longer matches: its task stops');
});

t.test('an unparsable constraint is reported and the service left alone', async (t) => {
  const w = new World([mkNode('n1')], [mkService('g', { global: true })]);
  w.converge();
  w.setSpec('g', (s) => ({ ...s, TaskTemplate: { ...s.TaskTemplate, Placement: { Constraints: ['node.labels.zone=a'] } } }));
  const d = w.step();
  t.equal(d.actions.length, 0);
  t.match(d.stats.problems, [/invalid constraint/]);
});

t.test('a removed node: its global task is orphaned and deleted (its history goes with it)', async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2')], [mkService('g', { global: true })]);
  w.converge();
  const onN2 = w.live('g').find((x) => x.NodeID === 'n2')!;
  w.nodes = w.nodes.filter((n) => n.ID !== 'n2');
  const d = w.step();
  t.same(
    d.actions.map((a) => [a.type, a.type === 'deleteTask' ? a.id : '']),
    [['deleteTask', onN2.ID]],
  );
});

t.test('a global task that exits is restarted on the same node after the delay', async (t) => {
  const w = new World([mkNode('n1')], [mkService('g', { global: true })]);
  w.converge();
  const task = w.live('g')[0]!;
  w.setStatus(task.ID, 'failed');
  const d = w.step();
  const r = w.live('g')[0]!;
  t.equal(r.NodeID, 'n1');
  t.equal(r.DesiredState, 'ready');
  t.ok(d.wakeAt);
});
