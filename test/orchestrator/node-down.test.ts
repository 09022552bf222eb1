/**
 * Node death, removal, drain and pause for replicated services.
 *
 * SwarmKit's behaviour, which Shoal follows: tasks of a down node get desired
 * state 'shutdown' (their status stays what the node last reported; the node
 * stops them when it returns) and are replaced at once, without the restart
 * delay. A removed node's tasks are also marked 'orphaned', since no agent
 * will ever report on them again.
 */
import t from 'tap';
import { World, mkNode, mkService, slotViolations, T0 } from './helpers.js';

function cluster(replicas = 4, restart = {}): World {
  const w = new World([mkNode('n1'), mkNode('n2')], [mkService('s1', { replicas, restart })]);
  w.converge();
  return w;
}

t.test('a down node: its tasks are stopped and replaced at once, without delay', async (t) => {
  const w = cluster(4, { MaxAttempts: 5 });
  const onN1 = w.live('s1').filter((x) => x.NodeID === 'n1');
  t.equal(onN1.length, 2);
  w.advance(1000);
  w.nodeState('n1', 'down');
  const d = w.step();
  t.equal(d.stats.nodeDownReschedules, 2);
  t.equal(d.wakeAt, null, 'no delay to wait for');
  for (const old of onN1) {
    const o = w.task(old.ID);
    t.equal(o.DesiredState, 'shutdown');
    t.equal(o.Status.State, 'running', 'status untouched: the node has not said anything');
    const [r] = w.liveInSlot('s1', old.Slot);
    t.equal(r!.DesiredState, 'running', 'started at once: nothing to wait for on a dead node');
    t.equal(r!.Orchestration?.Reason, 'reschedule');
    t.equal(r!.Orchestration?.Restarts, undefined, 'a node death is not a restart attempt');
  }
  t.same(slotViolations(w.view()), []);
  w.converge();
  t.equal(
    w.live('s1').filter((x) => x.Status.State === 'running').length,
    4,
  );
  t.ok(w.live('s1').every((x) => x.NodeID === 'n2'));

  // The node comes back: its old copies must stop, not run beside the replacements.
  w.nodeState('n1', 'ready');
  t.equal(w.step().actions.length, 0, 'nothing new to decide: they are already desired shutdown');
  w.runAgents();
  for (const old of onN1) t.equal(w.task(old.ID).Status.State, 'shutdown', 'the returning agent stops them');
  t.same(slotViolations(w.view()), []);
});

t.test("'unknown' and 'disconnected' nodes keep their tasks (a leader change marks every node unknown)", async (t) => {
  const w = cluster(2);
  w.nodeState('n1', 'unknown');
  w.nodeState('n2', 'disconnected');
  t.equal(w.step().actions.length, 0);
});

t.test('a removed node: tasks orphaned and replaced; the orphans are history', async (t) => {
  const w = cluster(2);
  const onN1 = w.live('s1').filter((x) => x.NodeID === 'n1');
  w.nodes = w.nodes.filter((n) => n.ID !== 'n1');
  const d = w.step();
  t.equal(d.stats.orphaned, onN1.length);
  for (const old of onN1) {
    const o = w.task(old.ID);
    t.equal(o.Status.State, 'orphaned');
    t.equal(o.DesiredState, 'shutdown');
    t.equal(w.liveInSlot('s1', old.Slot)[0]!.DesiredState, 'running');
  }
});

t.test('a task stopped while its node was down, then the node removed: orphaned so it can be pruned', async (t) => {
  const w = cluster(1);
  const old = w.live('s1')[0]!;
  w.nodeState(old.NodeID, 'down');
  w.converge();
  w.nodes = w.nodes.filter((n) => n.ID !== old.NodeID);
  w.step();
  t.equal(w.task(old.ID).Status.State, 'orphaned');
});

t.test('drain: replacements elsewhere, started once the drained copies stop', async (t) => {
  const w = cluster(4);
  w.availability('n1', 'drain');
  const d = w.step();
  t.equal(d.stats.drainReschedules, 2);
  const waiting = w.live('s1').filter((x) => x.DesiredState === 'ready');
  t.equal(waiting.length, 2, 'replacements wait for the old copies');
  t.same(slotViolations(w.view()), []);
  w.converge();
  t.equal(w.live('s1').length, 4);
  t.ok(w.live('s1').every((x) => x.NodeID === 'n2' && x.Status.State === 'running' && x.DesiredState === 'running'));
});

t.test('pause: existing tasks stay; a restart goes to the scheduler (which will not pick the paused node)', async (t) => {
  const w = cluster(2, { Delay: 0 });
  w.availability('n1', 'pause');
  t.equal(w.step().actions.length, 0);
  const onN1 = w.live('s1').find((x) => x.NodeID === 'n1')!;
  w.setStatus(onN1.ID, 'failed');
  w.step();
  w.schedule();
  t.equal(w.liveInSlot('s1', onN1.Slot)[0]!.NodeID, 'n2');
});

t.test('a task exited on a node that is now down is a failure: restarted after the delay', async (t) => {
  const w = cluster(1);
  const old = w.live('s1')[0]!;
  w.setStatus(old.ID, 'failed');
  w.nodeState(old.NodeID, 'down');
  const d = w.step();
  t.equal(w.liveInSlot('s1', 1)[0]!.Orchestration?.Reason, 'restart');
  t.equal(d.wakeAt, T0 + 5000);
});

t.test('restart condition none still reschedules off a dead node (a node death is not an exit)', async (t) => {
  const w = cluster(1, { Condition: 'none' });
  const old = w.live('s1')[0]!;
  w.nodeState(old.NodeID, 'down');
  w.step();
  t.equal(w.liveInSlot('s1', 1).length, 1);
});
