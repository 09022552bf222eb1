/**
 * Large clusters: a steady 10,000-task cluster decides nothing and does it
 * fast; a 0 → 5,000 scale-up comes in capped batches. Timings are printed
 * (the bound is loose: the machine is shared).
 */
import t from 'tap';
import { reconcile } from '../../src/manager/orchestrator/reconcile.js';
import { applyActions } from '../../src/manager/orchestrator/apply.js';
import type { OrchestratorView } from '../../src/manager/orchestrator/interface.js';
import type { Task } from '../../src/model/index.js';
import { mkNode, mkService, T0 } from './helpers.js';

function steadyCluster(services: number, replicas: number, nodes: number): OrchestratorView {
  const ns = Array.from({ length: nodes }, (_, i) => mkNode(`n${i}`));
  const ss = Array.from({ length: services }, (_, i) => mkService(`s${i}`, { replicas }));
  const tasks: Task[] = [];
  let k = 0;
  for (const s of ss) {
    for (let slot = 1; slot <= replicas; slot++) {
      const at = new Date(T0).toISOString();
      tasks.push({
        ID: `t${k++}`,
        Version: { Index: 5 },
        CreatedAt: at,
        UpdatedAt: at,
        // Each task has its own copy, as after a store round trip.
        Spec: structuredClone(s.Spec.TaskTemplate),
        ServiceID: s.ID,
        Slot: slot,
        NodeID: ns[k % nodes]!.ID,
        Status: { State: 'running', Timestamp: at, Message: 'running' },
        DesiredState: 'running',
        Orchestration: { Reason: 'create', CreatedMs: T0 },
      });
    }
  }
  return { services: ss, tasks, nodes: ns };
}

t.test('10,000 running tasks in steady state: no actions, fast', async (t) => {
  const v = steadyCluster(100, 100, 50);
  let ids = 0;
  const next = () => `x${ids++}`;
  reconcile(v, T0, next); // warm up
  const started = performance.now();
  const d = reconcile(v, T0, next);
  const ms = performance.now() - started;
  t.equal(d.actions.length, 0);
  t.comment(`reconcile over 10,000 tasks / 100 services / 50 nodes: ${ms.toFixed(1)} ms`);
  t.ok(ms < 2000, `under 2 s (${ms.toFixed(0)} ms)`);
  // A node dies: 200 tasks move at once.
  const down = { ...v, nodes: v.nodes.map((n) => (n.ID === 'n7' ? { ...n, Status: { ...n.Status, State: 'down' as const } } : n)) };
  const s2 = performance.now();
  const d2 = reconcile(down, T0, next);
  t.comment(`node death with 10,000 tasks: ${d2.stats.nodeDownReschedules} rescheduled in ${(performance.now() - s2).toFixed(1)} ms`);
  t.equal(d2.stats.created.reschedule, 200);
});

t.test('scale 0 → 5,000: batches of at most maxActions, every slot once', async (t) => {
  let v: OrchestratorView = { services: [mkService('big', { replicas: 5000 })], tasks: [], nodes: [mkNode('n1')] };
  let ids = 0;
  const started = performance.now();
  let batches = 0;
  for (;;) {
    const d = reconcile(v, T0, () => `x${ids++}`, { maxActions: 2000 });
    if (d.actions.length === 0) break;
    t.ok(d.actions.length <= 2000);
    batches++;
    v = applyActions(v, d.actions, batches, T0).view;
  }
  t.equal(batches, 3);
  t.equal(new Set(v.tasks.map((x) => x.Slot)).size, 5000);
  t.comment(`0 → 5,000 in ${batches} batches, ${(performance.now() - started).toFixed(0)} ms`);
});
