/**
 * Task history pruning and removed services.
 */
import t from 'tap';
import { World, mkNode, mkService, SEC } from './helpers.js';
import { isTerminal } from '../../src/model/index.js';
import type { Task } from '../../src/model/index.js';

const deadIn = (ts: Task[]) => ts.filter((x) => x.DesiredState !== 'running' && x.DesiredState !== 'ready' && isTerminal(x.Status.State));

function crashLoop(w: World, svc: string, slotOrNode: (x: Task) => boolean, times: number): string[] {
  const ids: string[] = [];
  for (let i = 0; i < times; i++) {
    w.converge();
    const cur = w.live(svc).find(slotOrNode)!;
    ids.push(cur.ID);
    w.advance(SEC);
    w.setStatus(cur.ID, 'failed');
    w.step();
  }
  return ids;
}

t.test('each slot keeps its 5 newest terminal tasks by default; older ones are deleted', async (t) => {
  const w = new World([mkNode('n1')], [mkService('s1', { replicas: 2, restart: { Delay: 0 } })]);
  const ids = crashLoop(w, 's1', (x) => x.Slot === 1, 8);
  const dead = deadIn(w.slot('s1', 1));
  t.equal(dead.length, 5);
  t.same(dead.map((x) => x.ID).sort(), ids.slice(-5).sort(), 'the newest five');
  t.equal(w.liveInSlot('s1', 1).length, 1, 'plus the live one');
  t.equal(w.slot('s1', 2).length, 1, 'other slots untouched');
});

t.test('the cluster setting wins; negative keeps everything', async (t) => {
  const w = new World([mkNode('n1')], [mkService('s1', { replicas: 1, restart: { Delay: 0 } })]);
  w.historyLimit = 2;
  crashLoop(w, 's1', () => true, 5);
  t.equal(deadIn(w.of('s1')).length, 2);
  const k = new World([mkNode('n1')], [mkService('s1', { replicas: 1, restart: { Delay: 0 } })]);
  k.historyLimit = -1;
  crashLoop(k, 's1', () => true, 7);
  t.equal(deadIn(k.of('s1')).length, 7);
});

t.test('limit 0 deletes terminal tasks at once, but a finished slot keeps its last task (the reason it is empty)', async (t) => {
  const w = new World([mkNode('n1')], [mkService('s1', { replicas: 1, restart: { Delay: 0 } })]);
  w.historyLimit = 0;
  crashLoop(w, 's1', () => true, 3);
  t.equal(w.of('s1').length, 1, 'only the live task');
  const f = new World([mkNode('n1')], [mkService('s1', { replicas: 1, restart: { Condition: 'none' } })]);
  f.historyLimit = 0;
  f.converge();
  f.setStatus(f.live('s1')[0]!.ID, 'complete');
  f.step();
  t.equal(f.of('s1').length, 1, 'kept');
  f.advance(3600 * SEC);
  t.equal(f.step().actions.length, 0, 'and the slot is not refilled');
});

t.test('global services keep history per node', async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2')], [mkService('g', { global: true, restart: { Delay: 0 } })]);
  w.historyLimit = 3;
  crashLoop(w, 'g', (x) => x.NodeID === 'n1', 6);
  t.equal(deadIn(w.of('g').filter((x) => x.NodeID === 'n1')).length, 3);
  t.equal(w.of('g').filter((x) => x.NodeID === 'n2').length, 1);
});

t.test('a task stopped on a down node is never pruned (the node must still be told to stop it)', async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2')], [mkService('s1', { replicas: 1 })]);
  w.historyLimit = 0;
  w.converge();
  const old = w.live('s1')[0]!;
  w.nodeState(old.NodeID, 'down');
  w.converge();
  t.equal(w.task(old.ID).DesiredState, 'shutdown');
  t.equal(w.task(old.ID).Status.State, 'running');
  w.nodeState(old.NodeID, 'ready');
  w.runAgents();
  w.step();
  t.throws(() => w.task(old.ID), 'deleted once it reported shutdown');
});

t.test('a removed service: live tasks get desired remove, are deleted once terminal; never-assigned ones at once', async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2')], [mkService('s1', { replicas: 2 }), mkService('keep', { replicas: 1 })]);
  w.converge();
  w.nodeState('n2', 'down');
  w.services = w.services.filter((s) => s.ID !== 's1');
  w.tasks.push({ ...w.of('s1')[0]!, ID: 'pending1', NodeID: '', Status: { ...w.of('s1')[0]!.Status, State: 'pending' } });
  const d = w.step();
  t.ok(d.actions.some((a) => a.type === 'deleteTask' && a.id === 'pending1'), 'never assigned: deleted at once');
  const left = w.of('s1');
  t.ok(left.every((x) => x.DesiredState === 'remove'), 'desired remove');
  w.runAgents(); // n1 stops its copy; n2 is down
  w.step();
  t.same(
    w.of('s1').map((x) => x.NodeID),
    ['n2'],
    'the copy on the down node waits for the node',
  );
  w.nodeState('n2', 'ready');
  w.runAgents();
  w.step();
  t.equal(w.of('s1').length, 0);
  t.equal(w.of('keep').length >= 1, true, 'other services untouched');
});
