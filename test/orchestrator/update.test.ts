/**
 * Rolling updates and rollbacks: batches of Parallelism, Delay between them,
 * stop-first / start-first, Monitor, FailureAction with MaxFailureRatio, and
 * UpdateStatus transitions.
 */
import t from 'tap';
import { World, mkNode, mkService, slotViolations, NS, SEC, T0 } from './helpers.js';
import type { ServiceSpec, UpdateConfig } from '../../src/model/index.js';

const image = (img: string) => (s: ServiceSpec): ServiceSpec => ({ ...s, TaskTemplate: { ...s.TaskTemplate, ContainerSpec: { Image: img } } });

function cluster(replicas: number, update: UpdateConfig = {}, rollback?: UpdateConfig): World {
  const w = new World([mkNode('n1'), mkNode('n2'), mkNode('n3')], [mkService('s1', { replicas, update, ...(rollback ? { rollback } : {}), restart: { Delay: 0 } })]);
  w.converge();
  return w;
}
const imagesOf = (w: World) => w.live('s1').sort((a, b) => a.Slot - b.Slot).map((x) => x.Spec.ContainerSpec?.Image);

t.test('stop-first, parallelism 1: one slot at a time, each new task waits for the old one to stop', async (t) => {
  const w = cluster(3, { Parallelism: 1, Monitor: 0 });
  w.updateSpec('s1', image('busybox:2'));
  const d = w.step();
  t.equal(d.stats.updatesStarted, 1);
  t.match(w.service('s1').UpdateStatus, { State: 'updating', StartedAt: new Date(T0).toISOString() });
  t.same(imagesOf(w), ['busybox:2', 'busybox:1', 'busybox:1']);
  const [n1] = w.liveInSlot('s1', 1);
  t.equal(n1!.DesiredState, 'ready', 'waits for the old copy to stop');
  t.equal(n1!.Orchestration?.Reason, 'update');
  t.same(slotViolations(w.view()), []);
  t.equal(w.step().actions.length, 0, 'one in flight: nothing more');
  w.converge();
  t.same(imagesOf(w), ['busybox:2', 'busybox:2', 'busybox:2']);
  t.equal(w.service('s1').UpdateStatus?.State, 'completed');
  t.equal(w.service('s1').UpdateStatus?.Message, 'update completed');
  t.ok(w.live('s1').every((x) => x.Status.State === 'running'));
});

t.test('a batch advances only when its new tasks run, then after Delay', async (t) => {
  const w = cluster(4, { Parallelism: 2, Delay: 10 * SEC * NS, Monitor: 0 });
  w.updateSpec('s1', image('busybox:2'));
  w.step();
  t.equal(w.live('s1').filter((x) => x.Spec.ContainerSpec?.Image === 'busybox:2').length, 2, 'first batch of 2');
  w.converge(); // runs them; Delay not over yet
  t.equal(w.live('s1').filter((x) => x.Spec.ContainerSpec?.Image === 'busybox:2').length, 2, 'second batch waits for Delay');
  const d = w.step();
  t.equal(d.wakeAt, T0 + 10 * SEC, 'wake when the delay ends');
  w.advance(10 * SEC);
  w.converge();
  t.same(imagesOf(w), ['busybox:2', 'busybox:2', 'busybox:2', 'busybox:2']);
  t.equal(w.service('s1').UpdateStatus?.State, 'updating', 'last batch still in its Delay');
  w.advance(10 * SEC);
  w.converge();
  t.equal(w.service('s1').UpdateStatus?.State, 'completed');
});

t.test('parallelism 0 replaces every slot at once', async (t) => {
  const w = cluster(5, { Parallelism: 0, Monitor: 0 });
  w.updateSpec('s1', image('busybox:2'));
  const d = w.step();
  t.equal(d.stats.created.update, 5);
});

t.test('completion waits for Monitor after the last task runs', async (t) => {
  const w = cluster(1, { Monitor: 30 * SEC * NS });
  w.updateSpec('s1', image('busybox:2'));
  w.converge();
  t.equal(w.service('s1').UpdateStatus?.State, 'updating');
  const u = w.live('s1')[0]!;
  t.equal(u.Orchestration?.RunningSinceMs, T0, 'first seen running recorded');
  const d = w.step();
  t.equal(d.wakeAt, T0 + 30 * SEC);
  w.advance(30 * SEC);
  w.step();
  t.equal(w.service('s1').UpdateStatus?.State, 'completed');
});

