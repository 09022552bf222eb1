/**
 * Replicated services: slots 1..N, scale up fills the lowest missing slots,
 * scale down stops the highest, one live copy per slot.
 */
import t from 'tap';
import { World, mkNode, mkService, slotViolations, T0 } from './helpers.js';

const nodes = () => [mkNode('n1'), mkNode('n2'), mkNode('n3')];

t.test('a new service gets one task per slot, unassigned, desired running', async (t) => {
  const w = new World(nodes(), [mkService('s1', { replicas: 3 })]);
  const d = w.step();
  t.equal(d.actions.length, 3);
  t.same(
    w.of('s1').map((x) => [x.Slot, x.NodeID, x.DesiredState, x.Status.State, x.Orchestration?.Reason]),
    [
      [1, '', 'running', 'new', 'create'],
      [2, '', 'running', 'new', 'create'],
      [3, '', 'running', 'new', 'create'],
    ],
  );
  const task = w.of('s1')[0]!;
  t.same(task.Spec, w.service('s1').Spec.TaskTemplate, 'task carries a copy of the template');
  t.not(task.Spec, w.service('s1').Spec.TaskTemplate, 'a copy, not the same object');
  t.equal(task.Orchestration?.CreatedMs, T0);
  t.equal(task.SpecVersion?.Index, 1);
  t.equal(d.wakeAt, null, 'nothing timed is pending');
  t.equal(d.stats.created.create, 3);
  t.equal(w.step().actions.length, 0, 'reconciling the result changes nothing');
});

t.test('the same view and ids give the same decision', async (t) => {
  const mk = () => new World(nodes(), [mkService('s1', { replicas: 4 }), mkService('s2', { global: true })]);
  t.same(mk().decide(), mk().decide());
});

t.test('scale up fills the missing slots; scale down stops the highest ones', async (t) => {
  const w = new World(nodes(), [mkService('s1', { replicas: 2 })]);
  w.converge();
  w.scale('s1', 5);
  const up = w.step();
  t.same(
    up.actions.map((a) => a.type === 'createTask' && a.task.Slot),
    [3, 4, 5],
  );
  w.converge();
  t.equal(w.live('s1').length, 5);
  w.scale('s1', 2);
  const down = w.step();
  t.same(
    down.actions.map((a) => (a.type === 'updateTask' ? [w.task(a.id).Slot, a.desiredState] : a.type)),
    [
      [3, 'shutdown'],
      [4, 'shutdown'],
      [5, 'shutdown'],
    ],
  );
  w.converge();
  t.same(
    w.live('s1').map((x) => x.Slot),
    [1, 2],
  );
  t.same(
    w.of('s1').filter((x) => x.Slot > 2).map((x) => x.Status.State),
    ['shutdown', 'shutdown', 'shutdown'],
    'stopped copies stay as history',
  );
  w.scale('s1', 0);
  w.converge();
  t.equal(w.live('s1').length, 0, 'scale to zero');
  w.scale('s1', 3);
  w.converge();
  t.same(
    w.live('s1').map((x) => [x.Slot, x.Status.State]),
    [
      [1, 'running'],
      [2, 'running'],
      [3, 'running'],
    ],
    'scaling up again refills slots whose tasks were stopped by a scale-down',
  );
});

t.test('a slot beyond the replica count is never restarted', async (t) => {
  const w = new World(nodes(), [mkService('s1', { replicas: 3 })]);
  w.converge();
  const t3 = w.liveInSlot('s1', 3)[0]!;
  w.scale('s1', 2);
  w.setStatus(t3.ID, 'failed'); // exits before the scale-down is processed
  w.step();
  t.equal(w.task(t3.ID).DesiredState, 'shutdown');
  t.equal(w.slot('s1', 3).length, 1, 'no replacement in slot 3');
});

t.test('two running copies in one slot (a duplicate batch) heal to one, keeping the running copy', async (t) => {
  const w = new World(nodes(), [mkService('s1', { replicas: 1 })]);
  w.converge();
  const first = w.live('s1')[0]!;
  // Someone applied a creation twice.
  w.tasks.push({ ...first, ID: 'dup', Status: { ...first.Status, State: 'pending' }, NodeID: '', Orchestration: { Reason: 'create', CreatedMs: T0 + 1 } });
  t.equal(slotViolations(w.view()).length, 1, 'the checker sees the duplicate');
  const d = w.step();
  t.same(d.actions, [{ type: 'updateTask', id: 'dup', version: first.Version.Index, desiredState: 'shutdown' }]);
  t.same(slotViolations(w.view()), []);
});

t.test('unassigned tasks stopped by a scale-down count as terminal history', async (t) => {
  const w = new World([], [mkService('s1', { replicas: 3 })]); // no nodes: nothing gets assigned
  w.step();
  w.scale('s1', 1);
  w.step();
  t.same(
    w.of('s1').map((x) => [x.Slot, x.DesiredState, x.Status.State]),
    [
      [1, 'running', 'new'],
      [2, 'shutdown', 'new'],
      [3, 'shutdown', 'new'],
    ],
  );
  t.equal(w.step().actions.length, 0);
  w.historyLimit = 0;
  const d = w.step();
  t.same(
    d.actions.map((a) => a.type),
    ['deleteTask', 'deleteTask'],
    'never-assigned stopped tasks are prunable (no agent will ever report on them)',
  );
});

t.test('no mode means one replica (Docker default); a bad replica count is reported, not acted on', async (t) => {
  const s = mkService('s1');
  const w = new World(nodes(), [{ ...s, Spec: { ...s.Spec, Mode: {} } }, (() => {
    const b = mkService('bad', { replicas: 2 });
    return { ...b, Spec: { ...b.Spec, Mode: { Replicated: { Replicas: -1 } } } };
  })()]);
  const d = w.step();
  t.equal(w.of('s1').length, 1);
  t.equal(w.of('bad').length, 0);
  t.match(d.stats.problems, [/bad: replica count -1/]);
});

