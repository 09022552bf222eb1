/**
 * Restart policy: Condition, Delay, MaxAttempts, Window; the replacement waits
 * (desired 'ready') out the delay and is started by a later reconcile.
 */
import t from 'tap';
import { World, mkNode, mkService, slotViolations, NS, SEC, T0 } from './helpers.js';
import type { RestartPolicy } from '../../src/model/index.js';

function oneReplica(restart?: RestartPolicy): World {
  const w = new World([mkNode('n1'), mkNode('n2')], [mkService('s1', { replicas: 1, ...(restart ? { restart } : {}) })]);
  w.converge();
  return w;
}

t.test('a failed task is replaced in its slot after the default 5 s delay', async (t) => {
  const w = oneReplica();
  const old = w.live('s1')[0]!;
  w.advance(1000);
  w.setStatus(old.ID, 'failed', { exitCode: 1 });
  const d = w.step();
  t.equal(w.task(old.ID).DesiredState, 'shutdown');
  t.equal(w.task(old.ID).Orchestration?.ExitedMs, T0 + 1000, 'exit time recorded with the manager clock');
  const [r] = w.liveInSlot('s1', 1);
  t.ok(r);
  t.equal(r!.DesiredState, 'ready', 'delayed: prepared but not started');
  t.equal(r!.Orchestration?.Reason, 'restart');
  t.equal(r!.Orchestration?.StartAfterMs, T0 + 1000 + 5000);
  t.equal(r!.Orchestration?.Restarts, 1);
  t.equal(r!.NodeID, '', 'the scheduler places it anew');
  t.equal(d.wakeAt, T0 + 6000);
  t.equal(d.stats.created.restart, 1);

  w.schedule();
  w.runAgents();
  t.equal(w.task(r!.ID).Status.State, 'ready', 'agent prepares it');
  w.advance(4999);
  const early = w.step();
  t.equal(early.actions.length, 0, 'not before the delay');
  t.equal(early.wakeAt, T0 + 6000);
  w.advance(1);
  const version = w.task(r!.ID).Version.Index;
  const go = w.step();
  t.same(go.actions, [{ type: 'updateTask', id: r!.ID, version, desiredState: 'running' }]);
  t.equal(go.stats.started, 1);
  t.equal(go.wakeAt, null);
  w.runAgents();
  t.equal(w.task(r!.ID).Status.State, 'running');
});

t.test('Delay 0: the replacement starts at once', async (t) => {
  const w = oneReplica({ Delay: 0 });
  const old = w.live('s1')[0]!;
  w.setStatus(old.ID, 'failed');
  w.step();
  const [r] = w.liveInSlot('s1', 1);
  t.equal(r!.DesiredState, 'running');
  t.equal(r!.Orchestration?.StartAfterMs, undefined);
});

t.test('a custom delay, from the spec in nanoseconds', async (t) => {
  const w = oneReplica({ Delay: 250 * NS });
  w.setStatus(w.live('s1')[0]!.ID, 'failed');
  const d = w.step();
  t.equal(d.wakeAt, T0 + 250);
});

t.test('condition none: an exited task is not replaced, and the slot stays empty for good', async (t) => {
  const w = oneReplica({ Condition: 'none' });
  const old = w.live('s1')[0]!;
  w.setStatus(old.ID, 'complete', { exitCode: 0 });
  const d = w.step();
  t.equal(d.stats.restartsSuppressed, 1);
  t.equal(w.live('s1').length, 0);
  t.equal(d.wakeAt, null);
  w.advance(3600 * SEC);
  t.equal(w.step().actions.length, 0, 'an hour later, still finished');
  w.scale('s1', 2);
  w.step();
  t.same(
    w.live('s1').map((x) => x.Slot),
    [2],
    'scaling up adds slot 2; the finished slot 1 stays finished',
  );
});

t.test('on-failure: a clean exit is final, a failure is restarted, a rejection too', async (t) => {
  const w = oneReplica({ Condition: 'on-failure', Delay: 0 });
  const a = w.live('s1')[0]!;
  w.setStatus(a.ID, 'failed', { exitCode: 2 });
  w.step();
  const b = w.liveInSlot('s1', 1)[0]!;
  t.not(b.ID, a.ID, 'failure restarted');
  w.schedule();
  w.setStatus(b.ID, 'rejected');
  w.step();
  const c = w.liveInSlot('s1', 1)[0]!;
  t.not(c.ID, b.ID, 'rejection restarted');
  w.schedule();
  w.runAgents();
  w.setStatus(c.ID, 'complete', { exitCode: 0 });
  w.step();
  t.equal(w.liveInSlot('s1', 1).length, 0, 'clean exit not restarted');
});