t.test('start-first: the new copy starts beside the old one, which stops once the new one runs', async (t) => {
  const w = cluster(2, { Order: 'start-first', Monitor: 0 });
  w.updateSpec('s1', image('busybox:2'));
  w.step();
  const slot1 = w.liveInSlot('s1', 1);
  t.same(
    slot1.map((x) => [x.Spec.ContainerSpec?.Image, x.DesiredState]).sort(),
    [
      ['busybox:1', 'running'],
      ['busybox:2', 'running'],
    ],
    'both desired running: the documented start-first window',
  );
  t.same(slotViolations(w.view()), [], 'allowed by the invariant (two copies, different specs, start-first)');
  w.schedule();
  t.equal(w.step().actions.length, 0, 'old one keeps serving while the new one is not running');
  w.runAgents();
  w.step();
  t.same(
    w.liveInSlot('s1', 1).map((x) => x.Spec.ContainerSpec?.Image),
    ['busybox:2'],
    'old one stopped once the new one runs',
  );
  w.converge();
  t.same(imagesOf(w), ['busybox:2', 'busybox:2']);
  t.equal(w.service('s1').UpdateStatus?.State, 'completed');
});

t.test('ForceUpdate replaces tasks with an identical spec', async (t) => {
  const w = cluster(2, { Monitor: 0 });
  const before = w.live('s1').map((x) => x.ID);
  w.updateSpec('s1', (s) => ({ ...s, TaskTemplate: { ...s.TaskTemplate, ForceUpdate: 1 } }));
  w.converge();
  t.equal(w.live('s1').filter((x) => before.includes(x.ID)).length, 0);
  t.equal(w.service('s1').UpdateStatus?.State, 'completed');
});

t.test('a change outside the task template (scale) is not an update', async (t) => {
  const w = cluster(2);
  w.scale('s1', 3);
  w.converge();
  t.equal(w.service('s1').UpdateStatus, undefined);
});

t.test('default FailureAction pause: the first failure of a new task within Monitor pauses the update', async (t) => {
  const w = cluster(3, { Monitor: 10 * SEC * NS });
  w.updateSpec('s1', image('bad:1'));
  w.step(); // slot 1: old stopped, new one waits
  w.schedule();
  w.runAgents(); // old copy stops
  w.step(); // new one started
  w.schedule();
  w.runAgents(); // new one runs
  w.step(); // seen running; slot 2 goes next (Delay 0)
  const u = w.liveInSlot('s1', 1)[0]!;
  t.equal(u.Spec.ContainerSpec?.Image, 'bad:1');
  t.same(imagesOf(w), ['bad:1', 'bad:1', 'busybox:1']);
  w.advance(2 * SEC);
  w.setStatus(u.ID, 'failed');
  const d = w.step();
  t.equal(d.stats.updatesPaused, 1);
  t.match(w.service('s1').UpdateStatus, { State: 'paused', Message: new RegExp(`update paused due to failure or early termination of task ${u.ID}`) });
  // The failed task itself is still restarted (with the current spec): pausing
  // stops the rollout, not the restart policy.
  t.equal(w.liveInSlot('s1', 1).length, 1);
  w.converge();
  w.advance(60 * SEC);
  w.converge();
  t.same(imagesOf(w), ['bad:1', 'bad:1', 'busybox:1'], 'paused: slot 3 is not replaced');
  t.equal(w.service('s1').UpdateStatus?.State, 'paused');
});

t.test('a failure after the Monitor window does not count', async (t) => {
  const w = cluster(2, { Monitor: 5 * SEC * NS, Parallelism: 1, Delay: 20 * SEC * NS });
  w.updateSpec('s1', image('busybox:2'));
  w.converge();
  const u = w.live('s1').find((x) => x.Spec.ContainerSpec?.Image === 'busybox:2')!;
  w.advance(6 * SEC);
  w.setStatus(u.ID, 'failed');
  w.step();
  t.equal(w.service('s1').UpdateStatus?.State, 'updating');
});

