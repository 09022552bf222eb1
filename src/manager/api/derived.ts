/**
 * Values the API computes from the store rather than stores: a service's
 * task counts (`?status=true`) and whether a task still matches its
 * service's current template (the CLI's `_up-to-date` task filter, which its
 * progress display polls).
 */
import type { Store } from '../store/store.js';
import type { Service, Task } from '../../model/index.js';
import { canonical, type ServiceStatus } from './shapes.js';

/** As SwarmKit's ListServiceStatuses: desired from the spec (or, global, from desired-running tasks), running = tasks in state running. */
export function serviceStatus(store: Store, s: Service): ServiceStatus {
  const m = s.Spec.Mode;
  let desired = 0;
  let running = 0;
  let completed = 0;
  for (const t of store.tasksOfService(s.ID)) {
    if (t.Status.State === 'running') running++;
    if (t.Status.State === 'complete') completed++;
    if (m.Global && t.DesiredState === 'running') desired++;
    if (m.GlobalJob && t.DesiredState === 'complete') desired++;
  }
  if (m.Replicated) desired = m.Replicated.Replicas ?? 1;
  if (m.ReplicatedJob) {
    const total = m.ReplicatedJob.TotalCompletions ?? 1;
    desired = Math.max(0, Math.min(m.ReplicatedJob.MaxConcurrent ?? 1, total - completed));
  }
  return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: completed };
}

/**
 * A task is up to date when its spec is the service's current template
 * (SwarmKit compares the same way: `!IsTaskDirty`). Comparing content rather
 * than versions keeps this independent of how the orchestrator numbers
 * spec versions, and scaling does not make existing tasks stale.
 */
export function isUpToDate(t: Task, s: Service | undefined, cache: Map<string, string>): boolean {
  if (!s) return false;
  let want = cache.get(s.ID);
  if (want === undefined) cache.set(s.ID, (want = canonical(s.Spec.TaskTemplate)));
  return canonical(t.Spec) === want;
}