t.test('condition any restarts a completed task too (the default)', async (t) => {
  const w = oneReplica({ Delay: 0 });
  w.setStatus(w.live('s1')[0]!.ID, 'complete');
  w.step();
  t.equal(w.liveInSlot('s1', 1).length, 1);
});

t.test('MaxAttempts: that many restarts, then the slot is left empty; counts survive the leader (they live in the tasks)', async (t) => {
  const w = oneReplica({ Delay: 0, MaxAttempts: 3 });
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    const cur = w.liveInSlot('s1', 1)[0];
    if (!cur) break;
    seen.push(cur.Orchestration?.Restarts ?? 0);
    w.schedule();
    w.runAgents();
    w.advance(SEC);
    w.setStatus(cur.ID, 'failed');
    w.step();
  }
  t.same(seen, [0, 1, 2, 3], 'original + 3 restarts');
  t.equal(w.liveInSlot('s1', 1).length, 0);
  t.equal(w.step().actions.length, 0, 'stays empty');
});

t.test('MaxAttempts counts start again after a spec change', async (t) => {
  const w = oneReplica({ Delay: 0, MaxAttempts: 1 });
  w.setStatus(w.live('s1')[0]!.ID, 'failed');
  w.step();
  const r = w.liveInSlot('s1', 1)[0]!;
  t.equal(r.Orchestration?.Restarts, 1);
  // The restarted task fails too: attempts exhausted.
  w.schedule();
  w.runAgents();
  w.setStatus(r.ID, 'failed');
  w.step();
  t.equal(w.liveInSlot('s1', 1).length, 0);
  // A new spec: the finished slot gets the new version (a rolling update), with fresh counts.
  w.updateSpec('s1', (s) => ({ ...s, TaskTemplate: { ...s.TaskTemplate, ContainerSpec: { Image: 'busybox:2' } } }));
  w.step();
  const u = w.liveInSlot('s1', 1)[0]!;
  t.equal(u.Orchestration?.Reason, 'update');
  t.equal(u.Orchestration?.Restarts, undefined);
  w.schedule();
  w.runAgents();
  w.advance(60 * SEC);
  w.setStatus(u.ID, 'failed');
  w.step();
  t.equal(w.liveInSlot('s1', 1).length, 1, 'one attempt available again under the new spec');
});

t.test('Window: MaxAttempts counts only restarts inside the window', async (t) => {
  const w = oneReplica({ Delay: 0, MaxAttempts: 2, Window: 60 * SEC * NS });
  const fail = (): void => {
    const cur = w.liveInSlot('s1', 1)[0]!;
    w.schedule();
    w.runAgents();
    w.setStatus(cur.ID, 'failed');
    w.step();
  };
  fail(); // restart 1 at +0
  w.advance(10 * SEC);
  fail(); // restart 2 at +10 s
  t.same(w.liveInSlot('s1', 1)[0]!.Orchestration?.RestartTimesMs, [T0, T0 + 10 * SEC]);
  w.advance(10 * SEC);
  fail(); // third failure within 60 s of both: no restart
  t.equal(w.liveInSlot('s1', 1).length, 0);

  const w2 = oneReplica({ Delay: 0, MaxAttempts: 2, Window: 60 * SEC * NS });
  const fail2 = (): void => {
    const cur = w2.liveInSlot('s1', 1)[0]!;
    w2.schedule();
    w2.runAgents();
    w2.setStatus(cur.ID, 'failed');
    w2.step();
  };
  fail2();
  w2.advance(10 * SEC);
  fail2();
  w2.advance(55 * SEC); // the first restart has left the window
  fail2();
  const cur = w2.liveInSlot('s1', 1)[0];
  t.ok(cur, 'restarted: only one restart inside the window');
  t.same(cur!.Orchestration?.RestartTimesMs, [T0 + 10 * SEC, T0 + 65 * SEC], 'old times dropped, capped at MaxAttempts');
});