t.test('MaxFailureRatio tolerates failures up to the ratio', async (t) => {
  const w = cluster(4, { Parallelism: 0, Monitor: 60 * SEC * NS, MaxFailureRatio: 0.25 });
  w.updateSpec('s1', image('busybox:2'));
  w.converge();
  const us = w.live('s1');
  w.setStatus(us[0]!.ID, 'failed');
  w.step();
  t.equal(w.service('s1').UpdateStatus?.State, 'updating', '1/4 is not above 0.25');
  w.setStatus(us[1]!.ID, 'failed');
  w.step();
  t.equal(w.service('s1').UpdateStatus?.State, 'paused', '2/4 is');
});

t.test('FailureAction continue never stops', async (t) => {
  const w = cluster(2, { Parallelism: 1, Monitor: 60 * SEC * NS, FailureAction: 'continue' });
  w.updateSpec('s1', image('busybox:2'));
  w.converge();
  w.setStatus(w.live('s1').find((x) => x.Spec.ContainerSpec?.Image === 'busybox:2')!.ID, 'failed');
  w.converge();
  t.equal(w.service('s1').UpdateStatus?.State, 'updating');
  w.advance(60 * SEC);
  w.converge();
  t.equal(w.service('s1').UpdateStatus?.State, 'completed');
  t.same(imagesOf(w), ['busybox:2', 'busybox:2']);
});

t.test('FailureAction rollback: Spec goes back, PreviousSpec is cleared (SwarmKit), tasks go back with RollbackConfig, rollback_completed', async (t) => {
  const w = cluster(3, { Parallelism: 1, Monitor: 10 * SEC * NS, FailureAction: 'rollback' }, { Parallelism: 0, Monitor: 0 });
  const original = w.service('s1').Spec;
  w.updateSpec('s1', image('bad:1'));
  w.converge();
  const u = w.live('s1').find((x) => x.Spec.ContainerSpec?.Image === 'bad:1')!;
  w.setStatus(u.ID, 'failed');
  const d = w.step();
  t.equal(d.stats.rollbacksStarted, 1);
  const s = w.service('s1');
  t.equal(s.UpdateStatus?.State, 'rollback_started');
  t.match(s.UpdateStatus?.Message, /update rolled back due to failure or early termination/);
  t.same(s.Spec, original, 'Spec is the previous one');
  t.equal(s.PreviousSpec, undefined, 'PreviousSpec cleared: a second rollback cannot re-apply the failed spec');
  const r = w.step();
  t.equal(r.stats.created.rollback, 3, 'RollbackConfig parallelism 0: every slot at once');
  w.converge();
  t.same(imagesOf(w), ['busybox:1', 'busybox:1', 'busybox:1']);
  t.equal(w.service('s1').UpdateStatus?.State, 'rollback_completed');
  t.equal(w.service('s1').UpdateStatus?.Message, 'rollback completed');
});

t.test('a rollback is never rolled back: a failure during it pauses it', async (t) => {
  const w = cluster(2, { FailureAction: 'rollback', Monitor: 10 * SEC * NS }, { FailureAction: 'rollback', Monitor: 10 * SEC * NS });
  w.updateSpec('s1', image('bad:1'));
  w.converge();
  w.setStatus(w.live('s1').find((x) => x.Spec.ContainerSpec?.Image === 'bad:1')!.ID, 'failed');
  w.step();
  t.equal(w.service('s1').UpdateStatus?.State, 'rollback_started');
  w.converge();
  const rb = w.live('s1').find((x) => x.Orchestration?.Reason === 'rollback');
  t.ok(rb);
  w.setStatus(rb!.ID, 'failed');
  w.step();
  t.equal(w.service('s1').UpdateStatus?.State, 'rollback_paused');
});

t.test('FailureAction rollback without a PreviousSpec pauses and says why', async (t) => {
  const w = cluster(1, { FailureAction: 'rollback', Monitor: 10 * SEC * NS });
  w.setSpec('s1', image('bad:1')); // a spec change that left no PreviousSpec
  w.services = w.services.map((s) => ({ ...s, UpdateStatus: { State: 'updating', StartedAt: new Date(T0).toISOString() } }));
  w.converge();
  w.setStatus(w.live('s1')[0]!.ID, 'failed');
  w.step();
  t.match(w.service('s1').UpdateStatus, { State: 'paused', Message: /no previous spec/ });
});

