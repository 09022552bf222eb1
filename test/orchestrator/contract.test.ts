/**
 * The contract: purity, determinism, idempotence on the resulting state, the
 * action cap, caller errors, apply semantics, options, metrics, constraints.
 */
import t from 'tap';
import { World, mkNode, mkService, deepFreeze, T0 } from './helpers.js';
import { reconcile } from '../../src/manager/orchestrator/reconcile.js';
import { applyActions } from '../../src/manager/orchestrator/apply.js';
import { resolveOptions, DEFAULT_OPTIONS } from '../../src/manager/orchestrator/options.js';
import { isOrchestratorError } from '../../src/manager/orchestrator/errors.js';
import { OrchestratorMetrics } from '../../src/manager/orchestrator/metrics.js';
import { nodeMatches, parseConstraints } from '../../src/manager/orchestrator/constraints.js';
import { canonical } from '../../src/manager/orchestrator/model.js';
import type { OrchestratorView } from '../../src/manager/orchestrator/interface.js';

t.test('the view is not mutated (deep-frozen input)', async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2')], [mkService('s1', { replicas: 3 }), mkService('g', { global: true })]);
  w.converge();
  w.setStatus(w.live('s1')[0]!.ID, 'failed');
  w.nodeState('n2', 'down');
  const v = deepFreeze({ ...w.view(), tasks: [...w.tasks], services: [...w.services], nodes: [...w.nodes] });
  const before = JSON.stringify(v);
  t.doesNotThrow(() => reconcile(v, w.now, w.ids));
  t.equal(JSON.stringify(v), before);
});

t.test('created tasks do not share objects with the view', async (t) => {
  const w = new World([mkNode('n1')], [mkService('s1', { replicas: 2 })]);
  const d = w.decide();
  const [a, b] = d.actions.flatMap((x) => (x.type === 'createTask' ? [x.task] : []));
  t.not(a!.Spec, b!.Spec);
  t.not(a!.Spec.ContainerSpec, w.service('s1').Spec.TaskTemplate.ContainerSpec);
});

t.test('idempotence: the state a decision produces needs no further action (steady workloads)', async (t) => {
  const w = new World([mkNode('n1'), mkNode('n2'), mkNode('n3')], [mkService('a', { replicas: 5 }), mkService('g', { global: true })]);
  w.converge();
  w.scale('a', 7);
  w.nodeState('n1', 'down');
  w.availability('n2', 'drain');
  w.step();
  const again = w.step();
  t.same(again.actions, [], 'applying the decision and reconciling again at the same instant: nothing');
});

t.test('maxActions: a large scale-up comes in self-consistent batches with wakeAt = now', async (t) => {
  const w = new World([mkNode('n1')], [mkService('s1', { replicas: 25 })]);
  w.opts = { maxActions: 10 };
  const d = w.step();
  t.equal(d.actions.length, 10);
  t.equal(d.wakeAt, T0, 'call again now');
  t.equal(d.stats.truncated, 1);
  t.equal(d.stats.created.create, 10, 'stats count only what is emitted');
  w.step();
  const last = w.step();
  t.equal(last.actions.length, 5);
  t.equal(last.wakeAt, null);
  t.same(
    w.of('s1').map((x) => x.Slot).sort((a, b) => a - b),
    Array.from({ length: 25 }, (_, i) => i + 1),
    'every slot exactly once',
  );
});

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isOrchestratorError(e) ? e.code : `not an OrchestratorError: ${String(e)}`;
  }
  return undefined;
}

t.test('caller errors throw OrchestratorError', async (t) => {
  const w = new World([mkNode('n1')], [mkService('s1', { replicas: 2 })]);
  t.equal(code(() => reconcile(w.view(), NaN, w.ids)), 'BAD_REQUEST');
  t.equal(code(() => reconcile(w.view(), T0, () => 'same')), 'BAD_REQUEST', 'duplicate ids');
  t.equal(code(() => reconcile(w.view(), T0, () => '')), 'BAD_REQUEST', 'empty id');
  t.equal(code(() => reconcile(w.view(), T0, w.ids, { maxActions: 0 })), 'INVALID_OPTIONS');
  t.equal(code(() => resolveOptions({ defaultRestartDelayMs: -1 })), 'INVALID_OPTIONS');
  t.equal(code(() => resolveOptions({ defaultTaskHistoryLimit: 1.5 })), 'INVALID_OPTIONS');
});

