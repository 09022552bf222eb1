/**
 * Jobs (jobs.ts): a replicated job runs TotalCompletions tasks to completion,
 * at most MaxConcurrent at once; a failed task is restarted in its slot, a
 * completed slot never runs again; a new spec (a new JobIteration) runs the
 * job again from the start; a global job runs once on every eligible node,
 * the ones that join later included.
 */
import t from 'tap';
import { World, mkNode, mkService, slotViolations } from './helpers.js';
import type { Service } from '../../src/model/index.js';

function job(id: string, mode: Service['Spec']['Mode'], iteration = 0): Service {
  const s = mkService(id, { restart: { Condition: 'on-failure', Delay: 0 } });
  return { ...s, Spec: { ...s.Spec, Mode: mode }, JobStatus: { JobIteration: { Index: iteration }, LastExecution: new Date(0).toISOString() } };
}

/** Every task the agents run exits 0. */
function completeRunning(w: World): number {
  let n = 0;
  for (const x of w.tasks) if (x.Status.State === 'running') (w.setStatus(x.ID, 'complete', { exitCode: 0 }), n++);
  return n;
}

t.test('a replicated job: TotalCompletions completions, never more than MaxConcurrent at once', async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2')], [job('j', { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 } })]);
  let maxRunning = 0;
  for (let round = 0; round < 10; round++) {
    w.converge();
    t.same(slotViolations(w.view()), [], `round ${round}: one copy per slot`);
    const running = w.tasks.filter((x) => x.Status.State === 'running').length;
    maxRunning = Math.max(maxRunning, running);
    if (completeRunning(w) === 0) break;
  }
  t.equal(maxRunning, 2, 'two at a time');
  const done = w.of('j').filter((x) => x.Status.State === 'complete');
  t.equal(done.length, 5, 'five completions');
  t.same(done.map((x) => x.Slot).sort(), [0, 1, 2, 3, 4], 'one per slot, numbered from 0 as SwarmKit does');
  t.ok(done.every((x) => x.DesiredState === 'complete' && x.JobIteration?.Index === 0), "desired 'complete', stamped with the job's iteration");
  w.converge();
  t.equal(w.of('j').length, 5, 'nothing more is started once the job is done');
});

t.test('a failed task is restarted in its slot (on-failure); a completed one is not', async (t) => {
  const w = new World([mkNode('n1')], [job('j', { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } })]);
  w.converge();
  const first = w.live('j')[0]!;
  w.setStatus(first.ID, 'failed', { exitCode: 2 });
  w.converge();
  const second = w.live('j').find((x) => x.ID !== first.ID);
  t.ok(second, 'a replacement');
  t.equal(second!.Slot, 0);
  t.equal(second!.Orchestration?.Reason, 'restart');
  w.setStatus(second!.ID, 'complete', { exitCode: 0 });
  w.converge();
  t.equal(w.of('j').length, 2, 'no third task after the completion');
});

t.test('a new iteration runs the job again: the earlier run stops, every slot starts over', async (t) => {
  const w = new World([mkNode('n1')], [job('j', { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 2 } })]);
  w.converge();
  const [a, b] = w.live('j');
  w.setStatus(a!.ID, 'complete', { exitCode: 0 });
  w.converge();
  t.equal(w.task(b!.ID).Status.State, 'running', 'slot 2 still runs in the first run');
  // What the API does on an update: the iteration becomes the replaced version.
  w.services = w.services.map((s) => ({ ...s, Version: { Index: s.Version.Index + 1 }, JobStatus: { JobIteration: { Index: s.Version.Index }, LastExecution: new Date(0).toISOString() } }));
  w.step();
  t.equal(w.task(b!.ID).DesiredState, 'shutdown', "the earlier run's running task is stopped");
  t.same(slotViolations(w.view()), []);
  w.converge();
  const current = w.of('j').filter((x) => x.JobIteration?.Index === 1);
  t.equal(current.length, 2, 'both slots run again, in the new iteration');
  t.ok(current.every((x) => x.Status.State === 'running'));
});

t.test('a global job runs once per eligible node, and on a node that joins later', async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2')], [job('g', { GlobalJob: {} })]);
  w.converge();
  t.equal(w.live('g').length, 2, 'one task per node');
  completeRunning(w);
  w.converge();
  t.equal(w.of('g').length, 2, 'done: nothing more');
  w.nodes = [...w.nodes, mkNode('n3')];
  w.converge();
  const late = w.of('g').filter((x) => x.NodeID === 'n3');
  t.equal(late.length, 1, 'the new node gets its run');
  t.equal(late[0]!.Status.State, 'running');
});