t.test('a manual rollback (API sets rollback_started and swaps the specs) uses RollbackConfig', async (t) => {
  const w = cluster(3, { Monitor: 0 }, { Parallelism: 0, Monitor: 0 });
  w.updateSpec('s1', image('busybox:2'));
  w.converge();
  t.equal(w.service('s1').UpdateStatus?.State, 'completed');
  w.services = w.services.map((s) => ({
    ...s,
    Spec: s.PreviousSpec!,
    PreviousSpec: s.Spec,
    UpdateStatus: { State: 'rollback_started', StartedAt: new Date(w.now).toISOString(), Message: 'manually requested rollback' },
    Version: { Index: ++w.version },
  }));
  const d = w.step();
  t.equal(d.stats.created.rollback, 3);
  w.converge();
  t.same(imagesOf(w), ['busybox:1', 'busybox:1', 'busybox:1']);
  t.equal(w.service('s1').UpdateStatus?.State, 'rollback_completed');
});

t.test('a new spec during an update starts a new update (the API clears UpdateStatus)', async (t) => {
  const w = cluster(3, { Parallelism: 1, Monitor: 0 });
  w.updateSpec('s1', image('busybox:2'));
  w.step();
  w.advance(SEC);
  w.updateSpec('s1', image('busybox:3'));
  w.converge();
  t.same(imagesOf(w), ['busybox:3', 'busybox:3', 'busybox:3']);
  t.match(w.service('s1').UpdateStatus, { State: 'completed', StartedAt: new Date(T0 + SEC).toISOString() });
});

t.test('a paused update stays paused while restarts and scaling go on with the current spec', async (t) => {
  const w = cluster(2, { Monitor: 10 * SEC * NS });
  w.updateSpec('s1', image('busybox:2'));
  w.converge();
  w.setStatus(w.live('s1').find((x) => x.Spec.ContainerSpec?.Image === 'busybox:2')!.ID, 'failed');
  w.converge();
  t.equal(w.service('s1').UpdateStatus?.State, 'paused');
  w.scale('s1', 3);
  w.converge();
  t.equal(w.liveInSlot('s1', 3)[0]!.Spec.ContainerSpec?.Image, 'busybox:2', 'new slots get the current spec');
  t.equal(w.service('s1').UpdateStatus?.State, 'paused');
});

t.test('updateService actions carry the version they were decided on; a stale one is skipped by the store', async (t) => {
  const w = cluster(1, { Monitor: 0 });
  w.updateSpec('s1', image('busybox:2'));
  const d = w.decide();
  const a = d.actions.find((x) => x.type === 'updateService');
  t.equal(a?.type === 'updateService' && a.version, w.service('s1').Version.Index);
  w.updateSpec('s1', image('busybox:3')); // the user again, before the batch applies
  w.apply(d.actions);
  t.equal(w.service('s1').UpdateStatus, undefined, 'the stale status change did not land on the new spec');
  w.converge();
  t.same(imagesOf(w), ['busybox:3']);
});

t.test('global services update node by node', async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2'), mkNode('n3', { availability: 'pause' })], [mkService('g', { global: true, update: { Parallelism: 1, Monitor: 0 } })]);
  w.converge();
  w.availability('n3', 'active');
  w.converge();
  w.availability('n3', 'pause');
  w.updateSpec('g', image('busybox:2'));
  const d = w.step();
  t.equal(d.stats.created.update, 1);
  w.converge();
  t.equal(w.service('g').UpdateStatus?.State, 'completed', 'the paused node does not hold the update');
  const img = (n: string) => w.live('g').find((x) => x.NodeID === n)?.Spec.ContainerSpec?.Image;
  t.same([img('n1'), img('n2'), img('n3')], ['busybox:2', 'busybox:2', 'busybox:1']);
  w.availability('n3', 'active');
  w.converge();
  t.equal(img('n3'), 'busybox:2', 'replaced once the node is active again');
  t.equal(w.service('g').UpdateStatus?.State, 'completed');
  t.same(slotViolations(w.view()), []);
});

