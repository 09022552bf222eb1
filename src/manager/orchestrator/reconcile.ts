/**
 * reconcile(): the whole decision, service by service, in a fixed order
 * (services, slots and nodes sorted by id) so two managers looking at the
 * same store decide the same thing, and a simulation replays exactly.
 */
import { assert } from '../../util/assert.js';
import type { Service, Task } from '../../model/index.js';
import { Ctx, ServiceCtx } from './context.js';
import { jobCounts } from '../../model/index.js';
import { OrchestratorError } from './errors.js';
import { reconcileGlobal } from './global.js';
import { reconcileGlobalJob, reconcileReplicatedJob } from './jobs.js';
import { historyLimit } from './history.js';
import type { Decision, OrchestratorView } from './interface.js';
import { NodeIndex } from './model.js';
import { resolveOptions } from './options.js';
import type { OrchestratorOptions } from './options.js';
import { Plan } from './plan.js';
import { reconcileRemoved } from './removed.js';
import { reconcileReplicated } from './replicated.js';

export type ServiceMode =
  | { kind: 'replicated'; replicas: number }
  | { kind: 'global' }
  | { kind: 'replicated-job'; maxConcurrent: number; total: number }
  | { kind: 'global-job' }
  | { kind: 'invalid'; why: string };

/** Which orchestrator a service belongs to. No mode at all is Docker's default, one replica. */
export function serviceMode(s: Service): ServiceMode {
  const m = s.Spec.Mode ?? {};
  const set = (['Replicated', 'Global', 'ReplicatedJob', 'GlobalJob'] as const).filter((k) => m[k] !== undefined);
  if (set.length > 1) return { kind: 'invalid', why: `several modes (${set.join(', ')})` };
  if (set.length === 0) return { kind: 'replicated', replicas: 1 };
  if (m.Global !== undefined) return { kind: 'global' };
  if (m.Replicated !== undefined) {
    const r = m.Replicated.Replicas ?? 1;
    if (!Number.isInteger(r) || r < 0) return { kind: 'invalid', why: `replica count ${JSON.stringify(r)}` };
    return { kind: 'replicated', replicas: r };
  }
  if (m.ReplicatedJob !== undefined) {
    const { maxConcurrent, total } = jobCounts(m.ReplicatedJob);
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 0 || !Number.isInteger(total) || total < 0) return { kind: 'invalid', why: `job counts ${JSON.stringify(m.ReplicatedJob)}` };
    return { kind: 'replicated-job', maxConcurrent, total };
  }
  return { kind: 'global-job' };
}

export function reconcile(view: OrchestratorView, now: number, ids: () => string, opts?: Partial<OrchestratorOptions>): Decision {
  if (typeof now !== 'number' || !Number.isFinite(now)) throw new OrchestratorError('BAD_REQUEST', `now must be a finite number, got ${now}`);
  const o = resolveOptions(opts);
  const plan = new Plan(now);
  const nodes = new NodeIndex(view.nodes);
  const ctx = new Ctx(now, o, plan, nodes, ids, view.tasks.map((t) => t.ID));
  const limit = historyLimit(view.cluster?.taskHistoryLimit, o.defaultTaskHistoryLimit);

  const byService = new Map<string, Task[]>();
  const taskIds = new Set<string>();
  for (const t of view.tasks) {
    assert(!taskIds.has(t.ID), () => `duplicate task id ${t.ID} in the view`);
    taskIds.add(t.ID);
    // Tasks without a service are not the orchestrator's (SwarmKit: network attachments).
    if (t.ServiceID === '') continue;
    const l = byService.get(t.ServiceID);
    if (l) l.push(t);
    else byService.set(t.ServiceID, [t]);
  }

  const services = [...view.services].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
  const serviceIds = new Set<string>();
  for (const s of services) {
    assert(!serviceIds.has(s.ID), () => `duplicate service id ${s.ID} in the view`);
    serviceIds.add(s.ID);
    const mode = serviceMode(s);
    const tasks = byService.get(s.ID) ?? [];
    switch (mode.kind) {
      case 'replicated':
        reconcileReplicated(new ServiceCtx(ctx, s, 'replicated'), mode.replicas, tasks, limit);
        break;
      case 'global':
        reconcileGlobal(new ServiceCtx(ctx, s, 'global'), tasks, limit);
        break;
      case 'replicated-job':
        reconcileReplicatedJob(new ServiceCtx(ctx, s, 'replicated-job'), mode.maxConcurrent, mode.total, tasks, limit);
        break;
      case 'global-job':
        reconcileGlobalJob(new ServiceCtx(ctx, s, 'global-job'), tasks, limit);
        break;
      case 'invalid':
        plan.problem(`service ${s.ID}: ${mode.why}; left as it is`);
        break;
    }
  }
  for (const [id, tasks] of [...byService].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!serviceIds.has(id)) reconcileRemoved(ctx, tasks);
  }
  return plan.finish(o.maxActions);
}
