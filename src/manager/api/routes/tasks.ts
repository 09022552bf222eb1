/**
 * Tasks: list (filters) and inspect. Tasks are written by the orchestrator,
 * scheduler and dispatcher; the API only reads them.
 */
import type { Service, TaskState } from '../../../model/index.js';
import { TASK_STATES } from '../../../model/index.js';
import { isUpToDate } from '../derived.js';
import { parseFilters } from '../filters.js';
import type { Deps } from '../options.js';
import { resolve } from '../resolve.js';
import type { Router } from '../router.js';
import { taskName, taskShape } from '../shapes.js';
import { readStore } from '../state.js';
import { fail } from '../validate/check.js';

// `_up-to-date` is what the CLI's progress display asks for (tasks made from the current spec).
const TASK_FILTERS = ['id', 'name', 'service', 'node', 'desired-state', 'label', '_up-to-date'] as const;

export function taskRoutes(r: Router, d: Deps): void {
  const { ctx } = d;

  r.add('GET', '/tasks', async (req) => {
    const f = parseFilters(req.query.get('filters'), TASK_FILTERS);
    for (const s of f.get('desired-state')) {
      if (!(TASK_STATES as readonly string[]).includes(s)) fail('filters', `invalid desired-state filter value ${JSON.stringify(s)} (e.g. running, shutdown, accepted)`);
    }
    const store = await readStore(ctx);
    // dockerd resolves service and node filters by name, ID or prefix, and refuses unknown ones (404).
    const serviceIds = f.has('service') ? new Set(f.get('service').map((ref) => resolve(store, 'service', ref).ID)) : null;
    const nodeIds = f.has('node') ? new Set(f.get('node').map((ref) => resolve(store, 'node', ref).ID)) : null;
    const upToDate = f.has('_up-to-date');
    const desired = f.get('desired-state') as TaskState[];
    const services = new Map<string, Service | undefined>();
    const serviceOf = (id: string): Service | undefined => {
      if (!services.has(id)) services.set(id, store.get('service', id));
      return services.get(id);
    };
    const specCache = new Map<string, string>();
    const candidates = serviceIds ? [...serviceIds].flatMap((id) => store.tasksOfService(id)) : store.list('task');
    const tasks = candidates
      .filter((t) => {
        const svc = serviceOf(t.ServiceID);
        return (
          (!nodeIds || nodeIds.has(t.NodeID)) &&
          f.prefix('id', t.ID) &&
          f.prefix('name', taskName(t, svc?.Spec.Name)) &&
          (desired.length === 0 || desired.includes(t.DesiredState)) &&
          // SwarmKit matches a task's label filter against its service's labels (the task's ServiceAnnotations): `docker stack ps` asks for the stack's.
          f.labels('label', { ...svc?.Spec.Labels, ...t.Labels }) &&
          (!upToDate || isUpToDate(t, svc, specCache))
        );
      })
      .map((t) => taskShape(t, serviceOf(t.ServiceID)?.Spec.Name));
    return { body: tasks };
  });

  r.add('GET', '/tasks/:id', async (req) => {
    const store = await readStore(ctx);
    const t = resolve(store, 'task', req.params.id!);
    return { body: taskShape(t, store.get('service', t.ServiceID)?.Spec.Name) };
  });
}