t.test('a leader change mid-update: a fresh reconcile continues from the store alone', async (t) => {
  const w = cluster(4, { Parallelism: 2, Delay: 5 * SEC * NS, Monitor: 0 });
  w.updateSpec('s1', image('busybox:2'));
  w.converge();
  // No in-memory state anywhere: a decision from the store only (the World has none either).
  const d = w.decide();
  t.equal(d.actions.length, 0, 'still in Delay: nothing to do');
  t.equal(d.wakeAt, T0 + 5 * SEC);
  w.advance(5 * SEC);
  w.converge();
  t.same(imagesOf(w), ['busybox:2', 'busybox:2', 'busybox:2', 'busybox:2']);
});

t.test('replacing a task no agent has seen yet still waits one round: the scheduler may place it before the batch commits', async (t) => {
  const w = new World([mkNode('n1')], [mkService('s1', { replicas: 1, update: { Monitor: 0 } })]);
  w.step(); // t0001 created, not placed yet
  const old = w.live('s1')[0]!;
  w.updateSpec('s1', image('busybox:2'));
  const d = w.decide();
  const created = d.actions.flatMap((a) => (a.type === 'createTask' ? [a.task] : []));
  t.equal(created[0]!.DesiredState, 'ready', 'not started in the same batch that stops the unplaced task');
  // The race: the scheduler places the old task and its agent starts it before the batch commits.
  w.assign(old.ID, 'n1');
  w.setStatus(old.ID, 'running');
  w.apply(d.actions);
  t.equal(w.step().actions.length, 0, 'the old copy runs: the new one keeps waiting');
  t.same(slotViolations(w.view()), []);
  w.setStatus(old.ID, 'shutdown');
  w.step();
  t.equal(w.task(created[0]!.ID).DesiredState, 'running');

  // Without the race, the next round starts it: an unplaced task stopped by a committed batch can never run.
  const w2 = new World([], [mkService('s1', { replicas: 1, update: { Monitor: 0 } })]);
  w2.step();
  w2.updateSpec('s1', image('busybox:2'));
  w2.step();
  const n = w2.live('s1')[0]!;
  t.equal(n.DesiredState, 'ready');
  w2.step();
  t.equal(w2.task(n.ID).DesiredState, 'running');
});

t.test('process tasks whose host ports no longer match the service’s ports are updated; other runtimes are not', async (t) => {
  for (const runtime of ['process', 'oci'] as const) {
    const w = new World([mkNode('n1'), mkNode('n2')], [mkService('s1', { replicas: 2, update: { Parallelism: 0, Monitor: 0 }, restart: { Delay: 0 } })]);
    w.updateSpec('s1', (s) => ({ ...s, TaskTemplate: { ...s.TaskTemplate, Runtime: runtime } }));
    w.converge();
    // What the store does: the service's Endpoint from its EndpointSpec, and a placed process task's host ports.
    const withPorts = (targets: number[]) => {
      w.services = w.services.map((s) => ({ ...s, Endpoint: { Spec: {}, Ports: targets.map((p) => ({ Protocol: 'tcp' as const, TargetPort: p, PublishMode: 'ingress' as const })) } }));
      for (const x of w.live('s1')) {
        if (runtime === 'process') w.patchTask(x.ID, (task) => ({ ...task, Status: { ...task.Status, PortStatus: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 20000, PublishMode: 'host' }] } } }));
      }
    };
    withPorts([80]);
    t.equal(w.step().actions.length, 0, `${runtime}: host ports match the service’s: nothing to do`);
    w.services = w.services.map((s) => ({ ...s, Endpoint: { Spec: {}, Ports: [80, 81].map((p) => ({ Protocol: 'tcp' as const, TargetPort: p, PublishMode: 'ingress' as const })) } }));
    const d = w.step();
    if (runtime === 'process') {
      t.equal(d.stats.created.update, 2, 'a port added: both process tasks are replaced (their new ones get SHOAL_PORT_81)');
    } else {
      t.equal(d.actions.length, 0, 'oci tasks take their ports from the network: untouched');
    }
  }
});