t.test('a task that fails while still waiting out its delay does not shorten the back-off', async (t) => {
  const w = oneReplica();
  w.setStatus(w.live('s1')[0]!.ID, 'failed');
  w.step(); // replacement r1 ready until T0+5s
  const r1 = w.liveInSlot('s1', 1)[0]!;
  w.schedule();
  w.advance(1000);
  w.setStatus(r1.ID, 'rejected'); // e.g. image pull failed during preparation
  const d = w.step();
  t.equal(w.liveInSlot('s1', 1).length, 0, 'a rejection is replaced only once the delay is over');
  t.equal(d.wakeAt, T0 + 10_000, 'previous delay end + delay');
  w.advance(8999);
  t.equal(w.liveInSlot('s1', 1).length, 0);
  t.equal(w.step().wakeAt, T0 + 10_000, 'the same time on every reconcile');
  w.advance(1);
  w.step();
  const r2 = w.liveInSlot('s1', 1)[0]!;
  t.equal(r2.DesiredState, 'running', 'its delay is over: it starts at once');
  t.equal(r2.Orchestration?.StartAfterMs, undefined, 'no start time to wait for');
  t.equal(r2.Orchestration?.Restarts, 2);
});

t.test('a task rejected every time (a program no node has) is retried once per delay, not in a loop', async (t) => {
  const w = oneReplica();
  const tries: number[] = [];
  // Each attempt is rejected as soon as an agent prepares it, as the process runtime does for a missing program.
  for (let now = T0; now < T0 + 30_000; now += 250) {
    w.step();
    w.schedule();
    for (const x of w.liveInSlot('s1', 1)) {
      if (x.NodeID !== '' && x.Status.State !== 'rejected') {
        w.setStatus(x.ID, 'rejected');
        tries.push(now - T0);
      }
    }
    w.advance(250);
  }
  t.ok(tries.length >= 5 && tries.length <= 7, `one attempt per 5 s delay over 30 s: at ${tries.join(', ')} ms`);
  for (let i = 1; i < tries.length; i++) t.ok(tries[i]! - tries[i - 1]! >= 5000, `attempt ${i + 1} came ${tries[i]! - tries[i - 1]!} ms after the one before`);
  t.same(slotViolations(w.view()), []);
});

t.test('a replacement waits for its predecessor to stop (drain), then starts; or gives up waiting after a minute', async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2')], [mkService('s1', { replicas: 1 })]);
  w.converge();
  const old = w.live('s1')[0]!;
  w.availability(old.NodeID, 'drain');
  const d = w.step();
  t.equal(d.stats.drainReschedules, 1);
  t.equal(w.task(old.ID).DesiredState, 'shutdown');
  const r = w.liveInSlot('s1', 1)[0]!;
  t.equal(r.DesiredState, 'ready', 'no restart delay, but the old copy is still running');
  t.equal(r.Orchestration?.Reason, 'reschedule');
  t.equal(d.wakeAt, T0 + 60_000);
  t.same(slotViolations(w.view()), []);
  w.schedule();
  t.equal(w.step().actions.length, 0, 'still waiting');
  w.setStatus(old.ID, 'shutdown');
  const go = w.step();
  t.equal(go.stats.started, 1, 'started once the predecessor stopped');

  // Same again, but the old copy never reports (hung agent).
  const w2 = new World([mkNode('n1'), mkNode('n2')], [mkService('s1', { replicas: 1 })]);
  w2.converge();
  w2.advance(1000);
  const old2 = w2.live('s1')[0]!;
  w2.availability(old2.NodeID, 'drain');
  w2.step();
  const r2 = w2.liveInSlot('s1', 1)[0]!;
  w2.advance(59_999);
  t.equal(w2.step().actions.length, 0);
  w2.advance(1);
  w2.step();
  t.equal(w2.task(r2.ID).DesiredState, 'running', 'gave up waiting after oldTaskTimeoutMs');
});

t.test('an exited task on a drained node restarts without delay (SwarmKit)', async (t) => {
  const w = oneReplica();
  const old = w.live('s1')[0]!;
  w.availability(old.NodeID, 'drain');
  w.setStatus(old.ID, 'failed');
  w.step();
  t.equal(w.liveInSlot('s1', 1)[0]!.DesiredState, 'running');
});