t.test('defaults are Docker\'s', async (t) => {
  t.equal(DEFAULT_OPTIONS.defaultRestartDelayMs, 5000);
  t.equal(DEFAULT_OPTIONS.defaultTaskHistoryLimit, 5);
  t.same(DEFAULT_OPTIONS.updateDefaults, { Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' });
});

t.test('applyActions: forward-only desired state and status, patches merge, stale service updates skipped', async (t) => {
  const w = new World([mkNode('n1')], [mkService('s1', { replicas: 1 })]);
  w.converge();
  const task = w.live('s1')[0]!;
  const v: OrchestratorView = w.view();
  const r = applyActions(
    v,
    [
      { type: 'updateTask', id: task.ID, version: 0, desiredState: 'ready' },
      { type: 'updateTask', id: task.ID, version: 0, status: { State: 'pending' } },
      { type: 'updateTask', id: task.ID, version: 0, orchestration: { ExitedMs: 5 } },
      { type: 'updateTask', id: 'nope', version: 0, desiredState: 'shutdown' },
      { type: 'updateService', id: 's1', version: 999, updateStatus: { State: 'paused' } },
      { type: 'deleteTask', id: 'nope', version: 0 },
    ],
    100,
    T0,
  );
  const after = r.view.tasks.find((x) => x.ID === task.ID)!;
  t.equal(after.DesiredState, 'running', 'desired state never moves back');
  t.equal(after.Status.State, 'running', 'status never moves back');
  t.equal(after.Orchestration?.ExitedMs, 5);
  t.equal(after.Orchestration?.Reason, 'create', 'merged, not replaced');
  t.equal(after.Version.Index, 100);
  t.same(
    r.skipped.map((s) => s.why),
    ['no such task', 'service changed (version ' + w.service('s1').Version.Index + ', decided on 999)', 'no such task'],
  );
  t.equal(task.DesiredState, 'running', 'the input view is untouched');
});

t.test('metrics add up committed decisions', async (t) => {
  const w = new World([mkNode('n1')], [mkService('s1', { replicas: 3 })]);
  const m = new OrchestratorMetrics();
  const d = w.step();
  m.add(d.stats, d.actions.length);
  w.scale('s1', 1);
  const d2 = w.step();
  m.add(d2.stats, d2.actions.length);
  t.equal(m.decisions, 2);
  t.equal(m.actions, 5);
  t.equal(m.totals.created.create, 3);
  t.equal(m.totals.shutdown, 2);
});

t.test('constraint parser', async (t) => {
  t.match(parseConstraints(['node.role == manager', 'node.labels.Zone!=a']), {
    ok: true,
    constraints: [
      { key: 'node.role', op: '==', value: 'manager' },
      { key: 'node.labels.Zone', op: '!=', value: 'a' },
    ],
  });
  for (const bad of ['node.role=manager', 'node.labels.==a', 'whatever==1', 'node.role==', '==x']) {
    t.equal(parseConstraints([bad]).ok, false, bad);
  }
  t.same(parseConstraints(undefined), { ok: true, constraints: [] });
  const n = mkNode('n1', { labels: { Zone: 'A' } });
  const c = parseConstraints(['node.labels.Zone==a']);
  t.ok(c.ok && nodeMatches(c.constraints, n), 'label values case-insensitive');
  const c2 = parseConstraints(['node.labels.zone==a']);
  t.ok(c2.ok && !nodeMatches(c2.constraints, n), 'label names are not');
});

t.test('spec comparison ignores key order and undefined members', async (t) => {
  t.equal(canonical({ b: 1, a: { y: [1, { z: 2 }], x: undefined } }), canonical({ a: { y: [1, { z: 2 }] }, b: 1 }));
  t.not(canonical({ a: [1, 2] }), canonical({ a: [2, 1] }));
  const w = new World([mkNode('n1')], [mkService('s1', { replicas: 1 })]);
  w.converge();
  // The same template after a msgpack/JSON round trip (key order changed, undefined dropped): not an update.
  w.setSpec('s1', (s) => ({ ...s, TaskTemplate: JSON.parse(JSON.stringify({ Placement: undefined, ...s.TaskTemplate })) }));
  t.equal(w.step().actions.length, 0);
});
